// Reference point for bench/passthrough.mjs, not a product: the least a Node proxy can do —
// a raw http server and one undici Pool, dropping a few headers and injecting the credential,
// with no routing table, policy, limits, logging or error handling. The distance between this
// and our route is what the host and the passthrough plugin cost.
// Usage: node node-floor.mjs <upstream-url> <bearer-token>; prints `listening <port>`.
import http from 'node:http';
import { Pool } from 'undici';

const [upstream, token] = process.argv.slice(2);
const pool = new Pool(upstream);
const auth = `Bearer ${token}`;
const DROP = new Set(['host', 'connection', 'keep-alive', 'authorization', 'transfer-encoding', 'upgrade']);
const server = http.createServer((req, res) => {
  const headers = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (!DROP.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
  headers.push('authorization', auth);
  pool.dispatch(
    { path: req.url, method: req.method, headers, body: null },
    {
      onConnect() {},
      onError() {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
      onHeaders(status, h, resume) {
        this.resume = resume;
        const out = [];
        for (let i = 0; i < h.length; i += 2) {
          const n = h[i].toString('latin1');
          const l = n.toLowerCase();
          if (l === 'connection' || l === 'keep-alive' || l === 'transfer-encoding') continue;
          out.push(n, h[i + 1].toString('latin1'));
        }
        res.writeHead(status, out);
        return true;
      },
      onData(c) {
        // Backpressure: pause the upstream until the caller drained (large bodies).
        if (res.write(c)) return true;
        res.once('drain', this.resume);
        return false;
      },
      onComplete: () => res.end(),
    },
  );
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
