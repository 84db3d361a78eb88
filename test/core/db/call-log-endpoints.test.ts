/**
 * One `ati_call_log` row per `POST /call`, `/mcp` `tools/call` and
 * `POST /help` through the real host (PostgreSQL and PGlite) — successes,
 * denials and unknown tools alike — with the virtual key's hash, redacted
 * arguments, the caller's address, and error counts reaching the key's usage.
 */
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { DRIVERS } from '../../helpers/db.js';
import { useDbHost } from '../../helpers/db-host.js';

const ADMIN = 'admin-token-0123456789abcdef';
const FILES = {
  'manifests/a.toml':
    '[provider]\nname = "a"\ndescription = "a"\nhandler = "test"\n\n[[tools]]\nname = "a_t0"\ndescription = "t"\n\n[[tools]]\nname = "a_t1"\ndescription = "t"\n',
  'manifests/llm.toml':
    '[provider]\nname = "llm"\ndescription = "llm"\nhandler = "test"\ninternal = true\n\n[[tools]]\nname = "_chat_completion"\ndescription = "llm"\n',
};

interface Row {
  endpoint: string;
  tool_name: string | null;
  provider: string | null;
  handler: string | null;
  status: string;
  token_hash: string | null;
  user_id: string | null;
  request_args: unknown;
  requester_ip: string | null;
  user_agent: string | null;
  error_class: string | null;
}

describe.each(DRIVERS)('call log rows per endpoint on %s', (driver) => {
  const ctx = useDbHost(driver, FILES, ADMIN);

  it('writes a row for every /call, /mcp tools/call and /help, denials and unknown tools included', async () => {
    const issued = await fetch(`${ctx.h.url}/admin/keys/issue`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: 'agent-9', alias: 'job', tools: ['a_t0', '_chat_completion', 'help'] }),
    });
    const key = (await issued.json()) as { raw_key: string; hash: string };
    const headers = {
      authorization: `Ati-Key ${key.raw_key}`,
      'content-type': 'application/json',
      'user-agent': 'agent-sdk/2.0',
    };
    const call = (tool: string, args: unknown) =>
      fetch(`${ctx.h.url}/call`, { method: 'POST', headers, body: JSON.stringify({ tool_name: tool, args }) });

    expect((await call('a_t0', { q: 'weather', api_key: 'sk-should-not-be-stored' })).status).toBe(200);
    expect((await call('a_t1', {})).status).toBe(403);
    expect((await call('nope', {})).status).toBe(404);
    const mcp = await fetch(`${ctx.h.url}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'a_t0', arguments: { password: 'hunter2', n: 1 } },
      }),
    });
    expect(mcp.status).toBe(200);
    // A virtual key's grants are tool:/skill:/category: scopes; /help needs the bare `help` scope, so it is denied (and logged).
    const help = await fetch(`${ctx.h.url}/help`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: 'how do I search?' }),
    });
    expect(help.status).toBe(403);
    const devHelp = await fetch(`${ctx.h.url}/help`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'hi', tool: 'a' }),
    });
    expect(devHelp.status).toBe(200);

    await ctx.h.persistence!.parts.writer.flush();
    const rows = await ctx.t.db.rows<Row>(sql`
      SELECT endpoint, tool_name, provider, handler, status, token_hash, user_id, request_args, host(requester_ip) AS requester_ip, user_agent, error_class
        FROM ati_call_log ORDER BY started_at, endpoint`);
    expect(rows.map((r) => [r.endpoint, r.tool_name, r.status])).toEqual([
      ['/call', 'a_t0', 'success'],
      ['/call', 'a_t1', 'denied'],
      ['/call', 'nope', 'not_found'],
      ['/mcp', 'a_t0', 'success'],
      ['/help', '_chat_completion', 'denied'],
      ['/help', '_chat_completion', 'success'],
    ]);
    for (const r of rows.slice(0, 5)) {
      expect(r).toMatchObject({
        token_hash: key.hash,
        user_id: 'agent-9',
        requester_ip: '127.0.0.1',
        user_agent: 'agent-sdk/2.0',
      });
    }
    expect(rows[0]).toMatchObject({
      provider: 'a',
      handler: 'test',
      request_args: { q: 'weather', api_key: '[REDACTED]' },
    });
    expect(rows[1]).toMatchObject({ error_class: 'ATI_ERR_FORBIDDEN' });
    expect(rows[3]!.request_args).toEqual({ password: '[REDACTED]', n: 1 });
    expect(rows[4]).toMatchObject({
      provider: 'llm',
      request_args: { query: 'how do I search?' },
      error_class: 'ATI_ERR_FORBIDDEN',
    });
    expect(rows[5]).toMatchObject({
      provider: 'llm',
      handler: 'test',
      token_hash: null,
      user_id: 'dev',
      request_args: { query: 'hi', tool: 'a' },
    });
    const dump = await ctx.t.db.rows<{ j: string }>(
      sql`SELECT coalesce(json_agg(c)::text, '') AS j FROM ati_call_log c`,
    );
    expect(dump[0]!.j).not.toContain('sk-should-not-be-stored');
    expect(dump[0]!.j).not.toContain('hunter2');

    // The three failed calls count as the key's errors; every authenticated request as a use.
    await ctx.h.persistence!.parts.usage.flush();
    const usage = await fetch(`${ctx.h.url}/admin/keys/${key.hash}`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await usage.json()).toMatchObject({ request_count: 5, error_count: 3 });
  });
});
