/**
 * `ati audit tail [-n N] [--since 1h] [--tool 'github:*'] [--json]`: the most
 * recent calls, oldest first. With `ATI_DB_URL` it reads the database call
 * log (`ati_call_log`: /call, /mcp and /help); without it, the reference's
 * JSONL audit file (`$ATI_AUDIT_FILE`, else `$ATI_DIR/audit.jsonl`, else
 * `~/.ati/audit.jsonl`). Text lines keep the reference's shape:
 * `<ts> [OK|ERR] <tool> (<ms>ms) agent=<sub> <error>`.
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { AtiError } from '../../kernel/errors.js';
import type { Database } from '../../core/db/client.js';
import { parseDbUrl } from '../../core/db/db-url.js';
import { toRfc3339 } from '../../core/db/timestamps.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';
import { openFromEnv } from './db.js';

const UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  d: 86400,
  day: 86400,
};

/** `30m`, `1h`, `7d`, `90s` (the reference's units), or an RFC 3339 time → the cut-off instant (ISO). */
export function parseSince(v: string, now = Date.now()): string {
  const m = /^(\d+)\s*([a-z]+?)s?$/i.exec(v.trim());
  if (m && UNITS[m[2]!.toLowerCase()] !== undefined)
    return new Date(now - Number(m[1]) * UNITS[m[2]!.toLowerCase()]! * 1000).toISOString();
  const t = Date.parse(v);
  if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}/.test(v)) return new Date(t).toISOString();
  throw new InvalidArgumentError('use a duration like 30m, 1h, 7d (units s, m, h, d) or an RFC 3339 time');
}

interface Entry {
  ts: string;
  tool: string;
  status: string;
  ok: boolean;
  duration_ms: number;
  agent: string;
  error: string | null;
  [field: string]: unknown;
}

function matchesTool(tool: string, pattern: string | undefined): boolean {
  if (!pattern) return true;
  return pattern.endsWith('*') ? tool.startsWith(pattern.slice(0, -1)) : tool === pattern;
}

async function fromDatabase(db: Database, q: { since?: string; tool?: string; limit: number }): Promise<Entry[]> {
  const { readCallLog } = await import('../../core/db/call-log-writer.js');
  const rows = await readCallLog(db, { sinceIso: q.since, toolPattern: q.tool, limit: q.limit });
  return rows.reverse().map((r) => ({
    ts: toRfc3339(r['started_at'] as string) ?? '',
    tool: (r['tool_name'] as string | null) ?? '-',
    status: r['status'] as string,
    ok: r['status'] === 'success',
    duration_ms: Number(r['latency_ms']),
    agent: (r['user_id'] as string | null) ?? '',
    error: (r['error_message'] as string | null) ?? null,
    endpoint: r['endpoint'],
    provider: r['provider'],
    request_id: r['request_id'],
    token_hash: r['token_hash'],
    upstream_status: r['upstream_status'],
    args: r['request_args'],
  }));
}

function auditFilePath(env: NodeJS.ProcessEnv): string {
  if (env['ATI_AUDIT_FILE']) return env['ATI_AUDIT_FILE'];
  if (env['ATI_DIR']) return path.join(env['ATI_DIR'], 'audit.jsonl');
  return path.join(env['HOME'] || os.homedir(), '.ati', 'audit.jsonl');
}

async function fromFile(file: string, q: { since?: string; tool?: string; limit: number }): Promise<Entry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AtiError(
      'ATI_ERR_IO',
      `no call log: ATI_DB_URL is not set and ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const sinceMs = q.since ? Date.parse(q.since) : undefined;
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // malformed lines are skipped, as in the reference
    }
    const tool = String(e['tool'] ?? '');
    const ts = String(e['ts'] ?? '');
    if (!matchesTool(tool, q.tool)) continue;
    if (sinceMs !== undefined && !(Date.parse(ts) >= sinceMs)) continue;
    out.push({
      ...e,
      ts,
      tool,
      status: String(e['status'] ?? ''),
      ok: e['status'] === 'ok',
      duration_ms: Number(e['duration_ms'] ?? 0),
      agent: String(e['agent_sub'] ?? ''),
      error: (e['error'] as string | undefined) ?? null,
    });
  }
  return out.slice(-q.limit);
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const audit = program.command('audit').description('Read the call log');
  audit
    .command('tail')
    .description('Show the most recent calls (database call log with ATI_DB_URL, else the JSONL audit file)')
    .option(
      '-n, --lines <n>',
      'how many entries',
      (v) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 100_000)
          throw new InvalidArgumentError('must be an integer between 1 and 100000');
        return n;
      },
      20,
    )
    .option('--since <when>', 'only entries newer than this (30m, 1h, 7d, or an RFC 3339 time)', (v) => parseSince(v))
    .option('--tool <pattern>', "only this tool; a trailing * matches a prefix (e.g. 'github:*')")
    .option('--json', 'print a JSON array', false)
    .action(async (o: { lines: number; since?: string; tool?: string; json: boolean }) => {
      const g = globals();
      let db: Database | undefined;
      try {
        const q = { since: o.since, tool: o.tool, limit: o.lines };
        let entries: Entry[];
        if (parseDbUrl(process.env['ATI_DB_URL'])) {
          db = await openFromEnv();
          entries = await fromDatabase(db, q);
        } else {
          entries = await fromFile(auditFilePath(process.env), q);
        }
        if (o.json || (g.outputExplicit && g.output === 'json')) {
          process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
        } else {
          for (const e of entries) {
            const detail = e.ok ? '' : ` ${e.error ?? e.status}`;
            process.stdout.write(
              `${e.ts} [${e.ok ? 'OK' : 'ERR'}] ${e.tool} (${e.duration_ms}ms) agent=${e.agent}${detail}\n`,
            );
          }
        }
        await db?.close();
      } catch (err) {
        await db?.close().catch(() => undefined);
        process.exit(reportFatal(err, g.output));
      }
    });
}
