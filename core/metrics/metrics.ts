/**
 * Process metrics in Prometheus text format (prom-client). One registry per
 * process: the counters describe the process, whatever generation served.
 * Modules increment the counters they own; `GET /metrics` renders them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.js';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'ati_process_' });

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const metrics = {
  requests: new Counter({
    name: 'ati_http_requests_total',
    help: 'HTTP requests by method, route template (passthrough: route name; unmatched: "unmatched") and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    collect: (): void => hot.requests.flush(),
  }),
  requestDuration: new Histogram({
    name: 'ati_http_request_duration_seconds',
    help: 'Time from request arrival to response end, by route',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
    collect: (): void => hot.requestDuration.flush(),
  }),
  upstreamDuration: new Histogram({
    name: 'ati_upstream_duration_seconds',
    help: 'Upstream latency of tool calls by provider and handler',
    labelNames: ['provider', 'handler'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  inFlight: new Gauge({
    name: 'ati_http_in_flight_requests',
    help: 'Requests being served now',
    registers: [registry],
    collect(): void {
      this.set(hot.inFlight);
    },
  }),
  sigVerify: new Counter({
    name: 'ati_sig_verify_total',
    help: 'Signature verifications by reason (valid, missing_signature, hmac_mismatch, …) and mode',
    labelNames: ['reason', 'mode'] as const,
    registers: [registry],
    collect: (): void => hot.sigVerify.flush(),
  }),
  auth: new Counter({
    name: 'ati_auth_total',
    help: 'Caller authentication outcomes (jwt_ok, jwt_rejected, key_ok, key_rejected, dev, public, passthrough_bypass)',
    labelNames: ['outcome'] as const,
    registers: [registry],
    collect: (): void => hot.auth.flush(),
  }),
  rateLimited: new Counter({
    name: 'ati_rate_limited_total',
    help: 'Calls refused by a rate limit (429)',
    registers: [registry],
  }),
  reloads: new Counter({
    name: 'ati_reload_total',
    help: 'Reload attempts by result (applied, unchanged, rejected) and trigger',
    labelNames: ['result', 'trigger'] as const,
    registers: [registry],
  }),
  generation: new Gauge({ name: 'ati_generation', help: 'Id of the serving generation', registers: [registry] }),
  lastReloadSuccess: new Gauge({
    name: 'ati_reload_last_success_timestamp_seconds',
    help: 'Unix time of the last applied (or unchanged) reload or of startup',
    registers: [registry],
  }),
  configSynchronized: new Gauge({
    name: 'ati_config_synchronized',
    help: '1 when the files on disk are what is serving, 0 after a rejected reload',
    registers: [registry],
  }),
  keyCache: new Counter({
    name: 'ati_key_cache_total',
    help: 'Virtual-key cache lookups by result (hit, miss, negative_hit)',
    labelNames: ['result'] as const,
    registers: [registry],
  }),
  callLogDropped: new Counter({
    name: 'ati_call_log_dropped_total',
    help: 'Call-log rows dropped because the database was unavailable and the buffer was full',
    registers: [registry],
  }),
};

/**
 * The request-path side of the metrics above (core/metrics/hot-metrics.ts): plain
 * numbers bumped per request, folded into the prom-client metrics when they
 * are collected. Use these on the request path; `metrics.*` everywhere else.
 */
export const hot = {
  requests: new HotCounter(metrics.requests),
  requestDuration: new HotHistogram(metrics.requestDuration),
  sigVerify: new HotCounter(metrics.sigVerify),
  auth: new HotCounter(metrics.auth),
  /** Requests being served now (`ati_http_in_flight_requests`). */
  inFlight: 0,
};

/** Collapses a trigger description (`watch (a.toml, …)`) to its kind for a low-cardinality label. */
export function triggerKind(reason: string): string {
  return /^[a-zA-Z]+/.exec(reason)?.[0]?.toLowerCase() ?? 'other';
}
