/**
 * The one tool-call executor, shared by `POST /call` and `/mcp tools/call` (the
 * reference's two routes behaved differently;
 * docs/reference-compat.md#the-mcp-endpoint): resolve the name (exact, then the
 * reference's underscore alias), check scopes, check the rate limit, dispatch
 * to the provider's plugin, apply `response.extract`, and log one line. The
 * resolved name is what is scoped, rate-limited, passed to the plugin and
 * logged (the reference used the alias for everything but the lookup). Routes
 * only translate the outcome into their wire format.
 *
 * Status codes (docs/reference-compat.md#status-codes): unknown tool 404,
 * scope 403, rate limit 429, bad arguments 400, missing keyring entry 500,
 * upstream error 502, upstream timeout 504, response extraction error 500
 * (with the raw result).
 */
import { AtiError, toAtiError } from '../../kernel/errors.js';
import { callRecordOf, type CallLog } from './call-log.js';
import type { Generation } from '../generation/generation.js';
import type { Logger } from '../../kernel/logger.js';
import type {
  CallContext,
  CallerIdentity,
  KeyringAccessor,
  McpCallChannel,
  McpToolContent,
  ToolDefinition,
  ToolResult,
} from '../plugin/contract.js';
import { checkRateLimit } from '../pipeline/rate-limit.js';
import { extractJsonPath } from './response-extract.js';
import { toolAllowed } from '../pipeline/scopes.js';

/** The identity used when auth is not configured (dev mode, as in the reference). */
export const DEV_CALLER: CallerIdentity = Object.freeze({
  sub: 'dev',
  scopes: Object.freeze(['*']),
  unrestricted: true,
});

export const AUTH_REQUIRED_MESSAGE = 'Authentication required — no JWT provided';

export interface ToolCallRequest {
  gen: Generation;
  /** Undefined when auth is not configured (dev mode) or the caller is unknown. */
  caller: CallerIdentity | undefined;
  authConfigured: boolean;
  requestId: string;
  /** The name as the client wrote it. */
  name: string;
  args: unknown;
  rawArgs?: readonly string[];
  endpoint: CallContext['endpoint'];
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  logger: Logger;
  /** Where the call is recorded (`host.services.callLog`: the database call log, or nothing). */
  callLog?: CallLog;
  requesterIp?: string;
  userAgent?: string;
  /** `/mcp` calls: how the plugin relays progress, logs and requests to the client. */
  mcp?: McpCallChannel;
}

interface OutcomeBase {
  /** The resolved tool, when the name resolved. */
  tool?: ToolDefinition;
  /** HTTP status for `/call` (200 on success). */
  status: number;
  upstreamStatus?: number;
  durationMs: number;
}

export interface ToolCallSuccess extends OutcomeBase {
  ok: true;
  tool: ToolDefinition;
  value: unknown;
  /** The upstream's MCP content, when the tool speaks MCP and no extraction changed the value (`/mcp` forwards it unchanged). */
  mcp?: McpToolContent;
}

export interface ToolCallFailure extends OutcomeBase {
  ok: false;
  error: AtiError;
  /** What `/call` returns as `result` beside the error: null, or the raw value when extraction failed. */
  result: unknown;
  /** The client went away before the call finished. */
  aborted?: boolean;
}

export type ToolCallOutcome = ToolCallSuccess | ToolCallFailure;

/**
 * Exact lookup, then the underscore alias: each `_` from left to right is
 * replaced by `:` in turn and looked up; the first hit wins (as in the reference).
 */
export function resolveToolName(tools: ReadonlyMap<string, ToolDefinition>, name: string): ToolDefinition | undefined {
  const exact = tools.get(name);
  if (exact) return exact;
  for (let i = name.indexOf('_'); i >= 0; i = name.indexOf('_', i + 1)) {
    const hit = tools.get(`${name.slice(0, i)}:${name.slice(i + 1)}`);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * The shape of the arguments for logs and audit: the keys of an object (never
 * the values), or the kind and length of anything else.
 */
export function argumentShape(args: unknown): string[] | string {
  if (args === undefined || args === null) return [];
  if (Array.isArray(args)) return `array(${args.length})`;
  if (typeof args === 'object') return Object.keys(args);
  return typeof args;
}

const accessors = new WeakMap<Generation, KeyringAccessor>();

/** One keyring accessor per generation (call-time reads need no recording). */
function keyringOf(gen: Generation): KeyringAccessor {
  let a = accessors.get(gen);
  if (!a) {
    a = gen.keyring.accessor();
    accessors.set(gen, a);
  }
  return a;
}

/** The scope check of a tool call; undefined when allowed. */
export function scopeError(
  tool: ToolDefinition,
  caller: CallerIdentity | undefined,
  authConfigured: boolean,
): AtiError | undefined {
  if (authConfigured && !caller) return new AtiError('ATI_ERR_FORBIDDEN', AUTH_REQUIRED_MESSAGE);
  if (!toolAllowed(caller, tool))
    return new AtiError('ATI_ERR_FORBIDDEN', `Access denied: '${tool.name}' is not in your scopes`);
  return undefined;
}

/**
 * Dispatches to the tool's provider without name resolution or policy checks
 * (used by the executor, and by `/help` for the internal LLM tool).
 */
export async function dispatchTool(
  gen: Generation,
  tool: ToolDefinition,
  args: unknown,
  ctx: Omit<CallContext, 'keyring'>,
): Promise<ToolResult> {
  const instance = gen.providers.get(tool.provider);
  const call = instance?.provisioned.call;
  if (!call) throw new AtiError('ATI_ERR_INTERNAL', `provider "${tool.provider}" cannot run tools`);
  try {
    return await call(tool, args, { ...ctx, keyring: keyringOf(gen) });
  } catch (err) {
    const e = toAtiError(err, 'ATI_ERR_PLUGIN');
    // An error the plugin did not classify is the plugin's failure: name it.
    if (e.code === 'ATI_ERR_PLUGIN' && !(err instanceof AtiError)) {
      throw new AtiError('ATI_ERR_PLUGIN', `handler plugin "${instance!.plugin.name}" failed: ${e.message}`, {
        cause: err,
      });
    }
    throw e;
  }
}

/** Runs one tool call end to end and logs it. Never throws. */
export async function executeToolCall(req: ToolCallRequest): Promise<ToolCallOutcome> {
  const t0 = performance.now();
  let outcome: ToolCallOutcome;
  try {
    outcome = await run(req, t0);
  } catch (err) {
    // A bug in a policy hook (rate limiter …) must still produce one answer and one log line.
    const error = toAtiError(err);
    outcome = {
      ok: false,
      error,
      status: error.status,
      result: null,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
  }
  logCall(req, outcome);
  req.callLog?.record(callRecordOf(req, outcome));
  return outcome;
}

async function run(req: ToolCallRequest, t0: number): Promise<ToolCallOutcome> {
  const elapsed = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const fail = (error: AtiError, tool?: ToolDefinition, extra: Partial<ToolCallFailure> = {}): ToolCallFailure => {
    const f: ToolCallFailure = {
      ok: false,
      error,
      status: error.status,
      result: null,
      durationMs: elapsed(),
      ...extra,
    };
    if (tool) f.tool = tool;
    return f;
  };

  const tool = resolveToolName(req.gen.tools, req.name);
  if (!tool) return fail(new AtiError('ATI_ERR_UNKNOWN_TOOL', `Unknown tool: '${req.name}'`));
  const denied = scopeError(tool, req.caller, req.authConfigured);
  if (denied) return fail(denied, tool);
  const limited = checkRateLimit(req.caller, tool.name);
  if (limited) return fail(limited, tool);

  const ctx: Omit<CallContext, 'keyring'> = {
    requestId: req.requestId,
    caller: req.caller ?? DEV_CALLER,
    signal: req.signal,
    logger: req.logger,
    requestedName: req.name,
    endpoint: req.endpoint,
    ...(req.rawArgs ? { rawArgs: req.rawArgs } : {}),
    ...(req.mcp ? { mcp: req.mcp } : {}),
  };
  let result;
  try {
    result = await dispatchTool(req.gen, tool, req.args, ctx);
  } catch (err) {
    const e = err as AtiError;
    const upstream = e.details?.['upstream_status'];
    return fail(e, tool, {
      ...(typeof upstream === 'number' ? { upstreamStatus: upstream } : {}),
      ...(req.signal.aborted ? { aborted: true } : {}),
    });
  }
  const upstreamStatus = result.upstreamStatus;
  let value = result.value;
  if (tool.responseExtract !== undefined && !result.skipExtraction) {
    try {
      value = extractJsonPath(value, tool.responseExtract);
    } catch (err) {
      const e = new AtiError('ATI_ERR_INTERNAL', `Response processing error: ${(err as Error).message}`);
      return fail(e, tool, { result: value, ...(upstreamStatus !== undefined ? { upstreamStatus } : {}) });
    }
  }
  const ok: ToolCallSuccess = { ok: true, tool, value, status: 200, durationMs: elapsed() };
  if (upstreamStatus !== undefined) ok.upstreamStatus = upstreamStatus;
  if (result.mcp && value === result.value) ok.mcp = result.mcp;
  return ok;
}

function logCall(req: ToolCallRequest, o: ToolCallOutcome): void {
  const fields: Record<string, unknown> = {
    request_id: req.requestId,
    endpoint: req.endpoint,
    tool: o.tool?.name ?? req.name,
    provider: o.tool?.provider ?? null,
    handler: o.tool?.handler ?? null,
    sub: req.caller?.sub ?? (req.authConfigured ? null : DEV_CALLER.sub),
    status: o.status,
    latency_ms: o.durationMs,
    upstream_status: o.upstreamStatus ?? null,
    args: argumentShape(req.args),
  };
  if (o.tool && o.tool.name !== req.name) fields['requested_tool'] = req.name;
  if (!o.ok) {
    fields['code'] = o.error.code;
    fields['error'] = o.error.message;
    if (o.aborted) fields['aborted'] = true;
  }
  if (o.status >= 500) req.logger.warn(fields, 'tool call');
  else req.logger.info(fields, 'tool call');
}
