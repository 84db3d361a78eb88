// Fastify's schema compilers are loaded on first use (startup time); validation answers exactly
// as with Fastify's defaults, on the first request (asynchronous) and later ones (synchronous).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { lazySchemaController } from '../../../core/host/lazy-schema-compilers.js';
import { REPO_ROOT } from '../../helpers/proxy-process.js';

const HELP_LIKE = {
  type: 'object',
  required: ['query'],
  properties: {
    query: { type: 'string' },
    tool: { type: 'string' },
    n: { type: 'integer', default: 3 },
    tags: { type: 'array', items: { type: 'string' } },
  },
};

function app(lazy: boolean): FastifyInstance {
  const a = Fastify({ logger: false, ...(lazy ? { schemaController: lazySchemaController } : {}) });
  a.post(
    '/x',
    { schema: { body: HELP_LIKE, querystring: { type: 'object', properties: { page: { type: 'integer' } } } } },
    async (req) => ({ body: req.body, query: req.query }),
  );
  a.post('/typed', { schema: { body: { type: 'string' } } }, async (req) => ({ body: req.body }));
  return a;
}

describe('lazy schema compilers', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((a) => a.close()));
  });

  it('validate, coerce, default and reject exactly as Fastify’s default compilers, first request and later ones', async () => {
    const lazy = app(true);
    const eager = app(false);
    apps.push(lazy, eager);
    const requests: Array<{ url: string; payload: unknown }> = [
      { url: '/x', payload: { tool: 'x' } },
      { url: '/x', payload: { query: 'q' } },
      { url: '/x', payload: { query: 5, n: '7', tags: 'one' } },
      { url: '/x?page=abc', payload: { query: 'q' } },
      { url: '/x?page=2', payload: { query: 'q', n: 'x' } },
      { url: '/x', payload: [] },
      { url: '/typed', payload: { a: 1 } },
      { url: '/typed', payload: 'plain' },
    ];
    // Twice over: the lazy validator compiles on the first request of each route.
    for (const r of [...requests, ...requests]) {
      const [a, b] = await Promise.all(
        [lazy, eager].map((f) => f.inject({ method: 'POST', url: r.url, payload: r.payload as string })),
      );
      expect({ status: a!.statusCode, body: a!.json() as unknown }, `${r.url} ${JSON.stringify(r.payload)}`).toEqual({
        status: b!.statusCode,
        body: b!.json() as unknown,
      });
    }
  });

  it('concurrent first requests share one compilation', async () => {
    const lazy = app(true);
    apps.push(lazy);
    const res = await Promise.all(
      [1, 2, 3].map((i) =>
        lazy.inject({ method: 'POST', url: '/x', payload: i === 2 ? { tool: 'x' } : { query: `q${i}` } }),
      ),
    );
    expect(res.map((r) => r.statusCode)).toEqual([200, 400, 200]);
    expect(res[1]!.json()).toMatchObject({ message: "body must have required property 'query'" });
  });

  it('ajv is not loaded when the server is built, only when a request is first validated', async () => {
    // A fresh process: the test runner itself may have loaded ajv already.
    const script = `
      import { createRequire } from 'node:module';
      import Fastify from 'fastify';
      import { lazySchemaController } from ${JSON.stringify(path.join(REPO_ROOT, 'dist', 'core', 'host', 'lazy-schema-compilers.js'))};
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('/node_modules/ajv/'));
      const app = Fastify({ schemaController: lazySchemaController });
      app.post('/x', { schema: { body: { type: 'object', required: ['q'] } } }, async () => 'ok');
      await app.ready();
      const before = loaded();
      const r = await app.inject({ method: 'POST', url: '/x', payload: {} });
      console.log(JSON.stringify({ before, after: loaded(), status: r.statusCode }));
      await app.close();
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
    });
    expect(JSON.parse(stdout)).toEqual({ before: false, after: true, status: 400 });
  });
});
