// The plugin conformance suite (ati-proxy/plugin-conformance) run against the
// example third-party plugin, exactly as its author would: a real GraphQL
// upstream started first, the manifest pointing at it given as a function.
import { afterAll, beforeAll } from 'vitest';
import { describeConformance } from '../../sdk/conformance.js';
import graphqlPlugin from '../../examples/plugins/graphql/index.js';
import { startGraphqlUpstream, type GraphqlUpstream } from '../helpers/graphql-upstream.js';

const TOKEN = 'conformance-gql-token-5b1e';
let upstream: GraphqlUpstream;
beforeAll(async () => {
  upstream = await startGraphqlUpstream({ token: TOKEN });
});
afterAll(async () => upstream.close());

describeConformance({
  plugin: graphqlPlugin,
  manifest: () => `
[provider]
name = "gqlconf"
description = "GraphQL conformance"
handler = "graphql"
endpoint = "${upstream.url}"
auth_type = "bearer"
auth_key_name = "gql_token"

[[tools]]
name = "gqlconf_user"
description = "a user"
query = "query User($login: String!) { user(login: $login) { login name } }"

[[tools]]
name = "gqlconf_broken"
description = "a field the server does not have"
query = "{ nosuchfield }"

[[tools]]
name = "gqlconf_slow"
description = "slow"
query = "query Slow($ms: Int!) { slow(ms: $ms) }"
`,
  keyring: { gql_token: TOKEN },
  call: { tool: 'gqlconf_user', args: { login: 'ada' } },
  failingCall: { tool: 'gqlconf_broken', args: {} },
  slowCall: { tool: 'gqlconf_slow', args: { ms: 10_000 } },
});
