/** Runs the pipeline stages of one request in order. */
import type { IncomingMessage } from 'node:http';
import { toAtiError } from '../../kernel/errors.js';
import type { RequestState } from '../host/request-state.js';
import type { PipelineStage, Rejection } from './types.js';

/**
 * Runs `stages[from…]` and calls `done` once: with the first Rejection (a
 * thrown error becomes one), or with undefined when every stage passed.
 * Synchronous stages do not pay for a promise.
 */
export function runStages(
  stages: readonly PipelineStage[],
  req: IncomingMessage,
  state: RequestState,
  from: number,
  done: (r: Rejection | undefined) => void,
): void {
  for (let i = from; i < stages.length; i++) {
    let r: ReturnType<PipelineStage['run']>;
    try {
      r = stages[i]!.run(req, state);
    } catch (err) {
      done({ error: toAtiError(err) });
      return;
    }
    if (r instanceof Promise) {
      r.then(
        (rej) => (rej ? done(rej) : runStages(stages, req, state, i + 1, done)),
        (err: unknown) => done({ error: toAtiError(err) }),
      );
      return;
    }
    if (r) {
      done(r);
      return;
    }
  }
  done(undefined);
}
