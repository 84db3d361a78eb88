/**
 * The reference's own MCP manifests (deepwiki over HTTP, github over stdio with
 * `npx`) load: `--check` touches nothing, and a real start gives a provider with
 * zero tools and a WARN when discovery cannot succeed (no network, no token).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMcpPlugin, type McpSession } from '../../../plugins/mcp/index.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs } from '../../helpers/log-capture.js';
import { REPO_ROOT, runAti } from '../../helpers/proxy-process.js';

const REF = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati', 'manifests');
const FILES = ['deepwiki-mcp.toml', 'github-mcp.toml'];

async function refDir(): Promise<TempAtiDir> {
  const files: Record<string, string> = {};
  for (const f of FILES) files[`manifests/${f}`] = await readFile(path.join(REF, f), 'utf8');
  return makeAtiDir(files);
}

describe('reference MCP manifests', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;

  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('load in a real start: github (no github_token) and deepwiki (unreachable) get no tools and a WARN', async () => {
    dir = await refDir();
    const logs = captureLogs();
    const sessions = new Map<string, McpSession>();
    th = await startHost(dir.dir, [createMcpPlugin({ onSession: (p, s) => sessions.set(p, s) })], {
      logger: logs.logger,
    });
    const gen = th.host.current;
    expect([...gen.providers.keys()].sort()).toEqual(['deepwiki', 'github']);
    // github: the token is missing, so nothing is spawned (no `npx -y` download).
    expect(sessions.has('github')).toBe(false);
    expect(gen.toolList.filter((t) => t.provider === 'github')).toHaveLength(0);
    const gh = await logs.waitFor((l) => l['provider'] === 'github' && l.level === 'WARN');
    expect(String(gh['error'])).toContain("'github_token'");
    // deepwiki: with network access it would discover tools; without, a WARN.
    if (gen.toolList.some((t) => t.provider === 'deepwiki')) {
      expect(gen.tools.has('deepwiki:ask_question')).toBe(true);
    } else {
      await logs.waitFor((l) => l['provider'] === 'deepwiki' && l.message.startsWith('MCP discovery failed'));
    }
  });

  it('pass `ati proxy --check` without spawning or connecting anything', async () => {
    dir = await refDir();
    const r = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', dir.dir]);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { ok: boolean; providers: Record<string, string[]>; tools: number };
    expect(summary.ok).toBe(true);
    expect(summary.providers['mcp']?.sort()).toEqual(['deepwiki', 'github']);
    expect(summary.tools).toBe(0);
  });
});
