/**
 * `/admin/keys/*` (docs/api.md#admin-virtual-keys-adminkeys): issue, list, read, revoke and bulk
 * revoke virtual keys, plus block/unblock (ours). Guarded by the admin bearer
 * (`ATI_ADMIN_TOKEN`: 503 when unset, 401 on mismatch, constant-time), never
 * by caller auth or sig-verify; they go through the request log like every
 * route. Bodies are JSON up to 2 MB (the reference's axum limit). Without a
 * database every route answers 503
 * `{"error":"admin endpoints require ATI_DB_URL + ATI_ADMIN_TOKEN"}`.
 *
 * Body decoding follows the reference's statuses: wrong content type 415,
 * malformed JSON 400, a missing or mistyped field 422, a blank `user_id` or
 * alias 400. Unknown fields are ignored. Every error body is JSON.
 */
import type { FastifyRequest } from 'fastify';
import type { AdminAuth } from '../pipeline/admin-auth.js';
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import type { KeyAdmin } from '../db/key-admin.js';
import { keyRowJson, MAX_EXPIRES_IN_SECS } from '../db/key-api.js';
import type { Persistence } from '../db/persistence.js';
import { describeDbError } from '../db/db-errors.js';

export interface AdminKeysDeps {
  adminAuth: AdminAuth;
  /** Undefined when `ATI_DB_URL` is unset. */
  persistence: Persistence | undefined;
}

const ADMIN_BODY_LIMIT = 2 * 1024 * 1024;
const NO_DB = 'admin endpoints require ATI_DB_URL + ATI_ADMIN_TOKEN';

function invalid(message: string): AtiError {
  return new AtiError('ATI_ERR_INVALID_REQUEST', message);
}

/** The JSON object body; another content type is 415 as in the reference (Fastify would parse text/plain). */
function jsonBody(request: FastifyRequest): Record<string, unknown> {
  const type = request.headers['content-type'] ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type)) {
    throw new AtiError('ATI_ERR_UNSUPPORTED_MEDIA_TYPE', 'expected a request with `Content-Type: application/json`');
  }
  return bodyObject(request.body);
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalid('request body must be a JSON object');
  return body as Record<string, unknown>;
}

function requiredString(o: Record<string, unknown>, field: string): string {
  const v = o[field];
  if (v === undefined) throw invalid(`missing field \`${field}\``);
  if (typeof v !== 'string') throw invalid(`\`${field}\` must be a string`);
  return v;
}

function optionalString(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`\`${field}\` must be a string`);
  return v;
}

function stringList(o: Record<string, unknown>, field: string): string[] {
  const v = o[field];
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw invalid(`\`${field}\` must be an array of strings`);
  return v as string[];
}

function expiresIn(o: Record<string, unknown>): number | null {
  const v = o['expires_in_secs'];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw invalid('`expires_in_secs` must be a non-negative integer');
  if (v > MAX_EXPIRES_IN_SECS)
    throw new AtiError('ATI_ERR_BAD_REQUEST', `expires_in_secs must be at most ${MAX_EXPIRES_IN_SECS} (10 years)`);
  return v;
}

/** The `by` actor of a query string: default `admin`. */
function actorOf(request: FastifyRequest): string {
  const by = (request.query as Record<string, unknown>)['by'];
  return typeof by === 'string' && by !== '' ? by : 'admin';
}

export function adminKeysRoutes(deps: AdminKeysDeps): RouteModule {
  const keys = (): KeyAdmin => {
    if (!deps.persistence?.isOpen) throw new AtiError('ATI_ERR_UNAVAILABLE', NO_DB);
    return deps.persistence.parts.admin;
  };
  const adminOnly = { config: { access: 'admin' as const }, bodyLimit: ADMIN_BODY_LIMIT };

  return (app, host) => {
    app.register(async (scope) => {
      // Admin auth first: an unset token answers 503 before anything else (as in the reference).
      scope.addHook('onRequest', async (request) => deps.adminAuth.check(request));
      // Database errors reach the client as a bare "database error"; the driver's reason goes to the log.
      scope.addHook('onError', async (_request, _reply, err) => {
        const cause = (err as { cause?: unknown }).cause;
        if (err instanceof AtiError && err.status >= 500 && cause) {
          host.logger.error({ code: err.code, error: describeDbError(cause) }, 'admin key operation failed');
        }
      });

      scope.post('/admin/keys/issue', adminOnly, async (request, reply) => {
        const b = jsonBody(request);
        const issued = await keys().issue({
          userId: requiredString(b, 'user_id'),
          alias: requiredString(b, 'alias'),
          tools: stringList(b, 'tools'),
          providers: stringList(b, 'providers'),
          categories: stringList(b, 'categories'),
          skills: stringList(b, 'skills'),
          expiresInSecs: expiresIn(b),
          metadata: b['metadata'],
          createdBy: optionalString(b, 'created_by') ?? null,
        });
        return reply.code(201).send(issued);
      });

      scope.post('/admin/keys/bulk-revoke', adminOnly, async (request) => {
        const b = jsonBody(request);
        const hashes = b['hashes'] === undefined || b['hashes'] === null ? undefined : stringList(b, 'hashes');
        const revoked = await keys().bulkRevoke({
          userId: optionalString(b, 'user_id'),
          aliasPrefix: optionalString(b, 'alias_prefix'),
          hashes,
          by: optionalString(b, 'by'),
        });
        return { revoked };
      });

      scope.get('/admin/keys', adminOnly, async (request) => {
        const userId = (request.query as Record<string, unknown>)['user_id'];
        if (typeof userId !== 'string') throw new AtiError('ATI_ERR_BAD_REQUEST', 'user_id query param required');
        const rows = await keys().list(userId);
        return { sessions: rows.map(keyRowJson) };
      });

      scope.get<{ Params: { hash: string } }>('/admin/keys/:hash', adminOnly, async (request) => {
        const row = await keys().get(request.params.hash);
        if (!row) throw new AtiError('ATI_ERR_NOT_FOUND', 'no such key');
        return keyRowJson(row);
      });

      scope.delete<{ Params: { hash: string } }>('/admin/keys/:hash', adminOnly, async (request) => {
        const revoked = await keys().revoke(request.params.hash, actorOf(request));
        if (!revoked) throw new AtiError('ATI_ERR_NOT_FOUND', 'no such key');
        return { revoked: true };
      });

      scope.post<{ Params: { hash: string } }>('/admin/keys/:hash/block', adminOnly, async (request) => {
        if (!(await keys().setBlocked(request.params.hash, true, actorOf(request))))
          throw new AtiError('ATI_ERR_NOT_FOUND', 'no such key');
        return { blocked: true };
      });

      scope.post<{ Params: { hash: string } }>('/admin/keys/:hash/unblock', adminOnly, async (request) => {
        if (!(await keys().setBlocked(request.params.hash, false, actorOf(request))))
          throw new AtiError('ATI_ERR_NOT_FOUND', 'no such key');
        return { blocked: false };
      });
    });
  };
}
