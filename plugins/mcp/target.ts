/**
 * Turns a manifest plus the keyring into what is needed to reach the MCP server:
 * the child's command line and clean environment (stdio, ref-01 §5.4) or the URL
 * and request headers (Streamable HTTP, ref-01 §5.3). Every keyring read goes
 * through the recording accessor, so a change of those entries re-provisions.
 */
import { AtiError, authSettings, expandPlaceholders, injectCredential } from '../../sdk/plugin.js';
import type { KeyringAccessor, ProviderManifest } from '../../sdk/plugin.js';
import { MCP_INJECTION, mcpFields, type McpFields } from './schema.js';

export interface StdioTarget {
  kind: 'stdio';
  command: string;
  args: string[];
  /** The child's whole environment. */
  env: Record<string, string>;
}

export interface HttpTarget {
  kind: 'http';
  url: URL;
  /** Auth header and `extra_headers`, sent with every request. */
  headers: Record<string, string>;
}

export type McpTarget = StdioTarget | HttpTarget;

export interface ResolvedTarget {
  target: McpTarget;
  /** Secret values that went into the target; redacted from every log line and error text. */
  secrets: string[];
}

/** The variables of the proxy's own environment a stdio child inherits (ref-01 §5.4). */
export const INHERITED_ENV = ['PATH', 'HOME'] as const;

function missing(names: string[], field: string, provider: string): AtiError {
  const list = names.map((n) => `'${n}'`).join(', ');
  return new AtiError(
    'ATI_ERR_MISSING_CREDENTIAL',
    `keyring entr${names.length === 1 ? 'y' : 'ies'} ${list} missing (referenced by ${field} of provider "${provider}"); add ${names.length === 1 ? 'it' : 'them'} with \`ati key set\`, then reload`,
  );
}

/**
 * Resolves the target. A keyring entry that a placeholder or the auth header needs
 * but the keyring lacks throws ATI_ERR_MISSING_CREDENTIAL naming the entry (never a value).
 */
export function resolveTarget(
  m: ProviderManifest,
  keyring: KeyringAccessor,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedTarget {
  const f = mcpFields(m);
  return f.transport === 'http' ? resolveHttp(m, f, keyring) : resolveStdio(m, f, keyring, env);
}

function resolveStdio(
  m: ProviderManifest,
  f: McpFields,
  keyring: KeyringAccessor,
  env: NodeJS.ProcessEnv,
): ResolvedTarget {
  const childEnv: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const v = env[name];
    if (v !== undefined) childEnv[name] = v;
  }
  const secrets: string[] = [];
  const absent: string[] = [];
  for (const [name, raw] of Object.entries(f.env)) {
    const x = expandPlaceholders(raw, (k) => keyring.get(k));
    for (const k of x.missing) if (!absent.includes(k)) absent.push(k);
    for (const [, v] of x.used) secrets.push(v);
    childEnv[name] = x.value;
  }
  if (absent.length > 0) throw missing(absent, 'mcp_env', m.provider.name);
  return { target: { kind: 'stdio', command: f.command!, args: f.args, env: childEnv }, secrets };
}

function resolveHttp(m: ProviderManifest, f: McpFields, keyring: KeyringAccessor): ResolvedTarget {
  const p = m.provider;
  const x = expandPlaceholders(f.url!, (k) => keyring.get(k));
  if (x.missing.length > 0) throw missing(x.missing, 'mcp_url', p.name);
  let url: URL;
  try {
    url = new URL(x.value);
  } catch {
    // The expanded URL may hold a secret: name the field, not the value.
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `mcp_url of provider "${p.name}" is not a valid URL after placeholder expansion`,
    );
  }
  const secrets = x.used.map(([, v]) => v);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.extra_headers)) headers[k] = v;
  const auth = authHeader(m, keyring);
  if (auth) {
    // The credential wins over an `extra_headers` entry of the same name.
    for (const k of Object.keys(headers)) if (k.toLowerCase() === auth.name.toLowerCase()) delete headers[k];
    headers[auth.name] = auth.value;
    secrets.push(...auth.secrets);
  }
  return { target: { kind: 'http', url, headers }, secrets };
}

/**
 * The auth header of the HTTP transport (`MCP_INJECTION`). Unlike the reference, a
 * missing entry is an error naming it (the reference silently sent no header).
 */
export function authHeader(
  m: ProviderManifest,
  keyring: KeyringAccessor,
): { name: string; value: string; secrets: readonly string[] } | undefined {
  const p = m.provider;
  const placed = injectCredential(authSettings(p, MCP_INJECTION), keyring);
  if (!placed) return undefined;
  if ('missing' in placed) throw missing([placed.missing], 'auth_key_name', p.name);
  return placed.header && { ...placed.header, secrets: placed.secrets };
}
