/**
 * The process logger: one compact JSON object per line on stderr with
 * `timestamp` (RFC 3339 UTC), `level` (`INFO`, `WARN`, `ERROR`, `DEBUG`), `message`
 * and the event's fields at the top level — the shape of the reference's
 * tracing-subscriber JSON output, so existing log queries such as
 * `"reason":"valid"` keep working. No line ever carries a keyring value: see
 * kernel/redact.ts (`setRedactionValues` is called at every generation swap).
 */
import pino, { type Logger, type DestinationStream } from 'pino';
import { scrubLogLine } from './redact.js';
import { BatchedFdDestination } from './log-destination.js';

export { flushLogs } from './log-destination.js';

export type { Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to stderr (fd 2), written once per event-loop turn (kernel/log-destination.ts). Tests pass a memory stream. */
  destination?: DestinationStream;
}

/** Builds the logger. `level` defaults to `ATI_LOG` / `RUST_LOG` when they name a level, else `info`. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? levelFromEnv(process.env) ?? 'info';
  return pino(
    {
      level,
      base: undefined,
      messageKey: 'message',
      timestamp: isoTimestamp,
      formatters: {
        level: (label) => ({ level: label.toUpperCase() }),
      },
      // Every line is scrubbed of keyring values, URL credentials and userinfo
      // just before it is written (kernel/redact.ts; one regex test per line).
      hooks: { streamWrite: scrubLogLine },
    },
    opts.destination ?? stderrDestination(),
  );
}

let lastMs = -1;
let lastStamp = '';

/**
 * `,"timestamp":"<RFC 3339 UTC>"`, formatted once per millisecond: under load
 * many lines share a millisecond, and `toISOString` was 1.6% of a /call.
 */
function isoTimestamp(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastStamp = `,"timestamp":"${new Date(now).toISOString()}"`;
  }
  return lastStamp;
}

let stderr: BatchedFdDestination | undefined;

/** One batched stderr destination per process, shared by every logger (lines stay in order). */
function stderrDestination(): BatchedFdDestination {
  return (stderr ??= new BatchedFdDestination(2));
}

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'silent']);

/** Reads a plain level name from `ATI_LOG` or `RUST_LOG` (e.g. `debug`); filters like `ati=debug` keep their last level. */
export function levelFromEnv(env: NodeJS.ProcessEnv): LogLevel | undefined {
  for (const name of ['ATI_LOG', 'RUST_LOG']) {
    const raw = env[name]?.trim().toLowerCase();
    if (!raw) continue;
    const last = raw.split(',').pop()!.split('=').pop()!;
    if (LEVELS.has(last)) return (last === 'trace' ? 'debug' : last) as LogLevel;
  }
  return undefined;
}

/** A logger that drops everything; for unit tests and `--check` quiet paths. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
