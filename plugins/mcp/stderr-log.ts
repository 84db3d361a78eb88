/**
 * Reads an MCP child's stderr into the proxy log, one WARN line per line of
 * output. Bounded on both axes: a line longer than `maxLineChars` is cut (the
 * rest of it is dropped), and at most `linesPerWindow` lines per `windowMs` are
 * logged, the others are counted and reported as one "suppressed" line. Reading
 * the pipe continuously also means a chatty child never blocks on a full pipe
 * (ref-01 §16 item 17). Secrets of the provider are redacted from every line.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '../../sdk/plugin.js';

export interface StderrLimits {
  maxLineChars: number;
  linesPerWindow: number;
  windowMs: number;
}

export const DEFAULT_STDERR_LIMITS: StderrLimits = { maxLineChars: 2048, linesPerWindow: 100, windowMs: 10_000 };

export const STDERR_MESSAGE = 'MCP server stderr';

export class StderrLog {
  private decoder = new StringDecoder('utf8');
  private partial = '';
  /** Inside a line that was already cut: drop until the next newline. */
  private dropping = false;
  private windowStart = 0;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly logger: Logger,
    private readonly redact: (text: string) => string,
    private readonly limits: StderrLimits = DEFAULT_STDERR_LIMITS,
  ) {}

  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) {
        this.append(text.slice(start));
        return;
      }
      this.append(text.slice(start, nl));
      this.finishLine();
      start = nl + 1;
    }
  }

  /** The stream ended (the child exited): log what is left and the suppressed count. */
  end(): void {
    this.append(this.decoder.end());
    this.decoder = new StringDecoder('utf8');
    this.finishLine();
    this.reportSuppressed();
  }

  private append(piece: string): void {
    if (this.dropping || piece.length === 0) return;
    this.partial += piece;
    if (this.partial.length > this.limits.maxLineChars) {
      // Redact before cutting, so a secret across the cut is not half-logged.
      this.emit(this.redact(this.partial).slice(0, this.limits.maxLineChars), true);
      this.partial = '';
      this.dropping = true;
    }
  }

  private finishLine(): void {
    if (!this.dropping) this.emit(this.redact(this.partial), false);
    this.partial = '';
    this.dropping = false;
  }

  private emit(raw: string, truncated: boolean): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim().length === 0) return;
    const now = Date.now();
    if (now - this.windowStart >= this.limits.windowMs) {
      this.reportSuppressed();
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.limits.linesPerWindow) {
      this.suppressed++;
      return;
    }
    this.used++;
    this.logger.warn(
      truncated ? { stream: 'stderr', line, truncated: true } : { stream: 'stderr', line },
      STDERR_MESSAGE,
    );
  }

  private reportSuppressed(): void {
    if (this.suppressed === 0) return;
    this.logger.warn(
      { stream: 'stderr', suppressed: this.suppressed, window_ms: this.limits.windowMs },
      'MCP server stderr lines suppressed (rate limit)',
    );
    this.suppressed = 0;
  }
}
