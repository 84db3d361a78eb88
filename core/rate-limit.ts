/**
 * Rate limits from a token's `ati.rate` claim (ref-01 §13.4), checked by the
 * tool-call paths (/call, /mcp tools/call). Placeholder until the request
 * pipeline issue implements per-caller sliding windows: it never limits.
 */
import type { AtiError } from './errors.js';
import type { CallerIdentity } from './plugin.js';

/** Returns the 429 error when `caller` is over a limit for `toolName`, else undefined (and counts the call). */
export function checkRateLimit(_caller: CallerIdentity | undefined, _toolName: string): AtiError | undefined {
  return undefined;
}
