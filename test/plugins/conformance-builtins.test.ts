/**
 * The shared handler-plugin conformance suite, run on the http, openapi and
 * passthrough plugins against a real loopback upstream (cli and mcp run it in
 * their own folders). The upstream answers `/ok`, fails `/fail` with 500 and
 * never answers `/hang`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { httpPlugin } from '../../plugins/http/index.js';
import { openapiPlugin } from '../../plugins/openapi/index.js';
import { passthroughPlugin } from '../../plugins/passthrough/index.js';
import { describeConformance } from '../../sdk/conformance.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

let base = '';
const sockets = new Set<import('node:net').Socket>();
const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/hang')) return; // never answers
  if (req.url?.startsWith('/fail')) {
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"boom"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, path: req.url }));
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const KEYRING = { conf_api_key: 'conformance-http-secret-777' };
const httpManifest = () =>
  `[provider]\nname = "confhttp"\ndescription = "conformance"\nbase_url = "${base}"\nauth_type = "bearer"\nauth_key_name = "conf_api_key"\n\n` +
  ['ok', 'fail', 'hang']
    .map((t) => `[[tools]]\nname = "conf_${t}"\ndescription = "${t}"\nendpoint = "/${t}"\n`)
    .join('\n');

describeConformance({
  plugin: httpPlugin,
  manifest: httpManifest,
  keyring: KEYRING,
  call: { tool: 'conf_ok', args: {} },
  failingCall: { tool: 'conf_fail', args: {} },
  slowCall: { tool: 'conf_hang', args: {} },
  // undici keeps its pool's timers on the runtime until they fire; sockets are closed.
  allowedHandleTypes: ['Timeout'],
});

describeConformance({
  plugin: openapiPlugin,
  manifest: () =>
    `[provider]\nname = "confapi"\ndescription = "conformance"\nhandler = "openapi"\nbase_url = "${base}"\nopenapi_spec = "petstore.yaml"\nauth_type = "bearer"\nauth_key_name = "conf_api_key"\n`,
  atiDir: REPO_ROOT,
  keyring: KEYRING,
  allowedHandleTypes: ['Timeout'],
});

describeConformance({
  plugin: passthroughPlugin,
  manifest: () =>
    `[provider]\nname = "confpt"\ndescription = "conformance"\nhandler = "passthrough"\nbase_url = "${base}"\npath_prefix = "/conf"\nauth_type = "bearer"\nauth_key_name = "conf_api_key"\n`,
  keyring: KEYRING,
});
