/**
 * INTERIM tool-call executor for `/mcp tools/call`, standing in for the shared
 * executor `core/tool-call.ts` (issue 5, not on main when this was written).
 * It has the same exported API (`executeToolCall`, `ToolCallRequest`,
 * `ToolCallOutcome`) and the same steps as `POST /call` (ref-01 §12.1):
 * resolve the name (exact, then the underscore alias of ref-01 §4) → scope check →
 * rate limit → dispatch to the provider's plugin → one `tool call` log line.
 * Not here yet: `response.extract` (JSONPath lives with issue 5).
 *
 * To switch: import from `./tool-call.js` in core/routes/mcp.ts, make the shared
 * executor copy `ToolResult.mcp` into its success outcome when no extraction ran,
 * and delete this file.
 */
import { AtiError, toAtiError } from './errors.js';
import { callRecordOf, type CallLog } from './call-log.js';
import type { Generation } from './generation.js';
import type { Logger } from './logger.js';
import type { CallContext, CallerIdentity, McpToolContent, ToolDefinition } from './plugin.js';
import { checkRateLimit } from './rate-limit.js';
import { toolAllowed } from './scopes.js';

/** The identity used when auth is not configured (dev mode, ref-01 §12.0). */
export const DEV_CALLER: CallerIdentity = Object.freeze({ sub: 'dev', scopes: Object.freeze(['*']), unrestricted: true });

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
  endpoint: CallContext['endpoint'];
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  logger: Logger;
  /** Where the call is recorded (`host.services.callLog`: the database call log, or nothing). */
  callLog?: CallLog;
  requesterIp?: string;
  userAgent?: string;
}

interface OutcomeBase {
  tool?: ToolDefinition;
  /** HTTP status `/call` would answer (200 on success). */
  status: number;
  upstreamStatus?: number;
  durationMs: number;
}

export interface ToolCallSuccess extends OutcomeBase {
  ok: true;
  tool: ToolDefinition;
  value: unknown;
  /** The upstream's MCP content, when the tool speaks MCP (forwarded unchanged by `/mcp`). */
  mcp?: McpToolContent;
}

export interface ToolCallFailure extends OutcomeBase {
  ok: false;
  error: AtiError;
  result: unknown;
  aborted?: boolean;
}

export type ToolCallOutcome = ToolCallSuccess | ToolCallFailure;

/** Exact lookup, then each `_` (left to right) replaced by `:`; the first hit wins (ref-01 §4). */
export function resolveToolName(tools: ReadonlyMap<string, ToolDefinition>, name: string): ToolDefinition | undefined {
  const exact = tools.get(name);
  if (exact) return exact;
  for (let i = name.indexOf('_'); i >= 0; i = name.indexOf('_', i + 1)) {
    const hit = tools.get(`${name.slice(0, i)}:${name.slice(i + 1)}`);
    if (hit) return hit;
  }
  return undefined;
}

/** The keys of an object argument (never the values), or the kind of anything else; for the log line. */
function argumentShape(args: unknown): string[] | string {
  if (args === undefined || args === null) return [];
  if (Array.isArray(args)) return `array(${args.length})`;
  if (typeof args === 'object') return Object.keys(args);
  return typeof args;
}

/** Runs one tool call end to end and logs it. Never throws. */
export async function executeToolCall(req: ToolCallRequest): Promise<ToolCallOutcome> {
  const t0 = performance.now();
  const elapsed = () => Math.round((performance.now() - t0) * 1000) / 1000;
  const fail = (error: AtiError, tool?: ToolDefinition): ToolCallFailure => {
    const f: ToolCallFailure = { ok: false, error, status: error.status, result: null, durationMs: elapsed() };
    if (tool) f.tool = tool;
    if (req.signal.aborted) f.aborted = true;
    return f;
  };
  let outcome: ToolCallOutcome;
  const tool = resolveToolName(req.gen.tools, req.name);
  if (!tool) {
    outcome = fail(new AtiError('ATI_ERR_UNKNOWN_TOOL', `Unknown tool: '${req.name}'`));
  } else if (req.authConfigured && !req.caller) {
    outcome = fail(new AtiError('ATI_ERR_FORBIDDEN', AUTH_REQUIRED_MESSAGE), tool);
  } else if (!toolAllowed(req.caller, tool)) {
    outcome = fail(new AtiError('ATI_ERR_FORBIDDEN', `Access denied: '${tool.name}' is not in your scopes`), tool);
  } else {
    const limited = checkRateLimit(req.caller, tool.name);
    if (limited) {
      outcome = fail(limited, tool);
    } else {
      const call = req.gen.providers.get(tool.provider)?.provisioned.call;
      try {
        if (!call) throw new AtiError('ATI_ERR_INTERNAL', `provider "${tool.provider}" cannot run tools`);
        const r = await call(tool, req.args, {
          requestId: req.requestId,
          caller: req.caller ?? DEV_CALLER,
          signal: req.signal,
          logger: req.logger,
          keyring: req.gen.keyring.accessor(),
          requestedName: req.name,
          endpoint: req.endpoint,
        });
        const ok: ToolCallSuccess = { ok: true, tool, value: r.value, status: 200, durationMs: elapsed() };
        if (r.upstreamStatus !== undefined) ok.upstreamStatus = r.upstreamStatus;
        if (r.mcp) ok.mcp = r.mcp;
        outcome = ok;
      } catch (err) {
        outcome = fail(toAtiError(err, 'ATI_ERR_PLUGIN'), tool);
      }
    }
  }
  const fields: Record<string, unknown> = {
    request_id: req.requestId,
    endpoint: req.endpoint,
    tool: outcome.tool?.name ?? req.name,
    provider: outcome.tool?.provider ?? null,
    handler: outcome.tool?.handler ?? null,
    sub: req.caller?.sub ?? (req.authConfigured ? null : DEV_CALLER.sub),
    status: outcome.status,
    latency_ms: outcome.durationMs,
    args: argumentShape(req.args),
  };
  if (outcome.tool && outcome.tool.name !== req.name) fields['requested_tool'] = req.name;
  if (!outcome.ok) {
    fields['code'] = outcome.error.code;
    fields['error'] = outcome.error.message;
    if (outcome.aborted) fields['aborted'] = true;
  }
  if (outcome.status >= 500) req.logger.warn(fields, 'tool call');
  else req.logger.info(fields, 'tool call');
  req.callLog?.record(callRecordOf(req, outcome));
  return outcome;
}
