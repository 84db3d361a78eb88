/**
 * The federated methods of `/mcp`: resources, resource templates, prompts,
 * completions and logging of the MCP servers behind the proxy (the index and
 * the scope rules are in core/routes/mcp-federation.ts). A method no provider
 * of the serving generation offers is unknown (−32601), as it was before any
 * MCP server offered it.
 */
import { toAtiError } from '../../kernel/errors.js';
import {
  federationOf,
  promptAllowed,
  providerOfUri,
  resourceAllowed,
  visiblePrompts,
  visibleResources,
  visibleTemplates,
  type FederatedProvider,
} from './mcp-federation.js';
import {
  callChannel,
  isObject,
  listPage,
  rpcError,
  rpcResult,
  viewerOf,
  RPC_ACCESS_DENIED,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_RESOURCE_NOT_FOUND,
  type DispatchContext,
  type JsonRpcId,
  type JsonRpcResponse,
} from './mcp-dispatch.js';
import { viewFingerprints } from './mcp-view.js';
import { LOG_LEVELS, type LogLevel } from './mcp-sessions.js';

export const FEDERATED_METHODS = new Set([
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
]);

/** An upstream failure as a JSON-RPC error: the server's own code when it sent one. */
function upstreamError(id: JsonRpcId, err: unknown): JsonRpcResponse {
  const e = toAtiError(err, 'ATI_ERR_UPSTREAM');
  const code = e.details?.['mcp_code'];
  const message = e.details?.['mcp_message'];
  if (typeof code === 'number') {
    return rpcError(id, code, typeof message === 'string' ? message : e.message, { code: e.code });
  }
  return rpcError(id, -32603, e.message, { code: e.code });
}

function denied(id: JsonRpcId, what: string): JsonRpcResponse {
  return rpcError(id, RPC_ACCESS_DENIED, `Access denied: ${what} is not in your scopes`, { code: 'ATI_ERR_FORBIDDEN' });
}

async function relay(
  id: JsonRpcId,
  provider: FederatedProvider,
  method: string,
  params: Record<string, unknown>,
  ctx: DispatchContext,
): Promise<JsonRpcResponse> {
  try {
    const result = await provider.fed.request(method, params, { signal: ctx.signal, mcp: callChannel(params, ctx) });
    return rpcResult(id, result);
  } catch (err) {
    return upstreamError(id, err);
  }
}

function uriParam(id: JsonRpcId, params: Record<string, unknown>): string | JsonRpcResponse {
  const uri = params['uri'];
  if (typeof uri !== 'string' || uri === '') {
    return rpcError(id, RPC_INVALID_PARAMS, 'Missing resource URI in params.uri', { code: 'ATI_ERR_INVALID_REQUEST' });
  }
  return uri;
}

/** The provider serving `uri` if the caller may read it, else the error answer. */
function resourceTarget(
  id: JsonRpcId,
  uri: string,
  ctx: DispatchContext,
): { provider: FederatedProvider } | JsonRpcResponse {
  const provider = providerOfUri(federationOf(ctx.state.gen), uri);
  if (!provider)
    return rpcError(id, RPC_RESOURCE_NOT_FOUND, `Resource not found: '${uri}'`, { code: 'ATI_ERR_NOT_FOUND' });
  if (!resourceAllowed(viewerOf(ctx), provider.name, uri)) return denied(id, `resource '${uri}'`);
  return { provider };
}

/** Answers one federated method; undefined when no provider offers it (the caller answers −32601). */
export async function federatedMethod(
  method: string,
  id: JsonRpcId,
  params: Record<string, unknown>,
  ctx: DispatchContext,
): Promise<JsonRpcResponse | undefined> {
  const gen = ctx.state.gen;
  const idx = federationOf(gen);
  const v = viewerOf(ctx);
  switch (method) {
    case 'resources/list': {
      if (!idx.has.resources) return undefined;
      if (ctx.session && params['cursor'] === undefined)
        ctx.session.seen.resources = viewFingerprints(gen, v).resources;
      return listPage(id, params, 'resources', visibleResources(idx, v), ctx.pageSize);
    }
    case 'resources/templates/list':
      if (!idx.has.resources) return undefined;
      return listPage(id, params, 'resourceTemplates', visibleTemplates(idx, v), ctx.pageSize);
    case 'resources/read': {
      if (!idx.has.resources) return undefined;
      const uri = uriParam(id, params);
      if (typeof uri !== 'string') return uri;
      const t = resourceTarget(id, uri, ctx);
      return 'provider' in t ? relay(id, t.provider, method, params, ctx) : t;
    }
    case 'resources/subscribe':
    case 'resources/unsubscribe': {
      if (!idx.has.resources) return undefined;
      const uri = uriParam(id, params);
      if (typeof uri !== 'string') return uri;
      const session = ctx.session;
      if (!session) {
        return rpcError(id, RPC_INVALID_REQUEST, `${method} needs an MCP session (Mcp-Session-Id)`, {
          code: 'ATI_ERR_INVALID_REQUEST',
        });
      }
      if (method === 'resources/unsubscribe') {
        const unsubscribe = session.subscriptions.get(uri);
        session.subscriptions.delete(uri);
        await unsubscribe?.();
        return rpcResult(id, {});
      }
      const t = resourceTarget(id, uri, ctx);
      if (!('provider' in t)) return t;
      if (!t.provider.fed.capabilities.resources?.subscribe) {
        return rpcError(id, RPC_INVALID_PARAMS, `the server of '${uri}' does not offer resource subscriptions`, {
          code: 'ATI_ERR_INVALID_REQUEST',
        });
      }
      if (!session.subscriptions.has(uri)) {
        try {
          const unsubscribe = await t.provider.fed.subscribe(uri, (p) =>
            session.send({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: p }),
          );
          session.subscriptions.set(uri, unsubscribe);
        } catch (err) {
          return upstreamError(id, err);
        }
      }
      return rpcResult(id, {});
    }
    case 'prompts/list':
      if (!idx.has.prompts) return undefined;
      if (ctx.session && params['cursor'] === undefined) ctx.session.seen.prompts = viewFingerprints(gen, v).prompts;
      return listPage(id, params, 'prompts', visiblePrompts(idx, v), ctx.pageSize);
    case 'prompts/get': {
      if (!idx.has.prompts) return undefined;
      const name = params['name'];
      if (typeof name !== 'string' || name === '') {
        return rpcError(id, RPC_INVALID_PARAMS, 'Missing prompt name in params.name', {
          code: 'ATI_ERR_INVALID_REQUEST',
        });
      }
      const ref = idx.prompts.get(name);
      if (!ref) return rpcError(id, RPC_INVALID_PARAMS, `Unknown prompt: '${name}'`, { code: 'ATI_ERR_NOT_FOUND' });
      if (!promptAllowed(v, name)) return denied(id, `prompt '${name}'`);
      return relay(id, ref.provider, method, { ...params, name: ref.prompt.upstreamName }, ctx);
    }
    case 'completion/complete': {
      if (!idx.has.completions) return undefined;
      const ref = params['ref'];
      if (!isObject(ref)) {
        return rpcError(id, RPC_INVALID_PARAMS, 'Missing params.ref', { code: 'ATI_ERR_INVALID_REQUEST' });
      }
      let provider: FederatedProvider;
      let upstreamRef = ref;
      if (ref['type'] === 'ref/prompt') {
        const name = ref['name'];
        const p = typeof name === 'string' ? idx.prompts.get(name) : undefined;
        if (!p)
          return rpcError(id, RPC_INVALID_PARAMS, `Unknown prompt: '${String(name)}'`, { code: 'ATI_ERR_NOT_FOUND' });
        if (!promptAllowed(v, p.prompt.name)) return denied(id, `prompt '${p.prompt.name}'`);
        provider = p.provider;
        upstreamRef = { ...ref, name: p.prompt.upstreamName };
      } else if (ref['type'] === 'ref/resource') {
        const uri = ref['uri'];
        if (typeof uri !== 'string') {
          return rpcError(id, RPC_INVALID_PARAMS, 'Missing params.ref.uri', { code: 'ATI_ERR_INVALID_REQUEST' });
        }
        const t = resourceTarget(id, uri, ctx);
        if (!('provider' in t)) return t;
        provider = t.provider;
      } else {
        return rpcError(id, RPC_INVALID_PARAMS, `Unknown ref type: '${String(ref['type'])}'`, {
          code: 'ATI_ERR_INVALID_REQUEST',
        });
      }
      if (!provider.fed.capabilities.completions) return rpcResult(id, { completion: { values: [] } });
      return relay(id, provider, method, { ...params, ref: upstreamRef }, ctx);
    }
    case 'logging/setLevel': {
      if (!idx.has.logging) return undefined;
      const level = params['level'];
      if (!LOG_LEVELS.includes(level as LogLevel)) {
        return rpcError(id, RPC_INVALID_PARAMS, `Invalid params: level must be one of ${LOG_LEVELS.join(', ')}`, {
          code: 'ATI_ERR_INVALID_REQUEST',
        });
      }
      if (ctx.session) ctx.session.logLevel = level as LogLevel;
      // The upstream sessions are shared: each gets the level last asked for; every client's
      // session then drops what is below its own level.
      await Promise.all(
        idx.providers
          .filter((p) => p.fed.capabilities.logging)
          .map((p) =>
            p.fed.request('logging/setLevel', { level }, { signal: ctx.signal }).catch((err: unknown) => {
              ctx.logger.debug({ provider: p.name, error: toAtiError(err).message }, 'MCP logging/setLevel failed');
            }),
          ),
      );
      return rpcResult(id, {});
    }
  }
  return undefined;
}
