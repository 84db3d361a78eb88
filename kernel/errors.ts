/**
 * One table of error codes. Every error response and every fatal startup error
 * carries one of these codes, so operators can grep logs and clients can branch
 * on a stable string. The table is documented in docs/errors.md (keep in sync:
 * test/kernel/errors.test.ts checks that every code is documented).
 */

export interface ErrorSpec {
  /** HTTP status used when the error reaches a client. */
  status: number;
  /** Process exit code used when the error is fatal at startup or in a CLI command. */
  exit: number;
  /** Short description, used in docs and as the default message. */
  message: string;
}

export const ERRORS = {
  // ── startup / configuration ────────────────────────────────────────────
  ATI_ERR_CONFIG: { status: 500, exit: 2, message: 'invalid configuration' },
  ATI_ERR_MANIFESTS_DIR: { status: 500, exit: 1, message: 'manifests directory missing' },
  ATI_ERR_MANIFEST_INVALID: { status: 500, exit: 2, message: 'one or more manifests are invalid' },
  ATI_ERR_PROVISION: { status: 500, exit: 1, message: 'a provider failed to provision' },
  ATI_ERR_LISTEN: { status: 500, exit: 1, message: 'could not bind the listener' },
  ATI_ERR_KEYRING: { status: 500, exit: 1, message: 'keyring could not be loaded' },
  ATI_ERR_AUTH_CONFIG: { status: 500, exit: 1, message: 'authentication configuration is unusable' },
  ATI_ERR_SIG_CONFIG: { status: 500, exit: 1, message: 'signature verification configuration is unusable' },
  ATI_ERR_DB: { status: 503, exit: 1, message: 'database unavailable' },
  ATI_ERR_DB_SCHEMA: { status: 500, exit: 1, message: 'database schema is not migrated' },
  ATI_ERR_USAGE: { status: 400, exit: 2, message: 'bad command-line usage' },
  ATI_ERR_IO: { status: 500, exit: 1, message: 'file system error' },
  ATI_ERR_SECRET_SOURCE: { status: 502, exit: 1, message: 'the secret source (1Password `op`, --from-json) failed' },
  ATI_ERR_SIGNAL: { status: 500, exit: 1, message: 'could not signal the proxy service' },

  // ── request handling ───────────────────────────────────────────────────
  ATI_ERR_NOT_FOUND: { status: 404, exit: 1, message: 'not found' },
  ATI_ERR_METHOD_NOT_ALLOWED: { status: 405, exit: 1, message: 'method not allowed' },
  ATI_ERR_BAD_PATH: { status: 400, exit: 1, message: 'request path is not canonical' },
  ATI_ERR_BAD_REQUEST: { status: 400, exit: 1, message: 'bad request' },
  ATI_ERR_INVALID_REQUEST: { status: 422, exit: 1, message: 'invalid request body' },
  ATI_ERR_BODY_TOO_LARGE: { status: 413, exit: 1, message: 'request body too large' },
  ATI_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, exit: 1, message: 'unsupported media type' },
  ATI_ERR_SIGNATURE: { status: 403, exit: 1, message: 'request signature rejected' },
  ATI_ERR_UNAUTHENTICATED: { status: 401, exit: 1, message: 'authentication required' },
  ATI_ERR_FORBIDDEN: { status: 403, exit: 1, message: 'access denied' },
  ATI_ERR_CONFLICT: { status: 409, exit: 1, message: 'conflict with an existing resource' },
  ATI_ERR_PATH_DENIED: { status: 403, exit: 1, message: 'path denied by a passthrough deny_paths policy' },
  ATI_ERR_RATE_LIMITED: { status: 429, exit: 1, message: 'rate limit exceeded' },
  ATI_ERR_UNKNOWN_TOOL: { status: 404, exit: 1, message: 'unknown tool' },
  ATI_ERR_TOOL_ARGS: { status: 400, exit: 1, message: 'bad tool arguments' },
  ATI_ERR_MISSING_CREDENTIAL: { status: 500, exit: 1, message: 'credential missing from keyring' },
  ATI_ERR_UPSTREAM: { status: 502, exit: 1, message: 'upstream error' },
  ATI_ERR_UPSTREAM_TIMEOUT: { status: 504, exit: 1, message: 'upstream timed out' },
  ATI_ERR_RESPONSE_TOO_LARGE: { status: 502, exit: 1, message: 'upstream response exceeds max_response_bytes' },
  ATI_ERR_PLUGIN: { status: 502, exit: 1, message: 'handler plugin failed' },
  ATI_ERR_AUTH_GENERATOR: { status: 502, exit: 1, message: 'auth generator failed' },
  ATI_ERR_UNAVAILABLE: { status: 503, exit: 1, message: 'service unavailable' },
  ATI_ERR_SHUTTING_DOWN: { status: 503, exit: 1, message: 'server is shutting down' },
  ATI_ERR_RELOAD: { status: 422, exit: 1, message: 'reload rejected' },
  ATI_ERR_INTERNAL: { status: 500, exit: 1, message: 'internal error' },
  // ── skills ─────────────────────────────────────────────────────────────
  ATI_ERR_UNKNOWN_SKILL: { status: 404, exit: 1, message: 'unknown skill' },
  ATI_ERR_SKILL_TOO_LARGE: { status: 500, exit: 1, message: 'skill bundle above the size limit' },
  ATI_ERR_SKILL_REGISTRY_UNAVAILABLE: { status: 503, exit: 1, message: 'remote skill registry not configured' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Where an error was found in a source file (manifest, keyring, config). */
export interface SourceLocation {
  file: string;
  line?: number;
  column?: number;
  /** Dotted field path inside the file, e.g. `provider.auth_type` or `tools[2].method`. */
  field?: string;
}

/**
 * The error every module throws. `message` must be safe to show to a client and
 * to log: never put a secret into it (use kernel/redact.ts when it may carry a URL).
 */
export class AtiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly exitCode: number;
  readonly location?: SourceLocation;
  /** Extra JSON fields for the response body (merged beside `error`). */
  readonly details?: Record<string, unknown>;
  /** Extra response headers (`Retry-After`, `WWW-Authenticate` …), set wherever the error is answered. */
  readonly headers?: Record<string, string>;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: {
      cause?: unknown;
      location?: SourceLocation;
      status?: number;
      details?: Record<string, unknown>;
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message ?? ERRORS[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AtiError';
    this.code = code;
    this.status = opts.status ?? ERRORS[code].status;
    this.exitCode = ERRORS[code].exit;
    if (opts.location) this.location = opts.location;
    if (opts.details) this.details = opts.details;
    if (opts.headers) this.headers = opts.headers;
  }

  /** `file:line: field: message` — the form used in `--check` output and reload errors. */
  describe(): string {
    return formatLocated(this.message, this.location);
  }
}

/** Renders `file:line:col: field: message`, leaving out what is unknown. */
export function formatLocated(message: string, loc?: SourceLocation): string {
  if (!loc) return message;
  let where = loc.file;
  if (loc.line !== undefined) where += `:${loc.line}`;
  if (loc.line !== undefined && loc.column !== undefined) where += `:${loc.column}`;
  return loc.field ? `${where}: ${loc.field}: ${message}` : `${where}: ${message}`;
}

/** Wraps anything thrown into an AtiError (unknown errors become ATI_ERR_INTERNAL). */
export function toAtiError(err: unknown, fallback: ErrorCode = 'ATI_ERR_INTERNAL'): AtiError {
  if (err instanceof AtiError) return err;
  const coded = fromCodedError(err);
  if (coded) return coded;
  const message = err instanceof Error ? err.message : String(err);
  return new AtiError(fallback, message, { cause: err });
}

/**
 * An Error that is not our AtiError class but carries one of our codes: thrown
 * by a plugin with no runtime dependency on ati-proxy, or by another installed
 * copy of it (a plugin's own node_modules). Its code, message, details and
 * location are kept; the status comes from the table.
 */
function fromCodedError(err: unknown): AtiError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { code, details, location } = err as Error & { code?: unknown; details?: unknown; location?: unknown };
  if (typeof code !== 'string' || !Object.hasOwn(ERRORS, code)) return undefined;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  return new AtiError(code as ErrorCode, err.message, {
    cause: err,
    ...(isObject(details) ? { details } : {}),
    ...(isObject(location) && typeof location['file'] === 'string'
      ? { location: location as unknown as SourceLocation }
      : {}),
  });
}

/** An error that groups several located problems (manifest validation, reload). */
export class AtiAggregateError extends AtiError {
  readonly errors: AtiError[];
  constructor(code: ErrorCode, summary: string, errors: AtiError[]) {
    super(code, summary);
    this.errors = errors;
  }
  override describe(): string {
    return [this.message, ...this.errors.map((e) => `  ${e.describe()}`)].join('\n');
  }
}
