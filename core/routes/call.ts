/**
 * `POST /call` (docs/tool-calls.md): body `{"tool_name": string, "args"?: any,
 * "raw_args"?: [string]}`, answered with `{"result": …}` or
 * `{"result": null|raw, "error": "…", "code": "ATI_ERR_…"}`. Like the
 * reference, the body is parsed whatever its Content-Type, up to the
 * reference's cap (⌊1 GiB × 4/3⌋ + 8 KiB); invalid JSON or a bad shape is 422
 * "Invalid request: …". Everything else is the shared executor (core/tools/tool-call.ts).
 * The client's disconnect aborts the upstream call.
 */
import { errorBody } from '../../kernel/error-response.js';
import type { FastifyReply } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import { stateOf } from '../host/request-state.js';
import { executeToolCall, type ToolCallOutcome } from '../tools/tool-call.js';

/** The reference's `max_call_body_bytes`. */
export const MAX_CALL_BODY_BYTES = Math.floor((1024 ** 3 * 4) / 3) + 8 * 1024;

export interface CallRequestBody {
  tool_name: string;
  args: unknown;
  raw_args?: string[];
}

function invalid(why: string): AtiError {
  return new AtiError('ATI_ERR_INVALID_REQUEST', `Invalid request: ${why}`);
}

/** Parses and checks the body; throws 422 with a precise reason. */
export function parseCallBody(text: string): CallRequestBody {
  if (text.trim() === '') throw invalid('empty body; expected {"tool_name": "...", "args": {...}}');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw invalid(`body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('body must be a JSON object');
  const d = doc as Record<string, unknown>;
  if (!('tool_name' in d)) throw invalid('missing field `tool_name`');
  if (typeof d['tool_name'] !== 'string') throw invalid('`tool_name` must be a string');
  const out: CallRequestBody = { tool_name: d['tool_name'], args: d['args'] ?? {} };
  const raw = d['raw_args'];
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string'))
      throw invalid('`raw_args` must be an array of strings');
    out.raw_args = raw as string[];
  }
  return out;
}

/** The `/call` response body for an outcome. */
export function callResponseBody(o: ToolCallOutcome): Record<string, unknown> {
  if (o.ok) return { result: o.value };
  return errorBody(o.error, { fields: { result: o.result ?? null }, details: false });
}

function sendError(reply: FastifyReply, e: AtiError): FastifyReply {
  return reply
    .code(e.status)
    .type('application/json')
    .send(errorBody(e, { fields: { result: null }, details: false }));
}

/** An AbortSignal that fires when the client connection closes before the response is sent. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

export const callRoutes: RouteModule = async (app, host) => {
  await app.register(async (scope) => {
    // The reference reads /call bodies itself, whatever the Content-Type.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_CALL_BODY_BYTES }, (_req, body, done) =>
      done(null, body),
    );

    scope.post('/call', async (request, reply) => {
      const state = stateOf(request);
      let body: CallRequestBody;
      try {
        body = parseCallBody(typeof request.body === 'string' ? request.body : '');
      } catch (err) {
        return sendError(reply, err as AtiError);
      }
      const outcome = await executeToolCall({
        gen: state.gen,
        caller: state.caller,
        authConfigured: state.authConfigured,
        requestId: state.requestId,
        name: body.tool_name,
        args: body.args,
        ...(body.raw_args ? { rawArgs: body.raw_args } : {}),
        endpoint: 'call',
        signal: clientSignal(reply),
        logger: host.logger,
        callLog: host.services.callLog,
        requesterIp: request.ip,
        ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
      });
      // Errors carry their own response headers (the rate limiter's `Retry-After` …).
      if (!outcome.ok && outcome.error.headers) void reply.headers(outcome.error.headers);
      return reply.code(outcome.status).type('application/json').send(callResponseBody(outcome));
    });
  });
};
