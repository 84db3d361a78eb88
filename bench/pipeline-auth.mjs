// Micro-benchmark of the per-request pipeline costs: signature verification,
// JWT validation (uncached vs cached) and the rate limiter. Run after a build:
//   npx tsc -p tsconfig.json && node bench/pipeline-auth.mjs
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT } from 'jose';
import { signRequest, verifySignature } from '../dist/kernel/request-signature.js';
import { JwtVerifier } from '../dist/core/pipeline/jwt.js';
import { loadJwtKeys } from '../dist/config/jwt-config.js';
import { RateLimiter } from '../dist/core/pipeline/rate-limit.js';

async function measure(name, n, fn) {
  for (let i = 0; i < Math.min(1000, n); i++) await fn(i); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn(i);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(
    `${name.padEnd(42)} ${(ns / 1000).toFixed(2).padStart(9)} µs/op  ${Math.round(1e9 / ns)
      .toLocaleString('en')
      .padStart(10)} ops/s`,
  );
}

const secret = Buffer.alloc(32, 7);
const now = Math.floor(Date.now() / 1000);
const header = signRequest(secret, 'POST', '/api/v1/chat/completions', now);
await measure('sig-verify (valid, one secret)', 50_000, () =>
  verifySignature({
    header,
    method: 'POST',
    path: '/api/v1/chat/completions',
    secrets: [secret],
    nowSeconds: now,
    maxDriftSeconds: 60,
  }),
);

const hsKeys = loadJwtKeys({ audience: 'ati-proxy', secret, ignored: [] });
const claims = (i) => ({
  sub: `agent-${i}`,
  aud: 'ati-proxy',
  iat: now,
  exp: now + 3600,
  scope: 'tool:* help',
  ati: { v: 1 },
});
const hsTokens = await Promise.all(
  Array.from({ length: 5000 }, (_, i) =>
    new SignJWT(claims(i)).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret),
  ),
);
const hs = new JwtVerifier({ settings: { audience: 'ati-proxy' }, keys: hsKeys, cacheSize: 0 });
await measure('JWT HS256 verify (uncached)', 5000, (i) => hs.verify(hsTokens[i % hsTokens.length]));

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const esKeys = { algorithm: 'ES256', verifyKey: ec.publicKey, fingerprint: 'b' };
const esTokens = await Promise.all(
  Array.from({ length: 2000 }, (_, i) =>
    new SignJWT(claims(i)).setProtectedHeader({ alg: 'ES256' }).sign(ec.privateKey),
  ),
);
const es = new JwtVerifier({ settings: { audience: 'ati-proxy' }, keys: esKeys, cacheSize: 0 });
await measure('JWT ES256 verify (uncached)', 2000, (i) => es.verify(esTokens[i % esTokens.length]));
const esCached = new JwtVerifier({ settings: { audience: 'ati-proxy' }, keys: esKeys });
await measure(
  'JWT ES256 (cached, peek)',
  50_000,
  (i) => esCached.peek(esTokens[i % 100]) ?? esCached.verify(esTokens[i % 100]),
);

const rl = new RateLimiter();
const rules = [{ pattern: 'tool:*', limit: 1_000_000, windowSeconds: 60 }];
await measure('rate limiter check (1 rule, 1000 callers)', 100_000, (i) =>
  rl.check(`sub:${i % 1000}`, rules, 'github:search'),
);
