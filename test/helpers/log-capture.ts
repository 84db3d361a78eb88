/** A real pino logger (the product's format) whose JSON lines are kept in memory, with event-driven waits. */
import { createLogger, type Logger } from '../../kernel/logger.js';

export interface CapturedLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface LogCapture {
  logger: Logger;
  lines: CapturedLine[];
  /** Resolves with the first line (already logged or future) matching `pred`. */
  waitFor(pred: (l: CapturedLine) => boolean, timeoutMs?: number): Promise<CapturedLine>;
  find(pred: (l: CapturedLine) => boolean): CapturedLine[];
}

export function captureLogs(level: 'debug' | 'info' | 'warn' = 'debug'): LogCapture {
  const lines: CapturedLine[] = [];
  const waiters: Array<{ pred: (l: CapturedLine) => boolean; resolve: (l: CapturedLine) => void }> = [];
  const logger = createLogger({
    level,
    destination: {
      write(msg: string) {
        for (const raw of msg.split('\n')) {
          if (!raw) continue;
          const line = JSON.parse(raw) as CapturedLine;
          lines.push(line);
          for (const w of [...waiters]) {
            if (w.pred(line)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(line);
            }
          }
        }
      },
    },
  });
  return {
    logger,
    lines,
    find: (pred) => lines.filter(pred),
    waitFor(pred, timeoutMs = 10_000) {
      const hit = lines.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l: CapturedLine) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(
            new Error(
              `no log line matched within ${timeoutMs} ms; last lines:\n${lines
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          );
        }, timeoutMs);
        waiters.push(w);
      });
    },
  };
}
