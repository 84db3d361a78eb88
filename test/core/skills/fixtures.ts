/** Shared pieces of the skills tests: a log collector and a header-driven caller stage. */
import { Writable } from 'node:stream';
import path from 'node:path';
import { createLogger, type Logger } from '../../../kernel/logger.js';
import type { PipelineStage } from '../../../core/pipeline/types.js';
import { REPO_ROOT } from '../../helpers/proxy-process.js';

/** The reference's `skills/` folder (two legacy-toml skills). */
export const REFERENCE_SKILLS = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati', 'skills');

export interface MemoryLog {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  warnings(): Array<Record<string, unknown>>;
}

/** A real (pino) logger whose JSON lines are kept in memory. */
export function memoryLogger(): MemoryLog {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  return { logger, lines, warnings: () => lines.filter((l) => l['level'] === 'WARN') };
}

/** Header carrying the test caller's scopes (space separated). Real auth lives in another stage. */
export const SCOPES_HEADER = 'x-test-scopes';

/**
 * Stands in for the auth stage: `x-test-scopes: a b` makes a caller with those
 * scopes; no header leaves `caller` undefined (dev mode, auth not configured).
 */
export const headerCallerStage: PipelineStage = {
  name: 'test-caller',
  run(req, state) {
    const raw = req.headers[SCOPES_HEADER];
    if (typeof raw !== 'string') return undefined;
    const scopes = raw.split(/\s+/).filter(Boolean);
    state.caller = { sub: 'test', scopes, unrestricted: scopes.includes('*') };
    return undefined;
  },
};
