/**
 * How errors become HTTP responses on the host: Fastify's errors on named
 * routes (mapped to ATI_ERR_* codes), pipeline rejections on plain requests
 * and on refused WebSocket upgrades. The bodies are written by the one error
 * writer, kernel/error-response.ts.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import {
  errorBody,
  sendErrorResponse,
  writeSocketErrorResponse,
  type ErrorResponseOptions,
} from '../../kernel/error-response.js';
import type { Rejection } from '../pipeline/types.js';

/** Installs the error and not-found handlers of the named routes. Errors with status ≥ 500 are logged. */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
  app.setErrorHandler((err: FastifyError | AtiError, _request, reply) => {
    const e = err instanceof AtiError ? err : fastifyToAtiError(err);
    if (e.status >= 500) logger.error({ code: e.code, error: e.message }, 'request failed');
    if (e.headers) void reply.headers(e.headers);
    void reply.code(e.status).type('application/json').send(errorBody(e));
  });
  app.setNotFoundHandler((_request, reply) => {
    const e = new AtiError('ATI_ERR_NOT_FOUND', 'not found');
    void reply.code(404).type('application/json').send(errorBody(e));
  });
}

/** The ATI_ERR_* code of an error Fastify raised (body parsing, schema validation); anything else is internal. */
export function fastifyToAtiError(err: FastifyError): AtiError {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AtiError('ATI_ERR_UNSUPPORTED_MEDIA_TYPE', err.message);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AtiError('ATI_ERR_BODY_TOO_LARGE', err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AtiError('ATI_ERR_BAD_REQUEST', err.message);
  }
  if (err.validation) return new AtiError('ATI_ERR_INVALID_REQUEST', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new AtiError('ATI_ERR_BAD_REQUEST', err.message, { status: err.statusCode });
  }
  return new AtiError('ATI_ERR_INTERNAL', 'internal error');
}

/** The response options of a pipeline Rejection: its headers, then the request's, and any compat body. */
function rejectionOptions(r: Rejection, extraHeaders?: ReadonlyArray<readonly [string, string]>): ErrorResponseOptions {
  return {
    headers: [...Object.entries(r.headers ?? {}), ...(extraHeaders ?? [])],
    ...(r.body !== undefined ? { body: r.body } : {}),
    ...(r.contentType !== undefined ? { contentType: r.contentType } : {}),
  };
}

/** Answers a plain request with a pipeline Rejection. */
export function sendRejection(
  res: ServerResponse,
  r: Rejection,
  extraHeaders?: ReadonlyArray<readonly [string, string]>,
): void {
  sendErrorResponse(res, r.error, rejectionOptions(r, extraHeaders));
}

/** Refuses a WebSocket upgrade with a pipeline Rejection. */
export function writeSocketRejection(
  socket: Duplex,
  r: Rejection,
  extraHeaders?: ReadonlyArray<readonly [string, string]>,
): void {
  writeSocketErrorResponse(socket, r.error, rejectionOptions(r, extraHeaders));
}
