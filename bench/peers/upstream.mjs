// Benchmark upstream: answers every request with a small JSON body (keep-alive).
// With BENCH_TOKEN set, a request without `Authorization: Bearer <token>` gets 401, so a
// proxy that fails to inject the credential shows up as non-2xx answers in the run.
// Prints `listening <port>` on stdout once bound.
import http from 'node:http';

const expected = process.env.BENCH_TOKEN ? `Bearer ${process.env.BENCH_TOKEN}` : undefined;

// 64 KiB under /big/ (the passthrough streaming scenario); the same bytes as bench/lib/load.mjs BIG_BODY.
const big = Buffer.alloc(64 * 1024, 'abcdefghijklmnopqrstuvwxyz0123456789');
const body = JSON.stringify({
  ok: true,
  id: 'chatcmpl-bench',
  model: 'bench',
  usage: { prompt_tokens: 12, completion_tokens: 34 },
});
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (expected && req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-length': 0 });
      res.end();
      return;
    }
    if (req.url.startsWith('/big/')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': big.length });
      res.end(big);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
