import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../kernel/logger.js';
import { readBundle } from '../../../core/skills/bundle.js';
import { skillsExtension, skillRegistryOf } from '../../../core/skills/extension.js';
import { localSkillsHelpSection, SKILLS_HELP_HEADING } from '../../../core/skills/help-context.js';
import { createSkillatiRoutes } from '../../../core/routes/skillati.js';
import { createSkillsRoutes } from '../../../core/routes/skills.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';
import { headerCallerStage, memoryLogger, SCOPES_HEADER } from './fixtures.js';

describe('skill bundle size limits', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  const setup = async () => {
    dir = await makeAtiDir({
      'skills/small/SKILL.md': 'x'.repeat(100),
      'skills/medium/SKILL.md': 'y'.repeat(600),
      'skills/medium2/SKILL.md': 'w'.repeat(700),
      'skills/big/SKILL.md': 'z'.repeat(2_000),
    });
    th = await startHost(dir.dir, [makeTestPlugin()], {
      extensions: [skillsExtension],
      routes: [createSkillsRoutes({ maxBundleBytes: 1_000, maxBatchBytes: 1_200 })],
    });
    return th;
  };

  it('readBundle refuses a skill above the cap before reading it', async () => {
    const { host } = await setup();
    const big = skillRegistryOf(host.current).get('big')!;
    await expect(readBundle(big, silentLogger(), 1_000)).rejects.toMatchObject({
      code: 'ATI_ERR_SKILL_TOO_LARGE',
      status: 500,
    });
    expect(Object.keys((await readBundle(big, silentLogger(), 2_000)).files)).toEqual(['SKILL.md']);
  });

  it('GET bundle above the cap answers ATI_ERR_SKILL_TOO_LARGE; POST lists over-cap skills as missing', async () => {
    const { url } = await setup();
    const one = await fetch(`${url}/skills/big/bundle`);
    expect(one.status).toBe(500);
    expect(((await one.json()) as { code: string }).code).toBe('ATI_ERR_SKILL_TOO_LARGE');

    const res = await fetch(`${url}/skills/bundle`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ names: ['medium', 'big', 'medium2', 'small', 'medium'] }),
    });
    const body = (await res.json()) as { skills: Record<string, unknown>; missing: string[] };
    // medium (600) fits; big is above the per-skill cap (1,000); medium2 (700) would pass the
    // 1,200-byte batch total; small (100) still fits.
    expect(Object.keys(body.skills)).toEqual(['medium', 'small']);
    expect(body.missing).toEqual(['big', 'medium2']);
  });
});

describe('bundle keys from file and skill names', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('a file or requested name "__proto__" is an ordinary key', async () => {
    dir = await makeAtiDir({ 'skills/p/SKILL.md': 'P\n', 'skills/p/__proto__': 'proto file\n' });
    th = await startHost(dir.dir, [makeTestPlugin()], { extensions: [skillsExtension] });
    const one = (await (await fetch(`${th.url}/skills/p/bundle`)).json()) as { files: Record<string, string> };
    expect(Object.keys(one.files).sort()).toEqual(['SKILL.md', '__proto__']);
    const res = await fetch(`${th.url}/skills/bundle`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"names":["__proto__","p"]}',
    });
    const body = (await res.json()) as { skills: Record<string, unknown>; missing: string[] };
    expect(Object.keys(body.skills)).toEqual(['p']);
    expect(body.missing).toEqual(['__proto__']);
  });
});

describe('/skillati/* with ATI_SKILL_REGISTRY set', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('still answers 503, says the value is unsupported (without userinfo) and warns at startup', async () => {
    dir = await makeAtiDir();
    const log = memoryLogger();
    const env = { ATI_SKILL_REGISTRY: 'gcs://user:hunter2@bucket' };
    th = await startHost(dir.dir, [makeTestPlugin()], {
      logger: log.logger,
      routes: [createSkillatiRoutes(() => env)],
    });
    const res = await fetch(`${th.url}/skillati/catalog`);
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: string; code: string };
    expect(body.code).toBe('ATI_ERR_SKILL_REGISTRY_UNAVAILABLE');
    expect(body.error).toMatch(/^Unsupported skill registry URL: gcs:\/\/bucket /);
    expect(body.error).toContain('ATI_SKILL_REGISTRY');
    expect(JSON.stringify(log.lines)).not.toContain('hunter2');
    expect(log.warnings().map((w) => w['message'])).toContain(
      'ATI_SKILL_REGISTRY is set but the remote SkillATI registry is not supported; /skillati/* answers 503',
    );
    expect((await fetch(`${th.url}/skillati/catalog`, { method: 'POST' })).status).toBe(405);
  });
});

describe('local skills section of the /help prompt', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it('lists the skills the caller scopes resolve to, and nothing for a wildcard or dev mode', async () => {
    dir = await makeAtiDir({
      'manifests/p.toml':
        '[provider]\nname = "p"\ndescription = "P"\nhandler = "test"\n\n[[tools]]\nname = "p_run"\ndescription = "run"\n',
      'skills/run-guide/skill.toml':
        '[skill]\nname = "run-guide"\ndescription = "How to run"\nhint = "dry-run first"\ntools = ["p_run"]\nsuggests = ["other"]\n',
      'skills/unrelated/SKILL.md': 'Unrelated\n',
    });
    th = await startHost(dir.dir, [makeTestPlugin()], { stages: [headerCallerStage], extensions: [skillsExtension] });
    const gen = th.host.current;
    expect(localSkillsHelpSection(gen, { sub: 'a', scopes: ['tool:p_run'], unrestricted: false })).toBe(
      `${SKILLS_HELP_HEADING}\n\n- **run-guide**: How to run\n  Hint: dry-run first\n  Covers tools: p_run\n  Related skills: other`,
    );
    expect(localSkillsHelpSection(gen, { sub: 'a', scopes: ['*'], unrestricted: true })).toBe('');
    expect(localSkillsHelpSection(gen, undefined)).toBe('');
    expect(localSkillsHelpSection(gen, { sub: 'a', scopes: ['tool:nothing'], unrestricted: false })).toBe('');
    // The same skill is what the caller sees over HTTP.
    const res = await fetch(`${th.url}/skills`, { headers: { [SCOPES_HEADER]: 'tool:p_run' } });
    expect(((await res.json()) as Array<{ name: string }>).map((s) => s.name)).toEqual(['run-guide']);
  });
});
