/**
 * OAuth2 client-credentials tokens for `auth_type = "oauth2"` (ref-01 §5.2).
 * One token source per provider instance (so per provider, and reused across
 * generations with the provider). The cache key includes the client id and a
 * hash of the secret, so a rotated keyring entry fetches a new token at once.
 * A cached token is used while it has more than 60 s to live; concurrent
 * misses share one exchange; the engine invalidates the token when the
 * upstream answers 401 (the reference never does, ref-01 §16.31).
 */
import { injectedSecretMatcher, sha256, type KeyringAccessor } from '../../sdk/plugin.js';
import { truncateText } from './response.js';
import { upstreamError, type UpstreamClient } from './upstream-client.js';

export const TOKEN_REQUEST_TIMEOUT_MS = 15_000;
const MIN_REMAINING_MS = 60_000;
const DEFAULT_EXPIRES_IN_S = 1_799;

export interface OAuth2Settings {
  /** Absolute token endpoint URL. */
  tokenUrl: string;
  clientIdEntry: string;
  secretEntry: string;
  basicAuth: boolean;
  provider: string;
}

interface Cached {
  key: string;
  token: string;
  expiresAt: number;
}

/** Resolves `oauth2_token_url` against `base_url` (ref-01 §5.2 step 3). */
export function resolveTokenUrl(tokenUrl: string, baseUrl: string): string {
  return tokenUrl.startsWith('http') ? tokenUrl : baseUrl.replace(/\/+$/, '') + tokenUrl;
}

/** Why a token URL is unacceptable: not HTTPS (plain HTTP is allowed for loopback hosts only). */
export function tokenUrlProblem(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `OAuth2 token URL is not a valid URL: '${url}'`;
  }
  if (u.protocol === 'https:') return undefined;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (u.protocol === 'http:' && loopback) return undefined;
  return `OAuth2 token URL must use HTTPS: '${url}'`;
}

export class OAuth2TokenSource {
  private cached: Cached | undefined;
  private pending: { key: string; promise: Promise<Cached> } | undefined;

  constructor(
    private readonly settings: OAuth2Settings,
    private readonly client: UpstreamClient,
  ) {}

  /** A bearer token; `fromCache` tells whether a retry with a fresh token could help after a 401. */
  async token(keyring: KeyringAccessor, secrets: string[]): Promise<{ token: string; fromCache: boolean }> {
    const who = `provider ${this.settings.provider} (oauth2 client_id)`;
    const clientId = keyring.require(this.settings.clientIdEntry, who);
    const secret = keyring.require(
      this.settings.secretEntry,
      `provider ${this.settings.provider} (oauth2 client_secret)`,
    );
    secrets.push(clientId, secret);
    const key = `${clientId}\0${sha256(secret)}`;
    const c = this.cached;
    if (c && c.key === key && c.expiresAt - Date.now() > MIN_REMAINING_MS) {
      secrets.push(c.token);
      return { token: c.token, fromCache: true };
    }
    if (!this.pending || this.pending.key !== key) {
      const promise = this.exchange(clientId, secret).finally(() => {
        if (this.pending?.promise === promise) this.pending = undefined;
      });
      this.pending = { key, promise };
    }
    const fresh = await this.pending.promise;
    this.cached = fresh;
    secrets.push(fresh.token);
    return { token: fresh.token, fromCache: false };
  }

  /** Drops `token` from the cache (after the upstream refused it). */
  invalidate(token: string): void {
    if (this.cached?.token === token) this.cached = undefined;
  }

  /** One exchange, shared by concurrent callers: bounded by its own 15 s timeout, not by one caller's connection. */
  private async exchange(clientId: string, secret: string): Promise<Cached> {
    const url = new URL(this.settings.tokenUrl);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (this.settings.basicAuth) {
      headers['authorization'] = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
    } else {
      form.set('client_id', clientId);
      form.set('client_secret', secret);
    }
    const redactor = injectedSecretMatcher([secret, clientId]);
    const scrub = (s: string) => redactor.redact(s);
    const fail = (why: string, status?: number) => upstreamError(`OAuth2 token exchange failed: ${why}`, status);
    const res = await this.client.send(
      { origin: url.origin, path: url.pathname + url.search, method: 'POST', headers, body: form.toString() },
      AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
      scrub,
    );
    if (res.status < 200 || res.status >= 300) {
      throw fail(`token exchange failed (${res.status}): ${scrub(truncateText(res.text.trim()))}`, res.status);
    }
    let body: unknown;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw fail('token endpoint did not answer JSON');
    }
    const token = (body as { access_token?: unknown })?.access_token;
    if (typeof token !== 'string' || token === '') throw fail('token endpoint answer has no string "access_token"');
    const expiresIn = (body as { expires_in?: unknown }).expires_in;
    const seconds =
      typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn >= 0 ? expiresIn : DEFAULT_EXPIRES_IN_S;
    return {
      key: `${clientId}\0${sha256(secret)}`,
      token,
      expiresAt: Date.now() + seconds * 1000,
    };
  }
}
