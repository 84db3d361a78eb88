/**
 * `/mcp`: the proxy as an MCP server over Streamable HTTP.
 *
 * - `POST` carries one JSON-RPC message or a batch. The answer is JSON, or an
 *   SSE stream when the client accepts `text/event-stream` and something must
 *   reach it before the response (progress, log messages, a request of an
 *   upstream server such as sampling or elicitation).
 * - `initialize` (alone in its POST) opens a session: the answer carries
 *   `Mcp-Session-Id`, which the client sends with every later request. Requests
 *   without it still work (no session, as the reference served them); an unknown
 *   or expired id answers 404, so the client initialises again.
 * - `GET` with a session id opens the session's event stream (server-initiated
 *   messages: `notifications/tools/list_changed` after a reload that changed what
 *   the caller sees, resource updates, relayed requests); `DELETE` ends the session.
 * - `Host` and `Origin` are checked first (DNS-rebinding protection, core/routes/mcp-origin.ts).
 *
 * HTTP statuses: 200 with the response (or the array of responses of a batch);
 * 202 with body `null` when the message (or every message of a batch) is a
 * notification or a response; 400 with a JSON-RPC −32700/−32600 error for a body
 * that is not JSON or not a message; 403 for a refused Host/Origin; 404 for an
 * unknown session; 415 for a non-JSON Content-Type; 413 over the body limit.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { Generation } from '../generation/generation.js';
import type { Host, RouteModule } from '../host/host.js';
import type { RequestState } from '../host/request-state.js';
import { stateOf } from '../host/request-state.js';
import {
  dispatchRpc,
  rpcError,
  RPC_INVALID_REQUEST,
  RPC_PARSE_ERROR,
  RPC_REQUEST_CANCELLED,
  type DispatchContext,
  type JsonRpcId,
  type JsonRpcResponse,
} from './mcp-dispatch.js';
import { originPolicyFromEnv, originRejection, type OriginPolicy } from './mcp-origin.js';
import { DEFAULT_SESSION_LIMITS, SessionStore, type ClientSession, type SessionLimits } from './mcp-sessions.js';
import { acceptsEventStream, EventStream, PostResponse } from './mcp-stream.js';
import { viewFingerprints } from './mcp-view.js';

/** Entries per list page (`tools/list`, `prompts/list` …). */
export const MCP_PAGE_SIZE = 500;
/** Largest `/mcp` body: far below `/call`'s 1.33 GB, since it is buffered. */
export const MCP_BODY_LIMIT = 16 * 1024 * 1024;
/** Most messages in one batch. */
export const MCP_MAX_BATCH = 100;
export const SESSION_HEADER = 'mcp-session-id';

export interface McpRouteOptions {
  pageSize?: number;
  bodyLimit?: number;
  sessions?: SessionLimits;
  /** Default: from `ATI_MCP_ALLOWED_HOSTS` / `ATI_MCP_ALLOWED_ORIGINS`. */
  originPolicy?: OriginPolicy;
  /** Called with the session store once the route is registered (tests). */
  onStore?: (store: SessionStore) => void;
}

function isJsonContentType(header: string | undefined): boolean {
  const type = header?.split(';')[0]!.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[^/]+\+json$/.test(type);
}

/** An AbortSignal that fires when the client connection closes before the response is sent. */
function clientSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

function sendJson(reply: FastifyReply, status: number, body: unknown, headers: Record<string, string> = {}) {
  return reply
    .code(status)
    .headers(headers)
    .type('application/json')
    .send(JSON.stringify(body === undefined ? null : body));
}

/**
 * After a generation swap: every session whose caller now sees different tools,
 * prompts or resources is told so on its event stream.
 */
export function announceListChanges(store: SessionStore, gen: Generation): void {
  for (const s of store.all()) {
    if (!s.stream?.isOpen) continue;
    const fp = viewFingerprints(gen, { caller: s.caller, authConfigured: s.authConfigured });
    for (const kind of ['tools', 'prompts', 'resources'] as const) {
      if (s.seen[kind] === undefined || s.seen[kind] === fp[kind]) continue;
      s.seen[kind] = fp[kind];
      s.send({ jsonrpc: '2.0', method: `notifications/${kind}/list_changed` });
    }
  }
}

export function createMcpRoutes(opts: McpRouteOptions = {}): RouteModule {
  const pageSize = opts.pageSize ?? MCP_PAGE_SIZE;
  const bodyLimit = opts.bodyLimit ?? MCP_BODY_LIMIT;
  return async (app, host: Host) => {
    const store = new SessionStore(opts.sessions ?? DEFAULT_SESSION_LIMITS);
    opts.onStore?.(store);
    const policy = opts.originPolicy ?? originPolicyFromEnv();
    host.shutdownHooks.push(async () => store.closeAll());
    let announced: Generation | undefined;
    host.reloadListeners.push(() => {
      const gen = host.current;
      if (gen === announced) return;
      announced = gen;
      announceListChanges(store, gen);
    });

    /** Host/Origin check; true when the request was refused (answered). */
    const refused = (request: FastifyRequest, reply: FastifyReply): boolean => {
      const why = originRejection(request.headers, request.socket.localAddress, policy);
      if (!why) return false;
      void sendJson(reply, 403, rpcError(null, -32000, `Forbidden: ${why}`, { code: 'ATI_ERR_FORBIDDEN' }));
      return true;
    };

    /** The session named by the request: undefined when none named, null when unknown (answered 404). */
    const sessionOf = (request: FastifyRequest, reply: FastifyReply, state: RequestState) => {
      const id = request.headers[SESSION_HEADER];
      if (typeof id !== 'string' || id === '') return undefined;
      const session = store.get(id, state.caller);
      if (!session) {
        void sendJson(
          reply,
          404,
          rpcError(null, -32001, 'Session not found: initialize a new session', { code: 'ATI_ERR_NOT_FOUND' }),
        );
        return null;
      }
      session.caller = state.caller;
      return session;
    };

    const badRequest = (reply: FastifyReply, status: number, message: string) =>
      sendJson(reply, status, rpcError(null, RPC_INVALID_REQUEST, message, { code: 'ATI_ERR_INVALID_REQUEST' }));

    /** GET and DELETE: the checks, then the named session; undefined when the request was answered. */
    const requiredSession = (request: FastifyRequest, reply: FastifyReply, state: RequestState) => {
      if (refused(request, reply)) return undefined;
      const session = sessionOf(request, reply, state);
      if (session === null) return undefined;
      if (!session) void badRequest(reply, 400, 'Bad Request: Mcp-Session-Id header is required');
      return session;
    };

    await app.register(async (scope) => {
      // Parse errors must be JSON-RPC errors, so the body is read as text and parsed here.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));

      scope.post('/mcp', { bodyLimit }, async (request, reply) => {
        if (refused(request, reply)) return reply;
        if (!isJsonContentType(request.headers['content-type'])) {
          throw new AtiError(
            'ATI_ERR_UNSUPPORTED_MEDIA_TYPE',
            'Expected request with `Content-Type: application/json`',
          );
        }
        let msg: unknown;
        try {
          msg = JSON.parse(typeof request.body === 'string' ? request.body : '');
        } catch (err) {
          return sendJson(reply, 400, rpcError(null, RPC_PARSE_ERROR, `Parse error: ${(err as Error).message}`));
        }
        const state = stateOf(request);
        const session = sessionOf(request, reply, state);
        if (session === null) return reply;
        const headers: Record<string, string> = session ? { 'mcp-session-id': session.id } : {};
        const ctx: DispatchContext = {
          state,
          logger: host.logger,
          signal: clientSignal(reply),
          pageSize,
          callLog: host.services.callLog,
          requesterIp: request.ip,
          ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
          ...(session ? { session } : {}),
        };
        if (Array.isArray(msg)) {
          if (msg.length === 0)
            return sendJson(reply, 400, rpcError(null, RPC_INVALID_REQUEST, 'Invalid Request: empty batch'));
          if (msg.length > MCP_MAX_BATCH) {
            return sendJson(
              reply,
              400,
              rpcError(
                null,
                RPC_INVALID_REQUEST,
                `Invalid Request: a batch may hold at most ${MCP_MAX_BATCH} messages`,
              ),
            );
          }
          const answers = (await Promise.all(msg.map((m) => dispatchRpc(m, ctx)))).filter(
            (r): r is JsonRpcResponse => r !== undefined,
          );
          return answers.length === 0 ? sendJson(reply, 202, null, headers) : sendJson(reply, 200, answers, headers);
        }
        // A single request may stream its answer; notifications and responses are answered 202 at once.
        const isRequest =
          typeof msg === 'object' &&
          msg !== null &&
          'id' in msg &&
          typeof (msg as { method?: unknown }).method === 'string';
        if (!isRequest) {
          const answer = await dispatchRpc(msg, ctx);
          if (answer === undefined) return sendJson(reply, 202, null, headers);
          return sendJson(reply, answer.error?.code === RPC_INVALID_REQUEST ? 400 : 200, answer, headers);
        }
        const out = new PostResponse(reply.raw, acceptsEventStream(request.headers['accept']), headers);
        ctx.out = out;
        if (!session && (msg as { method: string }).method === 'initialize') {
          ctx.openSession = (init) => {
            const s = store.create({ caller: state.caller, authConfigured: state.authConfigured, ...init });
            headers['mcp-session-id'] = s.id;
            return s;
          };
        }
        reply.hijack();
        let answer: JsonRpcResponse | undefined;
        try {
          answer = await dispatchRpc(msg, ctx);
        } catch (err) {
          host.logger.error({ error: (err as Error).message }, 'MCP request failed');
          answer = rpcError((msg as { id: JsonRpcId }).id, -32603, 'Internal error', { code: 'ATI_ERR_INTERNAL' });
        }
        // A request the client cancelled gets no response: its stream ends empty, or 202.
        if (answer?.error?.code === RPC_REQUEST_CANCELLED) out.finish(202, out.streaming ? undefined : null);
        else out.finish(answer?.error?.code === RPC_INVALID_REQUEST ? 400 : 200, answer);
        return reply;
      });

      scope.get('/mcp', async (request, reply) => {
        const state = stateOf(request);
        const session = requiredSession(request, reply, state);
        if (!session) return reply;
        if (!acceptsEventStream(request.headers['accept'])) {
          return badRequest(reply, 406, 'Not Acceptable: the client must accept text/event-stream');
        }
        if (session.stream?.isOpen) {
          return badRequest(reply, 409, 'Conflict: the session already has an open event stream');
        }
        // The stream lives on across reloads: it must not keep its generation from retiring.
        state.detach?.();
        reply.hijack();
        const stream = new EventStream(reply.raw, { 'mcp-session-id': session.id }, () => {
          if (session.stream === stream) session.stream = undefined;
        });
        session.stream = stream;
        return reply;
      });

      scope.delete('/mcp', async (request, reply) => {
        const session = requiredSession(request, reply, stateOf(request));
        if (!session) return reply;
        store.delete(session.id);
        return reply.code(200).send();
      });
    });
  };
}

export const mcpRoutes: RouteModule = createMcpRoutes();

export type { ClientSession };
