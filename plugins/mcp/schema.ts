/**
 * The `[provider]` fields of `handler = "mcp"` (the reference's) plus the ones this
 * build adds (timeouts), and the semantic checks that run when a manifest loads.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FieldsOf, InjectionStyle, PluginIssue, ProviderManifest } from '../../sdk/plugin.js';

/** Default per-request timeout (`mcp_timeout_secs`). */
export const DEFAULT_TIMEOUT_SECS = 120;
/** Default budget for connect + initialize + every `tools/list` page at provision (`mcp_discovery_timeout_secs`). */
export const DEFAULT_DISCOVERY_TIMEOUT_SECS = 30;

export const providerSchema = {
  mcp_transport: Type.Optional(
    Type.Union([Type.Literal('stdio'), Type.Literal('http')], {
      default: 'stdio',
      description:
        'How to reach the MCP server: spawn a child process (stdio) or POST to a Streamable HTTP endpoint (http).',
    }),
  ),
  mcp_command: Type.Optional(
    Type.String({ minLength: 1, description: 'stdio: the executable to spawn (looked up in PATH).' }),
  ),
  mcp_args: Type.Optional(
    Type.Array(Type.String(), { default: [], description: 'stdio: arguments, passed literally (no expansion).' }),
  ),
  mcp_url: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'http: the Streamable HTTP endpoint; `${key}` placeholders come from the keyring.',
    }),
  ),
  mcp_env: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      description:
        'stdio: extra environment of the child (it gets only PATH, HOME and these); `${key}` placeholders come from the keyring.',
    }),
  ),
  tool_prefix: Type.Optional(
    Type.String({
      maxLength: 64,
      description:
        'Text put before every discovered tool and prompt name of this server (default "<name>:"; "" exposes them unprefixed). Letters, digits, "_", "-", "." and ":".',
    }),
  ),
  mcp_timeout_secs: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: DEFAULT_TIMEOUT_SECS,
      description: 'Timeout of every request to the MCP server (tools/call, reconnects), in seconds.',
    }),
  ),
  mcp_discovery_timeout_secs: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 600,
      default: DEFAULT_DISCOVERY_TIMEOUT_SECS,
      description: 'Budget for connecting and listing the tools when a generation is built, in seconds.',
    }),
  ),
} satisfies TProperties;

/** A manifest of `handler = "mcp"`, its mcp fields typed as the schema declares them. */
export type McpManifest = ProviderManifest<FieldsOf<typeof providerSchema>>;

/** The MCP settings of a manifest, defaults applied. */
export interface McpFields {
  transport: 'stdio' | 'http';
  command: string | undefined;
  args: string[];
  url: string | undefined;
  env: Record<string, string>;
  /** Put before discovered tool and prompt names: `tool_prefix`, default `<provider>:`. */
  toolPrefix: string;
  timeoutMs: number;
  discoveryTimeoutMs: number;
}

export function mcpFields(m: McpManifest): McpFields {
  const p = m.provider;
  return {
    transport: p.mcp_transport ?? 'stdio',
    command: p.mcp_command,
    args: p.mcp_args ?? [],
    url: p.mcp_url,
    env: p.mcp_env ?? {},
    toolPrefix: p.tool_prefix ?? `${p.name}:`,
    timeoutMs: (p.mcp_timeout_secs ?? DEFAULT_TIMEOUT_SECS) * 1000,
    discoveryTimeoutMs: (p.mcp_discovery_timeout_secs ?? DEFAULT_DISCOVERY_TIMEOUT_SECS) * 1000,
  };
}

/** Characters of an MCP tool name (the 2025-11-25 spec: A-Z a-z 0-9 _ - .) plus `:`, the reference's separator. */
const TOOL_PREFIX = /^[A-Za-z0-9_.:-]*$/;

/**
 * The MCP HTTP transport: `bearer`, `header` and `basic` give one header named
 * `auth_header_name` or `Authorization` (`Bearer <k>`, `<prefix><k>`,
 * `Basic base64("<k>:")`); other auth types send nothing (a `url` key goes into
 * `mcp_url` through `${entry}`).
 */
export const MCP_INJECTION: InjectionStyle = {
  secretTypes: new Set(['bearer', 'header', 'basic']),
  defaultHeaderName: 'Authorization',
  headerNameForAllTypes: true,
  basic: 'username',
};

/** Semantic checks: the reference finds these only when it connects; we report them at load, with the field. */
export function validateMcpManifest(m: McpManifest): PluginIssue[] {
  const f = mcpFields(m);
  const p = m.provider;
  const issues: PluginIssue[] = [];
  if (f.transport === 'stdio' && !f.command) {
    issues.push({
      field: 'provider.mcp_command',
      message: 'mcp_command is required for the stdio transport (the default mcp_transport)',
    });
  }
  if (f.transport === 'http') {
    if (!f.url) {
      issues.push({ field: 'provider.mcp_url', message: 'mcp_url is required when mcp_transport = "http"' });
    } else if (!/^https?:\/\//i.test(f.url)) {
      issues.push({
        field: 'provider.mcp_url',
        message: `mcp_url must start with http:// or https:// (found "${f.url.slice(0, 40)}")`,
      });
    }
    if (MCP_INJECTION.secretTypes.has(p.auth_type) && !p.auth_key_name && !p.auth_generator) {
      issues.push({
        field: 'provider.auth_key_name',
        message: `auth_type = "${p.auth_type}" needs auth_key_name (the keyring entry holding the secret)`,
      });
    }
  }
  if (!TOOL_PREFIX.test(f.toolPrefix)) {
    issues.push({
      field: 'provider.tool_prefix',
      message: `tool_prefix may hold only letters, digits, "_", "-", "." and ":" (found "${f.toolPrefix}")`,
    });
  }
  if (p.auth_generator) {
    issues.push({
      field: 'provider.auth_generator',
      message:
        'auth_generator is not supported by the mcp handler in this build; use auth_key_name (http) or mcp_env placeholders (stdio)',
    });
  }
  return issues;
}

/** Common fields an MCP provider does not use (listed as warnings by `--check`). */
export const IGNORED_COMMON_FIELDS = [
  'base_url',
  'auth_query_name',
  'auth_secret_name',
  'oauth2_token_url',
  'oauth2_basic_auth',
] as const;
