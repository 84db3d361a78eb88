/**
 * A small client for a running `ati proxy`, used by `ati run` and `ati tool`
 * in proxy-client mode (the seed's "Connect sandboxes"): base URL from
 * ATI_PROXY_URL, bearer from ATI_SESSION_TOKEN or ATI_SESSION_TOKEN_FILE, and
 * optional request signing with ATI_SANDBOX_SIGNING_SECRET.
 */
import { readFileSync } from 'node:fs';
import { AtiError } from '../kernel/errors.js';
import { requireSigningSecret, signRequest } from '../kernel/request-signature.js';

export interface ClientConfig {
  baseUrl: string;
  token?: string;
  signingSecret?: Buffer;
  jobId?: string;
}

export function clientConfigFromEnv(env: NodeJS.ProcessEnv): ClientConfig {
  const baseUrl = env['ATI_PROXY_URL']?.trim();
  if (!baseUrl)
    throw new AtiError('ATI_ERR_CONFIG', 'ATI_PROXY_URL is not set (e.g. export ATI_PROXY_URL=http://127.0.0.1:8090)');
  try {
    new URL(baseUrl);
  } catch {
    throw new AtiError('ATI_ERR_CONFIG', `ATI_PROXY_URL is not a URL: ${baseUrl}`);
  }
  let token = env['ATI_SESSION_TOKEN']?.trim();
  const tokenFile = env['ATI_SESSION_TOKEN_FILE']?.trim();
  if (!token && tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new AtiError(
        'ATI_ERR_CONFIG',
        `ATI_SESSION_TOKEN_FILE ${tokenFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  const secret = env['ATI_SANDBOX_SIGNING_SECRET'];
  const cfg: ClientConfig = { baseUrl: baseUrl.replace(/\/+$/, '') };
  if (token) cfg.token = token;
  if (secret) cfg.signingSecret = requireSigningSecret(secret, 'ATI_SANDBOX_SIGNING_SECRET');
  const job = env['ATI_JOB_ID'] ?? env['ATI_SANDBOX_JOB_ID'];
  if (job) cfg.jobId = job;
  return cfg;
}

export interface ClientResponse {
  status: number;
  body: unknown;
}

export async function proxyRequest(
  cfg: ClientConfig,
  method: string,
  path: string,
  body?: unknown,
): Promise<ClientResponse> {
  const headers: Record<string, string> = {};
  if (cfg.token) headers['authorization'] = `Bearer ${cfg.token}`;
  if (cfg.signingSecret)
    headers['x-sandbox-signature'] = signRequest(cfg.signingSecret, method, new URL(path, 'http://x').pathname);
  if (cfg.jobId) headers['x-sandbox-job-id'] = cfg.jobId;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${cfg.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const c = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (err as Error).message;
    throw new AtiError('ATI_ERR_UNAVAILABLE', `cannot reach the proxy at ${cfg.baseUrl}: ${cause}`);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // plain-text body: keep the text
  }
  return { status: res.status, body: parsed };
}

/** `--key value` / `--key=value` pairs → an args object; values that parse as JSON (numbers, booleans, arrays, objects) are typed. */
export function argsFromFlags(tokens: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!t.startsWith('--') || t === '--') throw new AtiError('ATI_ERR_USAGE', `expected --name value, got "${t}"`);
    const eq = t.indexOf('=');
    let key: string;
    let raw: string;
    if (eq > 2) {
      key = t.slice(2, eq);
      raw = t.slice(eq + 1);
    } else {
      key = t.slice(2);
      const next = tokens[i + 1];
      if (next === undefined || next.startsWith('--')) raw = 'true';
      else {
        raw = next;
        i++;
      }
    }
    args[key] = typedValue(raw);
  }
  return args;
}

function typedValue(raw: string): unknown {
  if (/^(-?\d+(\.\d+)?|true|false|null)$/.test(raw) || /^[[{]/.test(raw)) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}
