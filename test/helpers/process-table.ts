/** Reads the Linux process table (/proc) to prove that no child outlived a test. */
import { readFileSync } from 'node:fs';

/** True when `pid` no longer runs: absent from /proc, or a zombie waiting for init to reap it. */
export function processGone(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // Format: "pid (comm) state ..."; comm may contain spaces and parentheses.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state === 'Z' || state === 'X';
}

/**
 * Waits until every pid is gone. A SIGKILLed process disappears asynchronously,
 * so this polls /proc (there is no event for another process's death) for up to `timeoutMs`.
 */
export async function waitProcessesGone(pids: number[], timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pids.every(processGone)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
