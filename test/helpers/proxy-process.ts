/**
 * Starts the real `bin/ati proxy` as a child process on an ephemeral port,
 * collects its JSON log lines, and stops it. Every e2e test uses this.
 * The port is read from the `ATI proxy server starting` line (logged after bind).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ATI_BIN = path.join(REPO_ROOT, 'bin', 'ati');

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface ProxyProcess {
  proc: ChildProcess;
  url: string;
  port: number;
  logs: LogLine[];
  /** Raw stderr lines that were not JSON. */
  stderr: string[];
  stdout: string[];
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and waits for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  atiDir: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait for the startup line (default true). */
  waitReady?: boolean;
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Runs `bin/ati <args>` to completion; for CLI tests. */
export function runAti(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [ATI_BIN, ...args], {
      env: { ...baseEnv(), ...opts.env },
      cwd: opts.cwd ?? REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`ati ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    proc.on('error', reject);
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    proc.stdin.end(opts.input ?? '');
  });
}

/** A clean environment: no ATI_* or JWT variables leak in from the developer's shell. */
export function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ATI_') || k === 'RUST_LOG') continue;
    env[k] = v;
  }
  return env;
}

export async function startProxy(opts: StartOptions): Promise<ProxyProcess> {
  const args = [ATI_BIN, 'proxy', '--port', '0', '--ati-dir', opts.atiDir, ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, {
    env: { ...baseEnv(), ...opts.env },
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const stdout: string[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  readline.createInterface({ input: proc.stderr! }).on('line', (line) => {
    let parsed: LogLine | undefined;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      stderr.push(line);
      return;
    }
    logs.push(parsed);
    for (const w of waiters) {
      if (w.pred(parsed)) {
        waiters.delete(w);
        w.resolve(parsed);
      }
    }
  });
  readline.createInterface({ input: proc.stdout! }).on('line', (line) => stdout.push(line));
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code, signal) => {
      running.delete(proc);
      resolve(code ?? (signal ? -1 : null));
    });
  });

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const hit = logs.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (l: LogLine) => (clearTimeout(timer), resolve(l)) };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(
          new Error(
            `timed out waiting for log line; last lines:\n${logs
              .slice(-10)
              .map((l) => JSON.stringify(l))
              .join('\n')}\n${stderr.join('\n')}`,
          ),
        );
      }, timeoutMs);
      waiters.add(w);
      void exited.then((code) => {
        if (waiters.delete(w)) {
          clearTimeout(timer);
          reject(
            new Error(
              `ati exited (${code}) before the expected log line; stderr:\n${stderr.join('\n')}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`,
            ),
          );
        }
      });
    });
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return exited;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };

  let port = 0;
  if (opts.waitReady !== false) {
    try {
      const line = await waitForLog((l) => l.message === 'ATI proxy server starting', opts.timeoutMs ?? 15_000);
      port = Number(String(line['addr']).split(':').pop());
    } catch (err) {
      await stop('SIGKILL');
      throw err;
    }
  }
  return { proc, url: `http://127.0.0.1:${port}`, port, logs, stderr, stdout, waitForLog, stop, exited };
}
