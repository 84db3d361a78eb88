/**
 * The sig-verify pipeline stage (ref-02 §3, `--sig-verify-mode`,
 * `--sig-drift-seconds`, `--sig-exempt-paths`). It runs before auth for named
 * routes, passthrough and WebSocket upgrades alike, on the canonical path.
 *
 * - Exempt paths (globs of the reference dialect, core/glob, not expanded) skip
 *   everything: no log line, no header, never 403.
 * - Admin routes (access `admin`) are not sig-verified (ref-02 §4.2); public
 *   named routes follow the exempt list like any other path.
 * - Every other request is verified and logged (INFO `sig_verify` with `mode`,
 *   `valid`, `reason`, `job_id`, `method`, `path`); then `log` continues, `warn`
 *   continues and sets `X-Signature-Status: <reason>` on whatever response
 *   follows, `enforce` answers 403 with the bare reason as body unless valid.
 */
import { hot } from '../metrics/metrics.js';
import type { IncomingMessage } from 'node:http';
import { AtiError } from '../../kernel/errors.js';
import { defineExtension, type GenerationExtension } from '../generation/extension.js';
import type { Generation } from '../generation/generation.js';
import { GlobSet } from '../../kernel/glob.js';
import type { Logger } from '../../kernel/logger.js';
import type { RequestState } from '../host/request-state.js';
import {
  decodeSigningSecret,
  JOB_ID_HEADER,
  MIN_SIGNING_SECRET_BYTES,
  SIGNATURE_HEADER,
  SIGNING_SECRET_ENTRIES,
  SIGNATURE_STATUS_HEADER,
  verifySignature,
  type SignatureReason,
} from '../../kernel/request-signature.js';
import type { PipelineStage, Rejection } from './types.js';
import type { SigVerifyMode } from '../../config/proxy-config.js';

export type { SigVerifyMode };

/** Exempt globs when `--sig-exempt-paths` is not given (ref-02 §3.5). */
export const DEFAULT_SIG_EXEMPT_PATHS: readonly string[] = [
  '/healthz',
  '/health',
  '/root/*',
  '/root/**',
  '/npm/*',
  '/npm/**',
  '/otel/*',
  '/otel/**',
  '/.well-known/jwks.json',
];

const MODE_LABEL: Record<SigVerifyMode, string> = { log: 'Log', warn: 'Warn', enforce: 'Enforce' };

/** Compiles the exempt list; a bad glob is a startup error `bad exempt path pattern '<p>': <error>`. */
export function compileExemptPaths(patterns: readonly string[]): GlobSet {
  for (const p of patterns) {
    try {
      new GlobSet([p]);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new AtiError('ATI_ERR_SIG_CONFIG', `bad exempt path pattern '${p}': ${reason}`);
    }
  }
  return new GlobSet(patterns);
}

/** What one verification concluded (for metrics). */
export interface SigVerdict {
  mode: SigVerifyMode;
  valid: boolean;
  reason: SignatureReason;
}

export interface SigVerifyOptions {
  mode: SigVerifyMode;
  driftSeconds: number;
  /** `null` = DEFAULT_SIG_EXEMPT_PATHS; a list replaces the defaults (as the reference). */
  exemptPaths: readonly string[] | null;
  logger: Logger;
  /** Wall clock in ms (tests inject one). */
  now?: () => number;
  /** Called after every verification (metrics hook). */
  onVerdict?: (v: SigVerdict) => void;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v[0] : v;
  // Node joins repeated unknown headers with ", "; the reference reads the first one.
  if (s !== undefined && s.includes(', ')) return req.headersDistinct[name]?.[0];
  return s;
}

/** Builds the stage; throws ATI_ERR_SIG_CONFIG on a bad exempt glob. */
export function createSigVerifyStage(opts: SigVerifyOptions): PipelineStage {
  const exempt = compileExemptPaths(opts.exemptPaths ?? DEFAULT_SIG_EXEMPT_PATHS);
  const now = opts.now ?? Date.now;
  const { mode, driftSeconds, logger, onVerdict } = opts;
  const label = MODE_LABEL[mode];
  return {
    name: 'sig-verify',
    run(req: IncomingMessage, state: RequestState): Rejection | undefined {
      if (state.named?.access === 'admin') return undefined;
      if (exempt.matches(state.path)) return undefined;
      const method = req.method ?? 'GET';
      const reason = verifySignature({
        header: headerValue(req, SIGNATURE_HEADER),
        method,
        path: state.path,
        secrets: state.gen.signingSecrets,
        nowSeconds: Math.floor(now() / 1000),
        maxDriftSeconds: driftSeconds,
      });
      const valid = reason === 'valid';
      const jobId = headerValue(req, JOB_ID_HEADER);
      logger.info(
        {
          mode: label,
          valid,
          reason,
          job_id: jobId ? jobId.slice(0, 256) : 'none',
          method,
          path: state.path,
          request_id: state.requestId,
        },
        'sig_verify',
      );
      hot.sigVerify.inc(`${mode} ${reason}`, { reason, mode });
      onVerdict?.({ mode, valid, reason });
      if (mode === 'warn') {
        (state.responseHeaders ??= []).push([SIGNATURE_STATUS_HEADER, reason]);
        return undefined;
      }
      if (mode === 'enforce' && !valid) {
        // The reference answers the bare reason string (clients and scrapers read it).
        return {
          error: new AtiError('ATI_ERR_SIGNATURE', reason),
          body: reason,
          contentType: 'text/plain; charset=utf-8',
        };
      }
      return undefined;
    },
  };
}

/** How many signing secrets (current, previous) a generation holds. */
const SIGNING_SECRET_REPORT = defineExtension<{ secrets: number }>('sig-verify');

/**
 * Logs, for every generation, whether a signing secret is loaded (ref-02 §3.4):
 * INFO `sandbox signing secret loaded` (`secret_bytes`, `previous_secret`) or a
 * WARN naming the missing entry. In enforce mode a generation without a secret
 * (a reload that removed it) is also an ERROR: every non-exempt request will 403.
 */
export function signingSecretReporter(mode: SigVerifyMode): GenerationExtension<{ secrets: number }> {
  return {
    key: SIGNING_SECRET_REPORT,
    async load({ keyring, logger }) {
      const [currentName, previousName] = SIGNING_SECRET_ENTRIES as [string, string];
      const current = decodeSigningSecret(keyring.get(currentName));
      const previous = decodeSigningSecret(keyring.get(previousName));
      if (current) {
        logger.info(
          { secret_bytes: current.length, previous_secret: previous !== undefined },
          'sandbox signing secret loaded',
        );
      } else if (keyring.has(currentName)) {
        logger.warn(
          { min_bytes: MIN_SIGNING_SECRET_BYTES, previous_secret: previous !== undefined },
          `sandbox signing secret '${currentName}' is empty or shorter than ${MIN_SIGNING_SECRET_BYTES} bytes and counts as absent — signatures made with it will fail`,
        );
      } else {
        logger.warn(
          { previous_secret: previous !== undefined },
          `sandbox signing secret '${currentName}' not present in keyring — all signatures will fail${previous ? ` except those made with '${previousName}'` : ''}`,
        );
      }
      if (mode === 'enforce' && !current && !previous) {
        logger.error(
          { mode: MODE_LABEL[mode] },
          `sig-verify is in enforce mode and no signing secret is loaded: every non-exempt request answers 403`,
        );
      }
      return { secrets: (current ? 1 : 0) + (previous ? 1 : 0) };
    },
  };
}

/**
 * Startup policy (ref-02 §3.7, §6.3): enforce mode without a signing secret
 * refuses to start; log/warn mode with passthrough and no secret starts with a
 * loud ERROR banner. Called once the first generation is built.
 */
export function checkSigVerifyStartup(
  mode: SigVerifyMode,
  enablePassthrough: boolean,
  gen: Generation,
  logger: Logger,
): void {
  if (gen.signingSecrets.length > 0) return;
  if (mode === 'enforce') {
    throw new AtiError(
      'ATI_ERR_SIG_CONFIG',
      `--sig-verify-mode enforce requires the keyring entry 'sandbox_signing_shared_secret' (at least ${MIN_SIGNING_SECRET_BYTES} bytes), ` +
        `but the keyring (${gen.keyring.source}) has none: every request would fail closed. Populate it ` +
        `(\`ati edge bootstrap-keyring\`, or ATI_KEY_SANDBOX_SIGNING_SHARED_SECRET together with --env-keys), ` +
        `or run with --sig-verify-mode log during rollout.`,
    );
  }
  if (enablePassthrough) {
    logger.error(
      { mode: MODE_LABEL[mode] },
      `*** SIG-VERIFY IS NON-BLOCKING AND NO SECRET IS CONFIGURED *** passthrough routes are effectively unauthenticated; ` +
        `set the keyring entry 'sandbox_signing_shared_secret' and use --sig-verify-mode enforce`,
    );
  }
}
