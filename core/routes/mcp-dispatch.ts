/**
 * The JSON-RPC methods of `/mcp` (the proxy as an MCP server): `initialize`
 * (opens a session), `ping`, `tools/list` (cursor pagination, every MCP field of
 * an upstream tool passed through), `tools/call` through the same executor as
 * `POST /call` (alias, scopes, rate limits, log line, call log) with progress,
 * logs and upstream requests relayed and `notifications/cancelled` honoured,
 * the federated resources, prompts, completions and logging of the MCP servers
 * behind the proxy (core/routes/mcp-methods.ts), and the client's answers to
 * requests the proxy relayed to it. Notifications are never answered;
 * `jsonrpc: "2.0"` is checked.
 *
 * Error codes: −32700 parse error, −32600 invalid request, −32601 unknown method,
 * −32602 bad params / unknown tool / bad arguments, −32001 access denied,
 * −32002 resource not found, −32029 rate limited (`data.retry_after` in seconds
 * when known), −32800 request cancelled. Every error of ours carries `data.code`,
 * the `ATI_ERR_…` code.
 */
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { ToolContentError, type McpCallChannel } from '../plugin/contract.js';
import type { RequestState } from '../host/request-state.js';
import { executeToolCall, type ToolCallOutcome } from '../tools/tool-call.js';
import type { CallLog } from '../tools/call-log.js';
import { VERSION } from '../../kernel/version.js';
import { federationOf, type Viewer } from './mcp-federation.js';
import { federatedMethod, FEDERATED_METHODS } from './mcp-methods.js';
import type { ClientSession, LogLevel } from './mcp-sessions.js';
import { LOG_LEVELS } from './mcp-sessions.js';
import type { PostResponse } from './mcp-stream.js';
import { toolEntry, viewFingerprints, visibleTools } from './mcp-view.js';

export { mcpInputSchema } from './mcp-view.js';

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_ACCESS_DENIED = -32001;
export const RPC_RESOURCE_NOT_FOUND = -32002;
export const RPC_RATE_LIMITED = -32029;
export const RPC_REQUEST_CANCELLED = -32800;

/** The version the reference always answered; used when a client does not say which it wants. */
export const DEFAULT_PROTOCOL_VERSION = '2025-03-26';

export type JsonRpcId = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

export interface SessionInit {
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
}

export interface DispatchContext {
  state: RequestState;
  logger: Logger;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Entries per list page. */
  pageSize: number;
  /** Where `tools/call` is recorded (`host.services.callLog`). */
  callLog?: CallLog;
  requesterIp?: string;
  userAgent?: string;
  /** The client's session, when the request named one (`Mcp-Session-Id`). */
  session?: ClientSession;
  /** The answer of this POST when it may become an event stream (a single request). */
  out?: PostResponse;
  /** Opens a session; set for a single `initialize` without one. */
  openSession?: (init: SessionInit) => ClientSession;
}

export function rpcError(
  id: JsonRpcId,
  code: number,
  message: string,
  data?: Record<string, unknown>,
): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data ? { code, message, data } : { code, message } };
}

export function rpcResult(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function viewerOf(ctx: DispatchContext): Viewer {
  return { caller: ctx.state.caller, authConfigured: ctx.state.authConfigured };
}

/**
 * The client's version when we speak it, else the newest we speak (MCP lifecycle:
 * version negotiation). The SDK's version list is loaded on the first `initialize`:
 * its module pulls in every zod schema of the protocol, which would cost startup time.
 */
export async function negotiateProtocolVersion(requested: unknown): Promise<string> {
  if (typeof requested !== 'string') return DEFAULT_PROTOCOL_VERSION;
  const { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } = await import('@modelcontextprotocol/sdk/types.js');
  return SUPPORTED_PROTOCOL_VERSIONS.includes(requested) ? requested : LATEST_PROTOCOL_VERSION;
}

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: unknown): number | undefined {
  if (typeof cursor !== 'string') return undefined;
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

/** One page of a list (`key` holds the entries), or an error for a cursor we did not issue. */
export function listPage(
  id: JsonRpcId,
  params: Record<string, unknown>,
  key: string,
  entries: readonly unknown[],
  pageSize: number,
): JsonRpcResponse {
  let offset = 0;
  if (params['cursor'] !== undefined) {
    const o = decodeCursor(params['cursor']);
    if (o === undefined)
      return rpcError(id, RPC_INVALID_PARAMS, 'Invalid params: unknown cursor', { code: 'ATI_ERR_INVALID_REQUEST' });
    offset = o;
  }
  const result: Record<string, unknown> = { [key]: entries.slice(offset, offset + pageSize) };
  if (offset + pageSize < entries.length) result['nextCursor'] = encodeCursor(offset + pageSize);
  return rpcResult(id, result);
}

function toolsList(id: JsonRpcId, params: Record<string, unknown>, ctx: DispatchContext): JsonRpcResponse {
  // The listing is recomputed per page from the request's generation; a reload between pages can shift it.
  const v = viewerOf(ctx);
  const answer = listPage(id, params, 'tools', visibleTools(ctx.state.gen, v).map(toolEntry), ctx.pageSize);
  if (ctx.session && params['cursor'] === undefined) ctx.session.seen.tools = viewFingerprints(ctx.state.gen, v).tools;
  return answer;
}

/** Errors that stop a call before it reaches the tool are JSON-RPC errors; the tool's own failures are results. */
function callFailure(id: JsonRpcId, e: AtiError): JsonRpcResponse {
  const data = { code: e.code };
  switch (e.code) {
    case 'ATI_ERR_UNKNOWN_TOOL':
    case 'ATI_ERR_TOOL_ARGS':
      return rpcError(id, RPC_INVALID_PARAMS, e.message, data);
    case 'ATI_ERR_FORBIDDEN':
    case 'ATI_ERR_UNAUTHENTICATED':
      return rpcError(id, RPC_ACCESS_DENIED, e.message, data);
    case 'ATI_ERR_RATE_LIMITED': {
      const retry = e.details?.['retry_after'];
      return rpcError(
        id,
        RPC_RATE_LIMITED,
        e.message,
        typeof retry === 'number' ? { ...data, retry_after: retry } : data,
      );
    }
  }
  if (e instanceof ToolContentError) {
    const result: Record<string, unknown> = { content: e.mcp.content, isError: true };
    if (e.mcp.structuredContent !== undefined) result['structuredContent'] = e.mcp.structuredContent;
    return rpcResult(id, result);
  }
  return rpcResult(id, { content: [{ type: 'text', text: `Error: ${e.message}` }], isError: true });
}

function callSuccess(id: JsonRpcId, o: Extract<ToolCallOutcome, { ok: true }>): JsonRpcResponse {
  if (o.mcp && o.tool.responseExtract === undefined) {
    // The upstream's result as it sent it (no `isError` added where it had none).
    const result: Record<string, unknown> = { content: o.mcp.content };
    if (o.mcp.structuredContent !== undefined) result['structuredContent'] = o.mcp.structuredContent;
    if (o.mcp.isError !== undefined) result['isError'] = o.mcp.isError;
    if (o.mcp._meta !== undefined) result['_meta'] = o.mcp._meta;
    return rpcResult(id, result);
  }
  const v = o.value;
  const text = typeof v === 'string' ? v : (JSON.stringify(v ?? null, null, 2) ?? 'null');
  return rpcResult(id, { content: [{ type: 'text', text }], isError: false });
}

/** Whether a log message of `level` passes the session's `logging/setLevel` (all pass when none was set). */
function levelPasses(min: LogLevel | undefined, level: unknown): boolean {
  if (min === undefined) return true;
  const i = LOG_LEVELS.indexOf(level as LogLevel);
  return i < 0 || i >= LOG_LEVELS.indexOf(min);
}

/**
 * How a call reaches back to its client: progress (with the client's own token)
 * and log messages on the request's stream (or the session's event stream when
 * the client takes only JSON), upstream requests to the client's session.
 */
export function callChannel(params: Record<string, unknown>, ctx: DispatchContext): McpCallChannel {
  const meta = params['_meta'];
  const token = isObject(meta) ? meta['progressToken'] : undefined;
  const wantsProgress = typeof token === 'string' || typeof token === 'number';
  const toClient = (msg: unknown): boolean => (ctx.out?.push(msg) ?? false) || (ctx.session?.send(msg) ?? false);
  return {
    wantsProgress,
    progress(p) {
      if (wantsProgress)
        toClient({ jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: token, ...p } });
    },
    notify(method, p) {
      if (method === 'notifications/message' && !levelPasses(ctx.session?.logLevel, p['level'])) return;
      toClient({ jsonrpc: '2.0', method, params: p });
    },
    async request(method, p, signal) {
      const session = ctx.session;
      if (!session) {
        throw new AtiError(
          'ATI_ERR_UNAVAILABLE',
          `${method}: the client has no MCP session (it sent no Mcp-Session-Id), so it cannot be asked`,
        );
      }
      const capability =
        method === 'sampling/createMessage' ? 'sampling' : method === 'elicitation/create' ? 'elicitation' : undefined;
      if (capability && !session.clientCapabilities[capability]) {
        throw new AtiError(
          'ATI_ERR_UNAVAILABLE',
          `${method}: the client did not declare the "${capability}" capability`,
        );
      }
      return session.request(method, p, signal, toClient);
    },
  };
}

async function toolsCall(
  id: JsonRpcId,
  params: Record<string, unknown>,
  ctx: DispatchContext,
): Promise<JsonRpcResponse> {
  const name = params['name'];
  if (typeof name !== 'string' || name === '') {
    return rpcError(id, RPC_INVALID_PARAMS, 'Missing tool name in params.name', { code: 'ATI_ERR_INVALID_REQUEST' });
  }
  const args = params['arguments'];
  if (args !== undefined && args !== null && !isObject(args)) {
    return rpcError(id, RPC_INVALID_PARAMS, 'Invalid params: params.arguments must be an object', {
      code: 'ATI_ERR_TOOL_ARGS',
    });
  }
  const s = ctx.state;
  // `notifications/cancelled` from the client aborts the call (and so the upstream request).
  const cancel = new AbortController();
  const key = JSON.stringify(id);
  ctx.session?.inflight.set(key, cancel);
  let outcome: ToolCallOutcome;
  try {
    outcome = await executeToolCall({
      gen: s.gen,
      caller: s.caller,
      authConfigured: s.authConfigured,
      requestId: s.requestId,
      name,
      args: args ?? {},
      endpoint: 'mcp',
      signal: AbortSignal.any([ctx.signal, cancel.signal]),
      logger: ctx.logger,
      mcp: callChannel(params, ctx),
      ...(ctx.callLog ? { callLog: ctx.callLog } : {}),
      ...(ctx.requesterIp ? { requesterIp: ctx.requesterIp } : {}),
      ...(ctx.userAgent ? { userAgent: ctx.userAgent } : {}),
    });
  } finally {
    if (ctx.session?.inflight.get(key) === cancel) ctx.session.inflight.delete(key);
  }
  if (cancel.signal.aborted) return rpcError(id, RPC_REQUEST_CANCELLED, 'Request cancelled by the client');
  return outcome.ok ? callSuccess(id, outcome) : callFailure(id, outcome.error);
}

async function initialize(id: JsonRpcId, params: Record<string, unknown>, ctx: DispatchContext) {
  const protocolVersion = await negotiateProtocolVersion(params['protocolVersion']);
  const has = federationOf(ctx.state.gen).has;
  let session: ClientSession | undefined;
  if (ctx.openSession) {
    const caps = params['capabilities'];
    session = ctx.openSession({ protocolVersion, clientCapabilities: isObject(caps) ? caps : {} });
    // What the caller sees now: a reload that changes it tells the session.
    const fp = viewFingerprints(ctx.state.gen, viewerOf(ctx));
    session.seen.tools = fp.tools;
    session.seen.prompts = fp.prompts;
    session.seen.resources = fp.resources;
  }
  const listChanged = session !== undefined;
  const capabilities: Record<string, unknown> = { tools: { listChanged } };
  if (has.resources) capabilities['resources'] = { subscribe: has.subscribe, listChanged };
  if (has.prompts) capabilities['prompts'] = { listChanged };
  if (has.completions) capabilities['completions'] = {};
  if (has.logging) capabilities['logging'] = {};
  return rpcResult(id, { protocolVersion, capabilities, serverInfo: { name: 'ati-proxy', version: VERSION } });
}

/** A notification from the client: only `notifications/cancelled` does something. */
function onNotification(method: string, params: unknown, ctx: DispatchContext): void {
  if (method !== 'notifications/cancelled' || !ctx.session || !isObject(params)) return;
  const requestId = params['requestId'];
  if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
  ctx.session.inflight.get(JSON.stringify(requestId))?.abort();
}

/**
 * Handles one JSON-RPC message. Returns the response, or undefined for a
 * notification (or a client's response), which get none.
 */
export async function dispatchRpc(msg: unknown, ctx: DispatchContext): Promise<JsonRpcResponse | undefined> {
  if (!isObject(msg))
    return rpcError(null, RPC_INVALID_REQUEST, 'Invalid Request: a JSON-RPC message must be an object');
  const hasId = 'id' in msg;
  const rawId = msg['id'];
  if (hasId && rawId !== null && typeof rawId !== 'string' && typeof rawId !== 'number') {
    return rpcError(null, RPC_INVALID_REQUEST, 'Invalid Request: id must be a string or a number');
  }
  const id = (rawId ?? null) as JsonRpcId;
  const method = msg['method'];
  if (method === undefined && hasId && ('result' in msg || 'error' in msg)) {
    // The client's answer to a request the proxy relayed to it (sampling, elicitation).
    ctx.session?.answer(rawId, msg['result'], msg['error']);
    return undefined;
  }
  if (msg['jsonrpc'] !== '2.0') {
    return hasId ? rpcError(id, RPC_INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"') : undefined;
  }
  if (typeof method !== 'string') {
    return hasId ? rpcError(id, RPC_INVALID_REQUEST, 'Invalid Request: method must be a string') : undefined;
  }
  // Notifications (initialized, cancelled, …) are never answered.
  if (!hasId) {
    onNotification(method, msg['params'], ctx);
    return undefined;
  }
  const rawParams = msg['params'];
  if (rawParams !== undefined && !isObject(rawParams)) {
    return rpcError(id, RPC_INVALID_PARAMS, 'Invalid params: params must be an object');
  }
  const params = rawParams ?? {};
  switch (method) {
    case 'initialize':
      return initialize(id, params, ctx);
    case 'ping':
      return rpcResult(id, {});
    case 'tools/list':
      return toolsList(id, params, ctx);
    case 'tools/call':
      return toolsCall(id, params, ctx);
    default:
      if (FEDERATED_METHODS.has(method)) {
        const answer = await federatedMethod(method, id, params, ctx);
        if (answer) return answer;
      }
      return rpcError(id, RPC_METHOD_NOT_FOUND, `Method not found: '${method}'`);
  }
}
