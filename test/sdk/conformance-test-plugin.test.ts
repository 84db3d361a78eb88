// The conformance suite run against the spec-only test plugin, proving the suite itself runs.
import { describeConformance } from '../../sdk/conformance.js';
import { makeTestPlugin } from '../helpers/test-plugin.js';

describeConformance({
  plugin: makeTestPlugin(),
  manifest:
    '[provider]\nname = "conf"\ndescription = "conformance"\nhandler = "test"\nsecret_key = "tok"\n\n[[tools]]\nname = "conf_echo"\ndescription = "echo"\n',
  keyring: { tok: 'conformance-secret-value-123' },
  call: { tool: 'conf_echo', args: { a: 1 } },
});
