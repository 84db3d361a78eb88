// Peer for bench/passthrough.mjs: a minimal @fastify/http-proxy setup with the same route
// (every path → upstream) and the same credential injection (Authorization: Bearer …).
// Usage: node fastify-http-proxy.mjs <upstream-url> <bearer-token>; prints `listening <port>`.
import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';

const [upstream, token] = process.argv.slice(2);
const app = Fastify({ logger: false });
await app.register(httpProxy, {
  upstream,
  prefix: '/',
  replyOptions: {
    rewriteRequestHeaders: (_req, headers) => ({ ...headers, authorization: `Bearer ${token}` }),
  },
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${app.server.address().port}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
