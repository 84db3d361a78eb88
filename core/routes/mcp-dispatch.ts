/**
 * The JSON-RPC methods of `POST /mcp` (ATI as an MCP server), with what the
 * reference lacked (docs/reference-compat.md#the-mcp-endpoint): `ping`, cursor pagination
 * of `tools/list`, `tools/call` through the same executor as `POST /call`
 * (alias, scopes, rate limits, log line), MCP content forwarded unchanged, an
 * MCP tool error returned as `isError: true`, notifications never answered, and
 * `jsonrpc: "2.0"` checked.
 *
 * Error codes: −32700 parse error, −32600 invalid request, −32601 unknown method,
 * −32602 bad params / unknown tool / bad arguments, −32001 access denied (the
 * reference's code), −32029 rate limited (this build; `data.retry_after` in
 * seconds when known). Every error carries `data.code`, the `ATI_ERR_…` code.
 */
import type { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import { ToolContentError, type ToolDefinition } from '../plugin/contract.js';
import type { RequestState } from '../host/request-state.js';
import { toolAllowed } from '../pipeline/scopes.js';
import { executeToolCall, type ToolCallOutcome } from '../tools/tool-call.js';
import type { CallLog } from '../tools/call-log.js';
import { VERSION } from '../../kernel/version.js';

export const RPC_PARSE_ERROR = -32700;
export const RPC_INVALID_REQUEST = -32600;
export const RPC_METHOD_NOT_FOUND = -32601;
export const RPC_INVALID_PARAMS = -32602;
export const RPC_ACCESS_DENIED = -32001;
export const RPC_RATE_LIMITED = -32029;

/** The version the reference always answered; used when a client does not say which it wants. */
export const DEFAULT_PROTOCOL_VERSION = '2025-03-26';

export type JsonRpcId = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: Record<string, unknown> };
}

export interface DispatchContext {
  state: RequestState;
  logger: Logger;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  /** Tools per `tools/list` page. */
  pageSize: number;
  /** Where `tools/call` is recorded (`host.services.callLog`). */
  callLog?: CallLog;
  requesterIp?: string;
  userAgent?: string;
}

export function rpcError(
  id: JsonRpcId,
  code: number,
  message: string,
  data?: Record<string, unknown>,
): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data ? { code, message, data } : { code, message } };
}

function rpcResult(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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

/**
 * An MCP `inputSchema` must be an object schema: a tool without a schema gets the
 * empty object schema; `x-ati-*` keys are kept (as the reference does).
 */
export function mcpInputSchema(schema: Record<string, unknown> | null): Record<string, unknown> {
  if (!schema) return { type: 'object', properties: {} };
  if (schema['type'] === 'object') return schema;
  if (schema['type'] === undefined) return { ...schema, type: 'object' };
  return { type: 'object', properties: {} };
}

/** The caller as scopes see it: no caller with auth configured means no scopes at all (as in the reference). */
function visible(state: RequestState, tool: ToolDefinition): boolean {
  if (state.authConfigured && !state.caller) return tool.scope === null || tool.scope === '';
  return toolAllowed(state.caller, tool);
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: unknown): number | undefined {
  if (typeof cursor !== 'string') return undefined;
  const m = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}

function toolsList(id: JsonRpcId, params: Record<string, unknown>, ctx: DispatchContext): JsonRpcResponse {
  let offset = 0;
  if (params['cursor'] !== undefined) {
    const o = decodeCursor(params['cursor']);
    if (o === undefined)
      return rpcError(id, RPC_INVALID_PARAMS, 'Invalid params: unknown cursor', { code: 'ATI_ERR_INVALID_REQUEST' });
    offset = o;
  }
  // The listing is recomputed per page from the request's generation; a reload between pages can shift it.
  const tools = ctx.state.gen.publicTools().filter((t) => visible(ctx.state, t));
  const page = tools.slice(offset, offset + ctx.pageSize);
  const result: Record<string, unknown> = {
    tools: page.map((t) => ({ name: t.name, description: t.description, inputSchema: mcpInputSchema(t.inputSchema) })),
  };
  if (offset + ctx.pageSize < tools.length) result['nextCursor'] = encodeCursor(offset + ctx.pageSize);
  return rpcResult(id, result);
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
    const result: Record<string, unknown> = { content: o.mcp.content, isError: false };
    if (o.mcp.structuredContent !== undefined) result['structuredContent'] = o.mcp.structuredContent;
    return rpcResult(id, result);
  }
  const v = o.value;
  const text = typeof v === 'string' ? v : (JSON.stringify(v ?? null, null, 2) ?? 'null');
  return rpcResult(id, { content: [{ type: 'text', text }], isError: false });
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
  const outcome = await executeToolCall({
    gen: s.gen,
    caller: s.caller,
    authConfigured: s.authConfigured,
    requestId: s.requestId,
    name,
    args: args ?? {},
    endpoint: 'mcp',
    signal: ctx.signal,
    logger: ctx.logger,
    ...(ctx.callLog ? { callLog: ctx.callLog } : {}),
    ...(ctx.requesterIp ? { requesterIp: ctx.requesterIp } : {}),
    ...(ctx.userAgent ? { userAgent: ctx.userAgent } : {}),
  });
  return outcome.ok ? callSuccess(id, outcome) : callFailure(id, outcome.error);
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
  if (method === undefined && hasId && ('result' in msg || 'error' in msg)) return undefined; // a response to us: we send no requests
  if (msg['jsonrpc'] !== '2.0') {
    return hasId ? rpcError(id, RPC_INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"') : undefined;
  }
  if (typeof method !== 'string') {
    return hasId ? rpcError(id, RPC_INVALID_REQUEST, 'Invalid Request: method must be a string') : undefined;
  }
  // Notifications (initialized, cancelled, …) are accepted and never answered.
  if (!hasId) return undefined;
  const rawParams = msg['params'];
  if (rawParams !== undefined && !isObject(rawParams)) {
    return rpcError(id, RPC_INVALID_PARAMS, 'Invalid params: params must be an object');
  }
  const params = rawParams ?? {};
  switch (method) {
    case 'initialize':
      return rpcResult(id, {
        protocolVersion: await negotiateProtocolVersion(params['protocolVersion']),
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name: 'ati-proxy', version: VERSION },
      });
    case 'ping':
      return rpcResult(id, {});
    case 'tools/list':
      return toolsList(id, params, ctx);
    case 'tools/call':
      return toolsCall(id, params, ctx);
    default:
      return rpcError(id, RPC_METHOD_NOT_FOUND, `Method not found: '${method}'`);
  }
}
