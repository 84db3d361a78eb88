/**
 * Tells a running proxy to reload after a keyring rotation (the last step of
 * `rotate-keyring`): the systemd unit's MainPID from `systemctl show -p MainPID --value
 * <service>`, then SIGHUP. PID 0 means the unit is not running (the proxy
 * reads the new keyring when it starts); non-positive PIDs are never signalled.
 */
import { execFile } from 'node:child_process';
import { AtiError } from '../kernel/errors.js';

export type SignalOutcome = { kind: 'sent'; pid: number } | { kind: 'not-running' };

export interface SignalOptions {
  /** The `systemctl` executable (default `systemctl` on PATH). */
  systemctlPath?: string;
  /** Sends the signal; defaults to `process.kill`. */
  kill?: (pid: number, signal: NodeJS.Signals) => void;
}

function signalError(message: string): AtiError {
  return new AtiError('ATI_ERR_SIGNAL', message);
}

/** Queries the unit's MainPID. */
export function mainPid(service: string, systemctl = 'systemctl'): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(systemctl, ['show', '-p', 'MainPID', '--value', service], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) {
        const why =
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? `${systemctl} not found`
            : `${err.message.split('\n')[0]}${stderr.trim() ? `: ${stderr.trim()}` : ''}`;
        reject(signalError(`could not query service '${service}': ${why}`));
        return;
      }
      const text = stdout.trim();
      if (!/^-?\d+$/.test(text)) {
        reject(signalError(`could not query service '${service}': unparseable MainPID '${text}'`));
        return;
      }
      resolve(Number(text));
    });
  });
}

/** Sends SIGHUP to the unit's main process, or reports that it is not running. */
export async function signalService(service: string, opts: SignalOptions = {}): Promise<SignalOutcome> {
  const pid = await mainPid(service, opts.systemctlPath);
  if (pid === 0) return { kind: 'not-running' };
  if (pid < 0) throw signalError(`refusing to signal non-positive PID ${pid} of service '${service}'`);
  try {
    (opts.kill ?? ((p, s) => process.kill(p, s)))(pid, 'SIGHUP');
  } catch (err) {
    throw signalError(
      `SIGHUP to ${service} (pid ${pid}) failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return { kind: 'sent', pid };
}
