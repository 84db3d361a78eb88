/**
 * How a command reports a fatal error: an ERROR log line `ati command failed`,
 * then (with `--output json`, the default) `{"error":{"code","message","exit_code"}}`
 * on stderr, or the plain message with `--output text`; then the exit code.
 */
import { AtiError, toAtiError } from '../kernel/errors.js';
import { flushLogs, type Logger } from '../kernel/logger.js';
import { redactText } from '../kernel/redact.js';
import type { OutputFormat } from '../config/proxy-config.js';

export function reportFatal(err: unknown, output: OutputFormat, logger?: Logger): number {
  const e = err instanceof AtiError ? err : toAtiError(err);
  const message = redactText(e.describe());
  logger?.error({ error: message, code: e.code }, 'ati command failed');
  flushLogs(); // the log line goes out before the error object below
  if (output === 'json') {
    process.stderr.write(`${JSON.stringify({ error: { code: e.code, message, exit_code: e.exitCode } })}\n`);
  } else {
    process.stderr.write(`error: ${message}\n`);
  }
  return e.exitCode;
}
