// Upstream for bench/soak.mjs: answers every request with a small JSON body (keep-alive) when
// it carries `Authorization: Bearer <token>` with a token it currently accepts, else 401.
// Started with fork() (IPC channel) so the soak can rotate the accepted token in step with
// the credential it writes into the proxy's keyring:
//
//   {type: 'accept', token}            also accept `token` (sent before the keyring file changes)
//   {type: 'retire', token, graceMs}   stop accepting `token` `graceMs` after this message
//                                      (sent once the reload that replaced it is applied:
//                                      in-flight requests finish with the old credential)
//   {type: 'stats'}                    answers {type: 'stats', ...counters}
//
// argv: <initial token> [<delay ms>]: with a delay every answer is held that long (after the
// credential check), so requests are in flight through the proxy whenever a reload swaps.
//
// Why not nginx: the accepted credential changes every few hundred ms, and nginx would need its
// own reload for each change, which would muddle what is measured.
import http from 'node:http';

const body = JSON.stringify({ ok: true, id: 'soak', items: [1, 2, 3] });
/** token → retire deadline (ms epoch) or Infinity while current. */
const accepted = new Map();
const retiredAt = new Map();
const stats = { ok: 0, missing: 0, unknown: 0, afterRetire: 0, lateOld: 0, maxLateMs: 0, byPath: {} };

const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
    const now = Date.now();
    const until = token === undefined ? undefined : accepted.get(token);
    let ok = until !== undefined && now <= until;
    if (token === undefined) stats.missing++;
    else if (until === undefined) stats.unknown++;
    else if (!ok) stats.afterRetire++;
    if (ok && retiredAt.has(token)) {
      // An old credential after its replacement was applied: allowed only within the grace.
      stats.lateOld++;
      stats.maxLateMs = Math.max(stats.maxLateMs, now - retiredAt.get(token));
    }
    if (!ok) {
      res.writeHead(401, { 'content-type': 'text/plain', 'content-length': 13 });
      res.end('bad upstream');
      return;
    }
    stats.ok++;
    const p = req.url.split('?')[0];
    stats.byPath[p] = (stats.byPath[p] ?? 0) + 1;
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 65_000;

process.on('message', (m) => {
  if (m.type === 'accept') accepted.set(m.token, Infinity);
  else if (m.type === 'retire') {
    retiredAt.set(m.token, Date.now());
    accepted.set(m.token, Date.now() + m.graceMs);
    // Forget tokens long past their deadline (keeps the maps small over a long soak).
    for (const [t, until] of accepted)
      if (until < Date.now() - 60_000) {
        accepted.delete(t);
        retiredAt.delete(t);
      }
  } else if (m.type === 'stats') process.send({ type: 'stats', ...stats });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));

const initial = process.argv[2];
const delayMs = Number(process.argv[3] ?? 0);
if (initial) accepted.set(initial, Infinity);
server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
