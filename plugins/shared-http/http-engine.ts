/**
 * The request engine of the `http` and `openapi` handlers: one implementation
 * (ref-01 §6) used by both plugins. Per provider it owns the connection pool,
 * the OAuth2 token source and the auth-generator cache; per call it builds the
 * request from the tool's plan and the arguments, adds credentials (read from
 * the call's keyring, so rotation applies at once) and `extra_headers`
 * (`${key}`-expanded), sends it with the pool's timeouts and the client's
 * abort signal, and classifies the answer.
 *
 * Status mapping (PRODUCT §3.17): bad arguments 400, missing keyring entry 500
 * naming it, SSRF block 403, upstream error 502 with the extracted message,
 * timeout 504.
 */
import type { CallContext, ProviderManifest, ProvisionContext, ToolDefinition, ToolResult } from '../../sdk/plugin.js';
import {
  ATI_VERSION as VERSION,
  authSettings,
  compileTemplate,
  expandTemplate,
  injectCredential,
  injectedSecretMatcher,
  missingCredential,
  placeCredential,
  type Template,
} from '../../sdk/plugin.js';
import { AuthGenerator } from './auth-generator.js';
import { applyCredential, deniedHeaderNames, HTTP_INJECTION } from './auth-injection.js';
import { OAuth2TokenSource, resolveTokenUrl } from './oauth2.js';
import { engineSettings, type EngineFields } from './provider-fields.js';
import { buildRequest } from './request-builder.js';
import { compileRequestPlan, type RequestPlan } from './request-plan.js';
import { classifyResponse } from './response.js';
import { checkSsrfHost, ssrfModeFromEnv } from './ssrf.js';
import { UpstreamClient, upstreamError, type UpstreamResponse } from './upstream-client.js';

export interface HttpEngine {
  call(tool: ToolDefinition, args: unknown, ctx: CallContext): Promise<ToolResult>;
  close(): Promise<void>;
}

interface BaseUrl {
  origin: string;
  /** Path of base_url without the trailing `/`. */
  path: string;
  /** Query pairs written in base_url itself. */
  query: Array<[string, string]>;
  hostname: string;
}

const USER_AGENT = `ati-proxy/${VERSION}`;

function parseBase(url: string): BaseUrl {
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, ''), query: [...u.searchParams], hostname: u.hostname };
}

/** The plan a tool carries in `data` (compiled at provision); compiled on the fly for foreign definitions. */
export function planOf(tool: ToolDefinition): RequestPlan {
  const d = tool.data as RequestPlan | undefined;
  if (d && typeof d === 'object' && 'endpointParts' in d) return d;
  return compileRequestPlan(tool.method, tool.endpoint, tool.inputSchema);
}

/** Creates the engine of one provider. Opens no connection and spawns nothing until the first call. */
export function createHttpEngine(m: ProviderManifest<EngineFields>, pctx: ProvisionContext): HttpEngine {
  const p = m.provider;
  const name = p.name;
  const settings = engineSettings(p);
  const baseTemplate = compileTemplate(p.base_url);
  const staticBase = baseTemplate.isStatic ? parseBase(p.base_url) : undefined;
  const extraHeaders: Array<[string, Template]> = Object.entries(p.extra_headers ?? {}).map(([k, v]) => [
    k.toLowerCase(),
    compileTemplate(v),
  ]);
  const auth = authSettings(p, HTTP_INJECTION);
  const denied = deniedHeaderNames(
    auth,
    extraHeaders.map(([k]) => k),
  );
  const ssrf = ssrfModeFromEnv(process.env);
  const client = new UpstreamClient({
    connectTimeoutMs: settings.connectTimeoutSeconds * 1000,
    readTimeoutMs: settings.timeoutSeconds * 1000,
    maxResponseBytes: settings.maxResponseBytes,
    ssrf,
    logger: pctx.logger,
  });
  const generator = p.auth_generator ? new AuthGenerator(p.auth_generator, name, pctx.logger) : undefined;
  const oauth =
    auth.type === 'oauth2' && !generator
      ? new OAuth2TokenSource(
          {
            tokenUrl: resolveTokenUrl(p.oauth2_token_url ?? '', p.base_url),
            clientIdEntry: p.auth_key_name ?? '',
            secretEntry: p.auth_secret_name ?? '',
            basicAuth: p.oauth2_basic_auth,
            provider: name,
          },
          client,
        )
      : undefined;

  function resolveBase(ctx: CallContext, secrets: string[]): BaseUrl {
    if (staticBase) return staticBase;
    const expanded = expandTemplate(baseTemplate, (k) => {
      const v = ctx.keyring.require(k, `base_url of provider ${name}`);
      secrets.push(v);
      return v;
    });
    try {
      return parseBase(expanded);
    } catch {
      throw upstreamError(`base_url of provider ${name} is not a valid URL after expansion`);
    }
  }

  /** Adds credentials; returns the OAuth2 token used (for the retry on 401). */
  async function addCredentials(
    tool: ToolDefinition,
    ctx: CallContext,
    headers: Record<string, string>,
    query: Array<[string, string]>,
    secrets: string[],
  ): Promise<{ token: string; fromCache: boolean } | undefined> {
    if (generator) {
      const cred = await generator.generate(ctx.keyring, {
        sub: ctx.caller.sub,
        scope: ctx.caller.unrestricted ? '*' : ctx.caller.scopes.join(' '),
        toolName: tool.name,
      });
      secrets.push(cred.primary, ...Object.values(cred.headers));
      if (auth.injectsSecret) applyCredential(placeCredential(auth, cred.primary), headers, query);
      for (const [k, v] of Object.entries(cred.headers)) headers[k.toLowerCase()] = v;
      return undefined;
    }
    const placed = injectCredential(auth, ctx.keyring);
    if (placed) {
      if ('missing' in placed) throw missingCredential(placed.missing, `provider ${name} (auth_type = "${auth.type}")`);
      secrets.push(...placed.secrets);
      applyCredential(placed, headers, query);
      return undefined;
    }
    if (oauth) {
      const t = await oauth.token(ctx.keyring, secrets);
      applyCredential(placeCredential(auth, t.token), headers, query);
      return t;
    }
    return undefined;
  }

  async function call(tool: ToolDefinition, args: unknown, ctx: CallContext): Promise<ToolResult> {
    const plan = planOf(tool);
    const built = buildRequest(plan, args, denied);
    const secrets: string[] = [];
    const base = resolveBase(ctx, secrets);
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*', ...built.headers };
    const query: Array<[string, string]> = base.query.length > 0 ? [...base.query, ...built.query] : built.query;
    const token = await addCredentials(tool, ctx, headers, query, secrets);
    for (const [k, t] of extraHeaders) {
      headers[k] = expandTemplate(t, (key) => {
        const v = ctx.keyring.require(key, `extra_headers.${k} of provider ${name}`);
        secrets.push(v);
        return v;
      });
    }
    const shownUrl = `${p.base_url.replace(/\/+$/, '')}${plan.endpoint}`;
    checkSsrfHost(ssrf, base.hostname, shownUrl, ctx.logger);

    let path = base.path + built.path;
    if (!path.startsWith('/')) path = `/${path}`;
    const buildTarget = () => {
      const qs = query.length > 0 ? new URLSearchParams(query).toString() : '';
      return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
    };
    // Built only on the error paths that need it, from every secret this call sent.
    const scrub = (s: string) => injectedSecretMatcher(secrets).redact(s);

    // The client's abort signal goes straight to the upstream request; timeouts are the pool's
    // per-phase ones (connect, response headers, body) — no per-call controller or timer.
    const send = (): Promise<UpstreamResponse> =>
      client.send(
        { origin: base.origin, path: buildTarget(), method: plan.method, headers, body: built.body },
        ctx.signal,
        scrub,
      );
    let res = await send();
    if (res.status === 401 && oauth && token?.fromCache) {
      // The upstream refused a cached token (revoked early): fetch a fresh one and retry once.
      oauth.invalidate(token.token);
      const fresh = await oauth.token(ctx.keyring, secrets);
      applyCredential(placeCredential(auth, fresh.token), headers, query);
      res = await send();
    }
    const c = classifyResponse(res.status, res.text);
    if (c.kind === 'ok') return { value: c.value, upstreamStatus: res.status };
    if (c.kind === 'no_records') return { value: { records: [] }, upstreamStatus: res.status, skipExtraction: true };
    throw upstreamError(`API error (${c.status}): ${scrub(c.message)}`, c.status);
  }

  return {
    call,
    close: () => client.close(),
  };
}
