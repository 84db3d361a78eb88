/**
 * The call log contract: one record per `POST /call`, `/mcp` `tools/call` and
 * `POST /help`, written after the response is known — including denials
 * (403), rate limits (429), unknown tools (404) and bad arguments, so abuse
 * shows up (docs/reference-compat.md#call-log).
 *
 * `record` is synchronous, cheap and never throws: the database writer
 * (core/db/call-log-writer.ts) buffers and writes in batches; without a
 * database the host's `services.callLog` is a no-op. Call sites:
 *
 *   host.services.callLog.record({ endpoint: 'call', tool: tool.name, provider: tool.provider,
 *     handler: tool.handler, caller: state.caller, args, status: 'success', durationMs,
 *     upstreamStatus, requestId: state.requestId, requesterIp, userAgent, responseSize });
 */
import type { AtiError, ErrorCode } from '../../kernel/errors.js';
import type { CallerIdentity, ToolDefinition } from '../plugin/contract.js';

export type CallEndpoint = 'call' | 'mcp' | 'help';

export type CallStatus =
  | 'success'
  | 'tool_error'
  | 'upstream_error'
  | 'denied'
  | 'rate_limited'
  | 'bad_request'
  | 'not_found'
  | 'internal_error';

export interface CallRecord {
  endpoint: CallEndpoint;
  /** The resolved (canonical) tool name; null for `/help` without a tool. */
  tool?: string | null;
  provider?: string | null;
  /** The provider's handler (`http`, `mcp`, …). */
  handler?: string | null;
  caller?: CallerIdentity | undefined;
  /** The call's arguments as received; redacted and bounded before they are stored. */
  args?: unknown;
  status: CallStatus;
  durationMs: number;
  /** Default: now − durationMs. */
  startedAt?: Date;
  /** Safe message (AtiError messages are); cut to 2,000 characters. */
  error?: string | null;
  /** Error class, e.g. the `ATI_ERR_*` code. */
  errorClass?: string | null;
  upstreamStatus?: number | null;
  /** The host's request id; used as the row's id when it is a UUID not used before. */
  requestId?: string;
  /** Bytes of the JSON response. */
  responseSize?: number | null;
  requesterIp?: string | null;
  userAgent?: string | null;
  /** Groups an agent run; default: the caller's `jobId`. */
  sessionId?: string | null;
}

export interface CallLog {
  record(entry: CallRecord): void;
}

/** The call log used when no database is configured. */
export const NO_CALL_LOG: CallLog = { record: () => undefined };

const STATUS_BY_CODE: Partial<Record<ErrorCode, CallStatus>> = {
  ATI_ERR_FORBIDDEN: 'denied',
  ATI_ERR_UNAUTHENTICATED: 'denied',
  ATI_ERR_RATE_LIMITED: 'rate_limited',
  ATI_ERR_UNKNOWN_TOOL: 'not_found',
  ATI_ERR_NOT_FOUND: 'not_found',
  ATI_ERR_TOOL_ARGS: 'bad_request',
  ATI_ERR_BAD_REQUEST: 'bad_request',
  ATI_ERR_INVALID_REQUEST: 'bad_request',
  ATI_ERR_BODY_TOO_LARGE: 'bad_request',
  ATI_ERR_UPSTREAM: 'upstream_error',
  ATI_ERR_UPSTREAM_TIMEOUT: 'upstream_error',
  ATI_ERR_PLUGIN: 'tool_error',
};

/** The call-log status of a failed call. */
export function callStatusOf(err: AtiError): CallStatus {
  return STATUS_BY_CODE[err.code] ?? 'internal_error';
}

/** Where a call came from, for the log row (the request's socket and headers). */
export interface CallOrigin {
  /** The client's address (`request.ip`). */
  requesterIp?: string | undefined;
  userAgent?: string | undefined;
}

/** The record of one tool-call executor run (core/tools/tool-call.ts): what `/call` and `/mcp tools/call` log. */
export function callRecordOf(
  req: {
    endpoint: string;
    name: string;
    args: unknown;
    caller: CallerIdentity | undefined;
    requestId: string;
  } & CallOrigin,
  outcome: { ok: boolean; tool?: ToolDefinition; durationMs: number; upstreamStatus?: number; error?: AtiError },
): CallRecord {
  const endpoint: CallEndpoint = req.endpoint === 'mcp' ? 'mcp' : req.endpoint === 'help' ? 'help' : 'call';
  return {
    endpoint,
    tool: outcome.tool?.name ?? req.name,
    provider: outcome.tool?.provider ?? null,
    handler: outcome.tool?.handler ?? null,
    caller: req.caller,
    args: req.args,
    status: outcome.ok ? 'success' : outcome.error ? callStatusOf(outcome.error) : 'internal_error',
    durationMs: outcome.durationMs,
    error: outcome.error?.message ?? null,
    errorClass: outcome.error?.code ?? null,
    upstreamStatus: outcome.upstreamStatus ?? null,
    requestId: req.requestId,
    requesterIp: req.requesterIp ?? null,
    userAgent: req.userAgent ?? null,
  };
}
