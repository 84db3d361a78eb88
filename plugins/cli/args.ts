/**
 * Turns the `args` of a tool call into the CLI's argument vector (the
 * reference's "args_as_positional"). First rule that applies:
 *
 * 1. `raw_args`: an array of strings, passed as is. It arrives either as the
 *    whole `args` array (the /call route passes `body.raw_args` in place of
 *    `body.args` when it is present) or wrapped as `{ raw_args: [...] }`.
 * 2. `args` is an array: each element as a string; non-strings as JSON text.
 * 3. `args` is a string: split on whitespace, no quote handling (as the reference).
 * 4. `args` is an object with a `_positional` array: that array (elements as in 2),
 *    followed by the object's other entries converted as in 5 (the reference drops
 *    them silently; we keep them).
 * 5. `args` is any other object: each entry in alphabetical key order becomes
 *    `--key` then the value (strings raw, other values as JSON text); `true` gives
 *    only `--key`, `false` gives `--key false`. A key that already starts with `-`
 *    is used as written (the reference would produce `----key`).
 * 6. Anything else (`null`, a number, a boolean, absent): no arguments.
 */
import { AtiError } from '../../sdk/plugin.js';

function asArgString(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{ "--k": v }` / `{ k: v }` entries as flags, in alphabetical key order. */
function objectToFlags(obj: Record<string, unknown>, skip: string): string[] {
  const out: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (key === skip) continue;
    const value = obj[key];
    const flag = key.startsWith('-') ? key : `--${key}`;
    out.push(flag);
    if (value === true) continue;
    out.push(asArgString(value));
  }
  return out;
}

/** Converts call arguments into argv (without `cli_default_args`). Bad shapes are 400 errors. */
export function argsToArgv(args: unknown): string[] {
  let argv: string[];
  if (Array.isArray(args)) {
    argv = args.map(asArgString);
  } else if (typeof args === 'string') {
    argv = args.split(/\s+/).filter((s) => s.length > 0);
  } else if (isPlainObject(args)) {
    if ('raw_args' in args && args['raw_args'] !== null && args['raw_args'] !== undefined) {
      const raw = args['raw_args'];
      if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string')) {
        throw new AtiError('ATI_ERR_TOOL_ARGS', 'raw_args must be an array of strings');
      }
      argv = [...raw];
    } else if ('_positional' in args) {
      const pos = args['_positional'];
      if (!Array.isArray(pos)) {
        throw new AtiError('ATI_ERR_TOOL_ARGS', '_positional must be an array of arguments');
      }
      argv = [...pos.map(asArgString), ...objectToFlags(args, '_positional')];
    } else {
      // `raw_args: null` is "not given" (the reference's Option<Vec<String>>).
      argv = objectToFlags(args, 'raw_args');
    }
  } else {
    argv = [];
  }
  for (const a of argv) {
    // spawn() refuses NUL bytes; say which argument instead of failing with a TypeError.
    if (a.includes('\0'))
      throw new AtiError('ATI_ERR_TOOL_ARGS', `argument ${JSON.stringify(a.slice(0, 40))} contains a NUL byte`);
  }
  return argv;
}
