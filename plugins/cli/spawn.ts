/**
 * Runs one CLI child safely:
 *
 * - no shell: `command` and `args` go to execve as they are;
 * - the child leads its own process group (detached → setsid), so timeouts,
 *   aborts and stdout overflows kill the whole group (SIGTERM, then SIGKILL
 *   after a short grace), grandchildren included; when the leader exits, the
 *   rest of its group is killed too, so a CLI cannot leave background
 *   processes behind (one that calls setsid itself escapes, as with any
 *   supervisor);
 * - stdin is /dev/null; stdout is buffered up to a cap (over it, the group is
 *   killed); only a bounded tail of stderr is kept;
 * - a spawn that fails with ETXTBSY (the executable was just written) is
 *   retried up to 10 times, 10 ms apart, as the reference does.
 *
 * It reports what happened; mapping that to errors is the caller's business.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';

export interface RunOptions {
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  /** 0 = no timeout. */
  timeoutMs: number;
  signal: AbortSignal;
  maxStdoutBytes: number;
  /** How many bytes of the end of stderr to keep. */
  stderrKeepBytes: number;
  /** Between SIGTERM and SIGKILL of the group (default 500 ms). */
  killGraceMs?: number;
  /** How long to wait for the pipes to close after the leader exited (default 2 s). */
  drainMs?: number;
}

/** The end of stderr, and whether anything before it was dropped. */
export interface StderrTail {
  text: string;
  truncated: boolean;
}

interface Common {
  stderr: StderrTail;
  durationMs: number;
  pid: number;
}

export type RunOutcome =
  | (Common & { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null; stdout: Buffer })
  | (Common & { kind: 'timeout' })
  | (Common & { kind: 'aborted'; reason: unknown })
  | (Common & { kind: 'stdout-overflow' })
  | { kind: 'spawn-failed'; error: NodeJS.ErrnoException };

const ETXTBSY_RETRIES = 10;
const ETXTBSY_DELAY_MS = 10;

/** Keeps the last `limit` bytes written to it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > this.limit * 2) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks);
    if (all.length > this.limit) {
      this.truncated = true;
      this.chunks = [all.subarray(all.length - this.limit)];
      this.size = this.limit;
    } else {
      this.chunks = [all];
      this.size = all.length;
    }
  }

  result(): StderrTail {
    this.compact();
    let text = Buffer.concat(this.chunks).toString('utf8');
    if (this.truncated) {
      // The first line is cut somewhere in the middle (maybe inside a secret): drop it.
      const nl = text.indexOf('\n');
      text = nl === -1 ? '' : text.slice(nl + 1);
    }
    return { text, truncated: this.truncated };
  }
}

/** Signals a whole process group; a group that is already gone is fine. */
function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: every member has exited.
  }
}

function runOnce(o: RunOptions): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    let child: ChildProcess;
    try {
      child = spawn(o.command, [...o.args], {
        env: o.env,
        cwd: o.cwd,
        detached: true,
        shell: false,
        windowsHide: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      resolve({ kind: 'spawn-failed', error: err as NodeJS.ErrnoException });
      return;
    }

    let spawned = false;
    let settled = false;
    let stopReason: 'timeout' | 'aborted' | 'stdout-overflow' | undefined;
    let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    const stderr = new TailBuffer(o.stderrKeepBytes);
    const timers: NodeJS.Timeout[] = [];

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      o.signal.removeEventListener('abort', onAbort);
      child.stdout?.destroy();
      child.stderr?.destroy();
      const common = { stderr: stderr.result(), durationMs: Date.now() - started, pid: child.pid ?? -1 };
      if (stopReason === 'aborted') resolve({ ...common, kind: 'aborted', reason: o.signal.reason });
      else if (stopReason) resolve({ ...common, kind: stopReason });
      else
        resolve({
          ...common,
          kind: 'exited',
          code: exitInfo?.code ?? null,
          signal: exitInfo?.signal ?? null,
          stdout: Buffer.concat(stdoutChunks, stdoutBytes),
        });
    };

    const stop = (why: NonNullable<typeof stopReason>) => {
      if (stopReason || exitInfo || settled) return;
      stopReason = why;
      killGroup(child.pid, 'SIGTERM');
      timers.push(setTimeout(() => killGroup(child.pid, 'SIGKILL'), o.killGraceMs ?? 500));
    };

    const onAbort = () => stop('aborted');

    child.once('error', (err: NodeJS.ErrnoException) => {
      if (spawned || settled) return; // e.g. a failed kill after spawn; the exit event still comes
      settled = true;
      o.signal.removeEventListener('abort', onAbort);
      resolve({ kind: 'spawn-failed', error: err });
    });

    child.once('spawn', () => {
      spawned = true;
      if (o.signal.aborted) stop('aborted');
      else o.signal.addEventListener('abort', onAbort, { once: true });
      if (o.timeoutMs > 0) timers.push(setTimeout(() => stop('timeout'), o.timeoutMs));
    });

    child.stdout!.on('data', (chunk: Buffer) => {
      if (stopReason) return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > o.maxStdoutBytes) {
        stdoutBytes -= chunk.length;
        stop('stdout-overflow');
        return;
      }
      stdoutChunks.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));

    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      // Whatever is left of the group (background jobs, a grandchild that ignored SIGTERM) goes too.
      killGroup(child.pid, 'SIGKILL');
      // A descendant that escaped the group may still hold our pipes: do not wait for it forever.
      timers.push(setTimeout(finish, o.drainMs ?? 2_000));
    });
    child.once('close', finish);
  });
}

/** Runs the command to completion (or until it is stopped) and reports the outcome. */
export async function runProcess(o: RunOptions): Promise<RunOutcome> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await runOnce(o);
    if (outcome.kind === 'spawn-failed' && outcome.error.code === 'ETXTBSY' && attempt < ETXTBSY_RETRIES) {
      await delay(ETXTBSY_DELAY_MS);
      continue;
    }
    return outcome;
  }
}
