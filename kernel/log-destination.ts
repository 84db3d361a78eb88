/**
 * The log destination of every `ati` command: lines are collected during one
 * event-loop turn and written to the file descriptor with one synchronous
 * write(2) when the turn ends (setImmediate).
 *
 * Why: a synchronous write per line costs a system call per log line, and the
 * proxy logs at least one line per request (two with signature verification in
 * log mode), which measured as ~30–45 µs of CPU per request at INFO. Batching
 * per loop turn makes that one write per turn under load, and keeps what makes
 * synchronous logging safe: lines stay in order (including with direct
 * `process.stderr` writes, which call `flushLogs()` first), nothing waits on a
 * thread pool, and pending lines are written on `process.exit`, on an uncaught
 * exception (both emit `exit`) and by `flushLogs()`. Only a SIGKILL can lose
 * lines: those of the loop turn it interrupted.
 */
import { writeSync } from 'node:fs';

/** Sleeps synchronously (retrying a write to a full non-blocking pipe). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How long a full pipe is retried before lines are dropped (a reader that never reads must not hang the proxy). */
const EAGAIN_GIVE_UP_MS = 1_000;

const open = new Set<BatchedFdDestination>();
let exitHook = false;

/** A pino destination (`write(line)`) that batches lines per event-loop turn. */
export class BatchedFdDestination {
  private pending = '';
  private scheduled = false;
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.flushSync();
  };

  constructor(private readonly fd: number) {
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', flushLogs);
    }
  }

  write(line: string): boolean {
    this.pending += line;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
    return true;
  }

  /** Writes every pending line now. */
  flushSync(): void {
    if (this.pending === '') return;
    let buf = Buffer.from(this.pending, 'utf8');
    this.pending = '';
    let waited = 0;
    while (buf.length > 0) {
      try {
        const n = writeSync(this.fd, buf);
        buf = buf.subarray(n);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'EAGAIN' || code === 'EBUSY') && waited < EAGAIN_GIVE_UP_MS) {
          sleepMs(1);
          waited++;
          continue;
        }
        // EPIPE (the reader is gone), EBADF, or a pipe full for a second: logging must not take the process down.
        return;
      }
    }
  }
}

/** Writes the pending lines of every batched destination (call before writing to stderr directly, and before exiting). */
export function flushLogs(): void {
  for (const d of open) d.flushSync();
}
