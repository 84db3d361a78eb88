/**
 * `POST /mcp`: ATI as an MCP server over Streamable HTTP in its simplest form
 * (docs/api.md#mcp-post-mcp): each POST carries one JSON-RPC message or a batch, and the
 * answer is `application/json` — no session id, no SSE stream (`GET /mcp` and
 * `DELETE /mcp` answer 405). The methods are in core/routes/mcp-dispatch.ts.
 *
 * HTTP statuses: 200 with the response (or the array of responses of a batch);
 * 202 with body `null` when the message (or every message of a batch) is a
 * notification; 400 with a JSON-RPC −32700/−32600 error for a body that is not
 * JSON or not a message; 415 for a non-JSON Content-Type; 413 over the body limit.
 */
import type { FastifyReply } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import { dispatchRpc, rpcError, RPC_INVALID_REQUEST, RPC_PARSE_ERROR, type JsonRpcResponse } from './mcp-dispatch.js';
import { stateOf } from '../host/request-state.js';

/** Tools per `tools/list` page. */
export const MCP_PAGE_SIZE = 500;
/** Largest `/mcp` body: far below `/call`'s 1.33 GB (the reference's), since it is buffered. */
export const MCP_BODY_LIMIT = 16 * 1024 * 1024;
/** Most messages in one batch. */
export const MCP_MAX_BATCH = 100;

export interface McpRouteOptions {
  pageSize?: number;
  bodyLimit?: number;
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

export function createMcpRoutes(opts: McpRouteOptions = {}): RouteModule {
  const pageSize = opts.pageSize ?? MCP_PAGE_SIZE;
  const bodyLimit = opts.bodyLimit ?? MCP_BODY_LIMIT;
  return async (app, host) => {
    await app.register(async (scope) => {
      // Parse errors must be JSON-RPC errors, so the body is read as text and parsed here.
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_req, body, done) => done(null, body));

      scope.post('/mcp', { bodyLimit }, async (request, reply) => {
        if (!isJsonContentType(request.headers['content-type'])) {
          throw new AtiError(
            'ATI_ERR_UNSUPPORTED_MEDIA_TYPE',
            'Expected request with `Content-Type: application/json`',
          );
        }
        const send = (status: number, body: unknown) =>
          reply.code(status).type('application/json').send(JSON.stringify(body));
        let msg: unknown;
        try {
          msg = JSON.parse(typeof request.body === 'string' ? request.body : '');
        } catch (err) {
          return send(400, rpcError(null, RPC_PARSE_ERROR, `Parse error: ${(err as Error).message}`));
        }
        const ctx = {
          state: stateOf(request),
          logger: host.logger,
          signal: clientSignal(reply),
          pageSize,
          callLog: host.services.callLog,
          requesterIp: request.ip,
          ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
        };
        if (Array.isArray(msg)) {
          if (msg.length === 0) return send(400, rpcError(null, RPC_INVALID_REQUEST, 'Invalid Request: empty batch'));
          if (msg.length > MCP_MAX_BATCH) {
            return send(
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
          return answers.length === 0 ? send(202, null) : send(200, answers);
        }
        const answer = await dispatchRpc(msg, ctx);
        if (answer === undefined) return send(202, null);
        // A message that is not a JSON-RPC request at all is a client error; method-level errors stay 200.
        const invalid = answer.error?.code === RPC_INVALID_REQUEST;
        return send(invalid ? 400 : 200, answer);
      });
    });
  };
}

export const mcpRoutes: RouteModule = createMcpRoutes();
