/**
 * The one writer of error responses. Every error a client receives — from a
 * named route, the request pipeline, a passthrough route or a refused
 * WebSocket upgrade — is `{"error": <message>, "code": "ATI_ERR_…", …details}`
 * with the message scrubbed of secrets (kernel/redact.ts), and the status and
 * headers the AtiError carries.
 */
import http, { type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AtiError } from './errors.js';
import { redactText } from './redact.js';

export interface ErrorBodyOptions {
  /** Fields placed before `error` (e.g. `/call`'s `"result": null`). */
  fields?: Record<string, unknown>;
  /** Merge the error's `details` into the body (default true; `/call`'s body shape has none). */
  details?: boolean;
}

/** The JSON error body: `{"error": message, "code": "ATI_ERR_…"}` plus the error's details; message redacted. */
export function errorBody(e: AtiError, opts: ErrorBodyOptions = {}): Record<string, unknown> {
  const body = { ...opts.fields, error: redactText(e.message), code: e.code };
  return opts.details === false || !e.details ? body : { ...body, ...e.details };
}

/** `errorBody` serialized. */
export function errorJson(e: AtiError, opts?: ErrorBodyOptions): string {
  return JSON.stringify(errorBody(e, opts));
}

export interface ErrorResponseOptions {
  /** Extra headers, applied after the error's own (`Allow`, `X-Signature-Status` …). */
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** Send this exact body instead of the JSON error (bodies the reference's clients parse). */
  body?: string;
  contentType?: string;
}

function headerEntries(h: ErrorResponseOptions['headers']): Iterable<readonly [string, string]> {
  if (!h) return [];
  return Array.isArray(h) ? h : Object.entries(h);
}

/**
 * Answers `res` with the error. When the response has already started (a
 * streamed body failed half-way), nothing sensible can be written: the
 * connection is destroyed so the client sees a truncated response, not a
 * spliced one.
 */
export function sendErrorResponse(res: ServerResponse, e: AtiError, opts: ErrorResponseOptions = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = opts.body ?? errorJson(e);
  const headers: OutgoingHttpHeaders = {
    'Content-Type': opts.contentType ?? 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...(e.headers ?? {}),
  };
  for (const [k, v] of headerEntries(opts.headers)) headers[k] = v;
  res.writeHead(e.status, headers);
  res.end(body);
}

/** Writes the error as a complete HTTP/1.1 response on a raw socket (a refused upgrade) and closes it. */
export function writeSocketErrorResponse(socket: Duplex, e: AtiError, opts: ErrorResponseOptions = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = opts.body ?? errorJson(e);
  const headers = new Map<string, string>([
    ['Content-Type', opts.contentType ?? 'application/json'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['Connection', 'close'],
  ]);
  for (const [k, v] of [...Object.entries(e.headers ?? {}), ...headerEntries(opts.headers)]) headers.set(k, v);
  let head = `HTTP/1.1 ${e.status} ${http.STATUS_CODES[e.status] ?? 'Error'}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  socket.end(`${head}\r\n${body}`);
}
