// @ts-check
/**
 * `ati-plugin-graphql`: a third-party ATI handler plugin for GraphQL APIs.
 *
 *   [provider]
 *   name = "github"
 *   description = "GitHub GraphQL API"
 *   handler = "graphql"
 *   endpoint = "https://api.github.com/graphql"
 *   auth_type = "bearer"
 *   auth_key_name = "github_token"
 *
 *   [[tools]]
 *   name = "github_viewer"
 *   description = "The authenticated user"
 *   query = "query { viewer { login name } }"
 *
 * Each `[[tools]]` entry is one GraphQL operation; the call's arguments become
 * the operation's variables. See README.md for every field.
 *
 * The plugin imports nothing from ati-proxy at run time: the contract is plain
 * data (a default export with `apiVersion`, `name`, `providerSchema`,
 * `provision` …), the types come from `ati-proxy/plugin` through JSDoc, and
 * errors carry an `ATI_ERR_*` code the host maps to a status. So the folder
 * works wherever it is installed, whether or not ati-proxy is resolvable from
 * it.
 */
import { GraphqlSyntaxError, isRequired, jsonSchemaOfType, parseOperations, selectOperation } from './lib/document.js';
import { badArgs, GraphqlPluginError, upstreamError } from './lib/errors.js';
import { GraphqlTransport } from './lib/transport.js';

/**
 * The handler's own fields as the schemas below declare them. JSON Schema is not
 * inferred (TypeBox schemas are, with `definePlugin`): stating the types once here
 * types every read of `m.provider.endpoint`, `t.query` … in validate and provision.
 * @typedef {object} GraphqlProviderFields
 * @property {string} endpoint
 * @property {number} [timeout_seconds]
 * @property {number} [max_response_bytes]
 * @typedef {object} GraphqlToolFields
 * @property {string} query
 * @property {string} [operation_name]
 * @property {Record<string, string>} [variables]
 *
 * @typedef {import('ati-proxy/plugin').PluginDefinition<GraphqlProviderFields, GraphqlToolFields>} PluginDefinition
 * @typedef {import('ati-proxy/plugin').ProviderManifest<GraphqlProviderFields, GraphqlToolFields>} ProviderManifest
 * @typedef {ProviderManifest['tools'][number]} ToolManifest  A `[[tools]]` entry, its graphql fields typed.
 * @typedef {import('ati-proxy/plugin').ToolDefinition} ToolDefinition
 * @typedef {import('ati-proxy/plugin').PluginIssue} PluginIssue
 * @typedef {import('ati-proxy/plugin').ProvisionContext} ProvisionContext
 * @typedef {import('ati-proxy/plugin').CallContext} CallContext
 * @typedef {import('ati-proxy/plugin').ToolResult} ToolResult
 * @typedef {import('./lib/document.js').OperationDefinition} OperationDefinition
 *
 * @typedef {object} ToolPlan  What `provision` compiles per tool (ToolDefinition.data).
 * @property {string} query
 * @property {string | undefined} operationName
 * @property {Array<{ variable: string, arg: string, required: boolean }>} bindings
 */

/** Keep in step with package.json (a test checks it). Part of the host's reuse key. */
export const VERSION = '1.0.0';
/** The plugin API major version this plugin is written for (ati-proxy's PLUGIN_API_VERSION). */
const API_VERSION = 1;

const DEFAULT_TIMEOUT_SECONDS = 30;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const SUPPORTED_AUTH = ['none', 'bearer', 'header'];

/**
 * @param {string} raw
 * @returns {{ url: URL } | { problem: string }}
 */
function parseEndpoint(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return { problem: `"${raw}" is not a URL (expected e.g. https://api.example.com/graphql)` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `must be an http:// or https:// URL (found ${url.protocol})` };
  // Userinfo would travel in the clear in logs and error messages: credentials belong in the keyring.
  if (url.username || url.password) return { problem: 'must not contain credentials (user:password@); use auth_type and a keyring entry' };
  return { url };
}

/**
 * The tool's operation, or the problem with its document.
 * @param {ToolManifest} t
 * @returns {{ op: OperationDefinition } | { problem: string, field: 'query' | 'operation_name' }}
 */
function operationOf(t) {
  let ops;
  try {
    ops = parseOperations(t.query);
  } catch (err) {
    if (err instanceof GraphqlSyntaxError) return { problem: err.message, field: 'query' };
    throw err;
  }
  const operationName = t.operation_name;
  const picked = selectOperation(ops, operationName);
  if ('problem' in picked) return { problem: picked.problem, field: operationName === undefined ? 'query' : 'operation_name' };
  if (picked.op.type === 'subscription') return { problem: 'subscriptions are not supported (a tool call has one answer); use a query or a mutation', field: 'query' };
  return picked;
}

/**
 * Which argument feeds which variable: `variables = { login = "user" }` renames;
 * without it every variable takes the argument of the same name.
 * @param {ToolManifest} t
 * @param {OperationDefinition} op
 */
function bindingsOf(t, op) {
  const renames = t.variables;
  return op.variables.map((v) => ({ variable: v.name, arg: renames?.[v.name] ?? v.name, required: isRequired(v) }));
}

/**
 * `input_schema` derived from the operation's variable definitions, unless the manifest gives one.
 * @param {ToolManifest} t
 * @param {OperationDefinition} op
 */
function inputSchemaOf(t, op) {
  if (t.input_schema) return t.input_schema;
  const bindings = bindingsOf(t, op);
  /** @type {Record<string, unknown>} */
  const properties = {};
  for (const v of op.variables) {
    const arg = bindings.find((b) => b.variable === v.name)?.arg ?? v.name;
    const dflt = v.defaultText === undefined ? '' : ` (default ${v.defaultText})`;
    properties[arg] = { ...jsonSchemaOfType(v.type), description: `GraphQL variable $${v.name}: ${v.typeText}${dflt}` };
  }
  return { type: 'object', properties, required: bindings.filter((b) => b.required).map((b) => b.arg), additionalProperties: false };
}

/**
 * The variables object of one call.
 * @param {ToolPlan} plan
 * @param {unknown} args
 */
function variablesFor(plan, args) {
  if (args === undefined || args === null) args = {};
  if (typeof args !== 'object' || Array.isArray(args)) throw badArgs('arguments must be a JSON object (one entry per GraphQL variable)');
  const given = /** @type {Record<string, unknown>} */ (args);
  const known = new Set(plan.bindings.map((b) => b.arg));
  const unknown = Object.keys(given).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    const expected = known.size > 0 ? `expected: ${[...known].join(', ')}` : 'this tool takes no arguments';
    throw badArgs(`unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (${expected})`);
  }
  /** @type {Record<string, unknown>} */
  const variables = {};
  const missing = [];
  for (const b of plan.bindings) {
    if (given[b.arg] !== undefined) variables[b.variable] = given[b.arg];
    else if (b.required) missing.push(b.arg);
  }
  if (missing.length > 0) throw badArgs(`missing required argument${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}`);
  return variables;
}

/**
 * Turns the HTTP answer into the tool result (`data`) or an error carrying a code.
 * GraphQL over HTTP: a `{"errors": [...]}` body can come with 200 or with 4xx/5xx.
 * @param {{ status: number, text: string }} res
 * @param {(s: string) => string} scrub
 * @returns {ToolResult}
 */
function resultOf(res, scrub) {
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    body = undefined;
  }
  const doc = typeof body === 'object' && body !== null && !Array.isArray(body) ? /** @type {Record<string, unknown>} */ (body) : undefined;
  const errors = Array.isArray(doc?.['errors']) ? /** @type {unknown[]} */ (doc['errors']) : [];
  if (errors.length > 0) {
    const summary = errors.map((e) => {
      const err = /** @type {{ message?: unknown, path?: unknown, extensions?: { code?: unknown } }} */ (e ?? {});
      return {
        message: scrub(String(err.message ?? 'unknown error')),
        ...(Array.isArray(err.path) ? { path: err.path.join('.') } : {}),
        ...(typeof err.extensions?.code === 'string' ? { code: err.extensions.code } : {}),
      };
    });
    const text = summary.map((e) => `${e.message}${e.code ? ` [${e.code}]` : ''}${e.path ? ` (at ${e.path})` : ''}`).join('; ');
    throw upstreamError(`GraphQL error: ${text.slice(0, 500)}`, { upstream_status: res.status, graphql_errors: summary });
  }
  if (res.status < 200 || res.status > 299) {
    throw upstreamError(`HTTP ${res.status}: ${scrub(res.text).slice(0, 200)}`, { upstream_status: res.status });
  }
  if (!doc || !('data' in doc)) throw upstreamError('the answer is not a GraphQL response (no "data" member)', { upstream_status: res.status });
  return { value: doc['data'], upstreamStatus: res.status };
}

/** @type {PluginDefinition} */
const graphqlPlugin = {
  apiVersion: API_VERSION,
  name: 'graphql',
  version: VERSION,
  // Plain JSON Schema: the host converts it at registration (no TypeBox needed).
  providerSchema: {
    endpoint: { type: 'string', required: true, description: 'The GraphQL endpoint URL (http or https), e.g. https://api.github.com/graphql.' },
    timeout_seconds: { type: 'integer', minimum: 1, maximum: 3600, default: DEFAULT_TIMEOUT_SECONDS, description: 'Deadline of one call, in seconds.' },
    max_response_bytes: { type: 'integer', minimum: 1, default: DEFAULT_MAX_RESPONSE_BYTES, description: 'Largest accepted response body.' },
  },
  toolSchema: {
    query: { type: 'string', required: true, description: 'The GraphQL document (one query or mutation, or several with operation_name).' },
    operation_name: { type: 'string', description: 'Which operation of the document to run.' },
    variables: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'GraphQL variable → argument name, when they differ (default: same name).',
    },
  },
  ignoredCommonFields: ['base_url', 'auth_query_name', 'auth_secret_name', 'oauth2_token_url', 'oauth2_basic_auth'],
  requiresTools: true,

  validate(m) {
    /** @type {PluginIssue[]} */
    const issues = [];
    const endpoint = parseEndpoint(m.provider.endpoint);
    if ('problem' in endpoint) issues.push({ field: 'provider.endpoint', message: endpoint.problem });
    const p = m.provider;
    if (!SUPPORTED_AUTH.includes(p.auth_type)) {
      issues.push({ field: 'provider.auth_type', message: `the graphql handler supports auth_type ${SUPPORTED_AUTH.map((a) => `"${a}"`).join(', ')} (found "${p.auth_type}")` });
    } else if (p.auth_type !== 'none' && !p.auth_key_name) {
      issues.push({ field: 'provider.auth_key_name', message: `auth_type "${p.auth_type}" needs auth_key_name (the keyring entry holding the credential)` });
    }
    if (p.auth_type === 'header' && !p.auth_header_name) {
      issues.push({ field: 'provider.auth_header_name', message: 'auth_type "header" needs auth_header_name (e.g. "X-API-Key")' });
    }
    if (p.auth_generator) issues.push({ field: 'provider.auth_generator', message: 'not supported by the graphql handler; store the credential in the keyring' });
    if (m.tools.length === 0) issues.push({ field: 'tools', message: 'the graphql handler needs at least one [[tools]] entry (one GraphQL operation each)' });
    m.tools.forEach((t, i) => {
      const picked = operationOf(t);
      if ('problem' in picked) {
        issues.push({ field: `tools[${i}].${picked.field}`, message: picked.problem });
        return;
      }
      const declared = new Set(picked.op.variables.map((v) => v.name));
      for (const variable of Object.keys(t.variables ?? {})) {
        if (!declared.has(variable)) {
          issues.push({ field: `tools[${i}].variables.${variable}`, message: `the operation declares no variable $${variable} (it has: ${[...declared].map((d) => `$${d}`).join(', ') || 'none'})` });
        }
      }
    });
    return issues;
  },

  async provision(m, ctx) {
    const p = m.provider;
    const endpoint = parseEndpoint(p.endpoint);
    if ('problem' in endpoint) throw new GraphqlPluginError('ATI_ERR_CONFIG', `provider.endpoint ${endpoint.problem}`);

    // Read the credential now: a missing entry fails this provider at reload time (the
    // serving generation stays), and the value read becomes part of the reuse key, so a
    // rotated token re-provisions the provider while an unrelated keyring change does not.
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json;q=0.9', ...p.extra_headers };
    /** @type {string | undefined} */
    let secret;
    if (p.auth_type !== 'none' && p.auth_key_name) {
      secret = ctx.keyring.require(p.auth_key_name, `provider "${p.name}" (handler graphql)`);
      const value = `${p.auth_value_prefix ?? ''}${secret}`;
      if (p.auth_type === 'bearer') headers['authorization'] = `Bearer ${value}`;
      else headers[/** @type {string} */ (p.auth_header_name).toLowerCase()] = value;
    }
    /** @param {string} text */
    const scrub = (text) => (secret ? text.split(secret).join('[REDACTED]') : text);

    const tools = m.tools.map((t) => {
      const picked = operationOf(t);
      // validate() ran before provision, so the document parses.
      if ('problem' in picked) throw new GraphqlPluginError('ATI_ERR_CONFIG', `tool "${t.name}": ${picked.problem}`);
      /** @type {ToolPlan} */
      const plan = { query: t.query, operationName: t.operation_name, bindings: bindingsOf(t, picked.op) };
      /** @type {ToolDefinition} */
      const def = {
        name: t.name,
        description: t.description,
        provider: p.name,
        handler: p.handler,
        method: 'POST',
        endpoint: endpoint.url.pathname,
        scope: t.scope ?? `tool:${t.name}`,
        inputSchema: inputSchemaOf(t, picked.op),
        tags: t.tags,
        hint: t.hint ?? null,
        examples: t.examples,
        category: p.category ?? null,
        internal: p.internal,
        skills: p.skills,
        data: plan,
      };
      if (t.response?.extract !== undefined) def.responseExtract = t.response.extract;
      if (t.response?.format !== undefined) def.responseFormat = t.response.format;
      return def;
    });

    const timeoutSeconds = p.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS;
    const transport = new GraphqlTransport(endpoint.url, {
      timeoutMs: timeoutSeconds * 1000,
      maxResponseBytes: p.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    });
    const logger = ctx.logger;
    logger.debug({ endpoint: endpoint.url.origin + endpoint.url.pathname, tools: tools.length }, 'graphql provider provisioned');

    return {
      tools,
      async call(tool, args, cctx) {
        const plan = /** @type {ToolPlan} */ (tool.data);
        const variables = variablesFor(plan, args);
        const body = JSON.stringify({ query: plan.query, variables, ...(plan.operationName ? { operationName: plan.operationName } : {}) });
        const res = await transport.post(body, headers, cctx.signal, scrub);
        cctx.logger.debug({ tool: tool.name, upstream_status: res.status, bytes: res.text.length }, 'graphql answer');
        return resultOf(res, scrub);
      },
      async close() {
        transport.close();
        // Logged at info so operators (and the e2e test) see providers retire.
        logger.info({ endpoint: endpoint.url.origin + endpoint.url.pathname }, 'graphql provider closed');
      },
    };
  },
};

export default graphqlPlugin;
