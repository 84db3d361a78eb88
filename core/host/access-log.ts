/**
 * The access log and the request metrics: one line and one count per
 * finished request (`close` of the response), with the route label the
 * dispatch decided on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../kernel/logger.js';
import { hot } from '../metrics/metrics.js';
import type { RequestState } from './request-state.js';

/** Counts the request in `ati_http_requests_total` / `…_duration_seconds` and logs it (WARN for 5xx). */
export function logRequest(logger: Logger, req: IncomingMessage, res: ServerResponse, state: RequestState): void {
  const durationMs = Number(process.hrtime.bigint() - state.start) / 1e6;
  const route = state.path ? state.route : 'invalid';
  const method = req.method ?? 'GET';
  const status = res.statusCode;
  hot.requests.inc(`${status} ${method} ${route}`, { method, route, status });
  hot.requestDuration.observe(route, { route }, durationMs / 1000);
  const level = status >= 500 ? 'warn' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  logger[level](
    {
      request_id: state.requestId,
      method: req.method,
      path: state.path || '(invalid)',
      route: state.route,
      status: res.statusCode,
      duration_ms: Math.round(durationMs * 1000) / 1000,
      generation: state.gen.id,
      ...(state.caller ? { sub: state.caller.sub } : {}),
      ...(res.writableFinished ? {} : { aborted: true }),
    },
    'request',
  );
}
