/**
 * A real GraphQL server on loopback (port 0) for the example graphql plugin's
 * tests: GraphQL over HTTP (POST JSON `{query, variables, operationName}`),
 * parsed, validated and executed by the reference `graphql` package, behind a
 * bearer token. It records every request it receives. `/not-graphql` and
 * `/bad-gateway` answer with something that is not a GraphQL response.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema, graphql } from 'graphql';

const SCHEMA = buildSchema(`
  type User { login: String!, name: String }
  type Repository { name: String!, owner: String!, stars: Int! }
  type Query {
    viewer: User!
    user(login: String!): User
    repositories(owner: String!, first: Int = 10): [Repository!]!
    slow(ms: Int!): String
  }
  type Mutation { addStar(repo: String!): Repository! }
`);

export interface RecordedGraphqlRequest {
  headers: http.IncomingHttpHeaders;
  body: { query?: string; variables?: Record<string, unknown>; operationName?: string };
}

export interface GraphqlUpstream {
  url: string;
  requests: RecordedGraphqlRequest[];
  /** Connections currently open to the server (pooled keep-alive sockets included). */
  openConnections(): number;
  close(): Promise<void>;
}

export async function startGraphqlUpstream(opts: { token: string }): Promise<GraphqlUpstream> {
  const requests: RecordedGraphqlRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const stars = new Map<string, number>([
    ['ati', 41],
    ['proxy', 7],
  ]);
  const root = {
    viewer: () => ({ login: 'octocat', name: 'The Octocat' }),
    user: ({ login }: { login: string }) => (login === 'nobody' ? null : { login, name: login.toUpperCase() }),
    repositories: ({ owner, first }: { owner: string; first: number }) =>
      [...stars].slice(0, first).map(([name, n]) => ({ name, owner, stars: n })),
    slow: ({ ms }: { ms: number }) =>
      new Promise((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve(`waited ${ms}ms`);
        }, ms);
        timers.add(t);
      }),
    addStar: ({ repo }: { repo: string }) => {
      stars.set(repo, (stars.get(repo) ?? 0) + 1);
      return { name: repo, owner: 'octocat', stars: stars.get(repo) };
    },
  };

  const sockets = new Set<import('node:net').Socket>();
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: RecordedGraphqlRequest['body'];
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RecordedGraphqlRequest['body'];
      } catch {
        send(res, 400, { errors: [{ message: 'body is not JSON' }] });
        return;
      }
      requests.push({ headers: req.headers, body });
      // Two answers that are not GraphQL responses, for the plugin's error mapping.
      if (req.url === '/not-graphql') {
        send(res, 200, { hello: 'world' });
        return;
      }
      if (req.url === '/bad-gateway') {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html><body>502 Bad Gateway</body></html>');
        return;
      }
      if (req.method !== 'POST') {
        send(res, 405, { errors: [{ message: 'POST only' }] });
        return;
      }
      if (req.headers.authorization !== `Bearer ${opts.token}`) {
        send(res, 401, { errors: [{ message: 'Bad credentials', extensions: { code: 'UNAUTHENTICATED' } }] });
        return;
      }
      void graphql({
        schema: SCHEMA,
        source: body.query ?? '',
        rootValue: root,
        variableValues: body.variables ?? null,
        operationName: body.operationName ?? null,
      }).then((result) => {
        if (!res.destroyed) send(res, 200, result);
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    requests,
    openConnections: () => sockets.size,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
