/* eslint-disable @typescript-eslint/no-explicit-any -- route bodies are checked field by field below */
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skillsExtension } from '../../../core/skills/extension.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { makeTestPlugin } from '../../helpers/test-plugin.js';
import { headerCallerStage, REFERENCE_SKILLS, SCOPES_HEADER } from './fixtures.js';

const MANIFESTS: Record<string, string> = {
  'manifests/alpha.toml':
    '[provider]\nname = "alpha"\ndescription = "Alpha"\nhandler = "test"\ncategory = "finance"\n\n[[tools]]\nname = "alpha_quote"\ndescription = "quote"\n\n[[tools]]\nname = "alpha_news"\ndescription = "news"\n',
  'manifests/beta.toml':
    '[provider]\nname = "beta"\ndescription = "Beta"\nhandler = "test"\n\n[[tools]]\nname = "beta_search"\ndescription = "search"\n',
};

const SKILLS: Record<string, string> = {
  'skills/quote-guide/skill.toml':
    '[skill]\nname = "quote-guide"\ndescription = "Quotes"\ntools = ["alpha_quote"]\ndepends_on = ["base-methods"]\n',
  'skills/quote-guide/SKILL.md': '# Quote guide\nHow to quote.\n',
  'skills/base-methods/skill.toml':
    '[skill]\nname = "base-methods"\ndescription = "Basics"\ndepends_on = ["quote-guide", "not-installed"]\n',
  'skills/finance/SKILL.md': '---\nname: finance-skill\ndescription: Finance methodology\n---\nFinance body\n',
  'skills/finance/skill.toml': 'skill.categories = ["finance"]\nskill.hint = "think in basis points"\n',
  'skills/beta-skill/skill.toml':
    '[skill]\nname = "beta-skill"\nversion = "1.2.3"\ndescription = "Beta search"\nproviders = ["beta"]\n',
  'skills/beta-skill/SKILL.md': 'Beta content\n',
  'skills/beta-skill/references/ref1.md': 'ref one\n',
  'skills/beta-skill/references/sub/deep.md': 'deep\n',
  'skills/beta-skill/references/.draft.md': 'hidden\n',
  'skills/beta-skill/.secret': 'TOKEN=abc\n',
  'skills/my-tool-skill/skill.toml':
    '[skill]\nname = "my-tool-skill"\ndescription = "For my_tool"\ntools = ["my_tool"]\n',
  'skills/my-tool-skill/SKILL.md': 'My tool content\n',
  'outside/secret.txt': 'OUTSIDE SECRET\n',
};

const ALL_NAMES = [
  'ati-tools-reference',
  'base-methods',
  'beta-skill',
  'finance-skill',
  'google-workspace',
  'my-tool-skill',
  'quote-guide',
];

describe('/skills routes', () => {
  let dir: TempAtiDir;
  let th: TestHost;

  beforeAll(async () => {
    dir = await makeAtiDir({ ...MANIFESTS, ...SKILLS });
    await cp(REFERENCE_SKILLS, path.join(dir.dir, 'skills'), { recursive: true });
    await writeFile(path.join(dir.dir, 'skills/beta-skill/assets.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    await symlink(path.join(dir.dir, 'outside/secret.txt'), path.join(dir.dir, 'skills/beta-skill/leak.txt'));
    await symlink(path.join(dir.dir, 'outside'), path.join(dir.dir, 'skills/beta-skill/references/outside-dir'));
    th = await startHost(dir.dir, [makeTestPlugin()], { stages: [headerCallerStage], extensions: [skillsExtension] });
  });
  afterAll(async () => {
    await th?.close();
    await dir?.cleanup();
  });

  const get = async (p: string, scopes?: string) => {
    const res = await fetch(`${th.url}${p}`, { headers: scopes === undefined ? {} : { [SCOPES_HEADER]: scopes } });
    return { status: res.status, body: (await res.json()) as any };
  };
  const post = async (p: string, body: unknown, scopes?: string) => {
    const res = await fetch(`${th.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(scopes === undefined ? {} : { [SCOPES_HEADER]: scopes }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const names = (list: Array<{ name: string }>) => list.map((s) => s.name);

  it('/health counts the local skills of the serving generation', async () => {
    expect((await get('/health')).body.skills).toBe(ALL_NAMES.length);
  });

  it('GET /skills lists every skill in dev mode, sorted, with the reference summary shape', async () => {
    const { status, body } = await get('/skills');
    expect(status).toBe(200);
    expect(names(body)).toEqual(ALL_NAMES);
    for (const s of body)
      expect(Object.keys(s).sort()).toEqual([
        'categories',
        'description',
        'hint',
        'name',
        'providers',
        'tools',
        'version',
      ]);
    expect(body.find((s: any) => s.name === 'finance-skill')).toEqual({
      name: 'finance-skill',
      version: '0.1.0',
      description: 'Finance methodology',
      tools: [],
      providers: [],
      categories: ['finance'],
      hint: 'think in basis points',
    });
  });

  it('GET /skills applies one filter: search > category > provider > tool', async () => {
    expect(names((await get('/skills?search=gmail')).body)).toEqual(['google-workspace']);
    expect(names((await get('/skills?category=finance')).body)).toEqual(['finance-skill']);
    expect(names((await get('/skills?provider=beta')).body)).toEqual(['beta-skill']);
    expect(names((await get('/skills?tool=alpha_quote')).body)).toEqual(['quote-guide']);
    expect(names((await get('/skills?tool=alpha_quote&search=gmail')).body)).toEqual(['google-workspace']);
    expect(names((await get('/skills?provider=beta&category=productivity')).body)).toEqual(['google-workspace']);
    expect((await get('/skills?category=nope')).body).toEqual([]);
  });

  it('a caller sees only what its scopes reach; hidden skills are 404 like unknown ones', async () => {
    expect((await get('/skills', 'tool:other')).body).toEqual([]);
    const hidden = await get('/skills/google-workspace', 'tool:other');
    expect(hidden.status).toBe(404);
    expect(hidden.body).toEqual({ error: "Skill 'google-workspace' not found", code: 'ATI_ERR_UNKNOWN_SKILL' });
    expect((await get('/skills?search=gmail', 'tool:other')).body).toEqual([]);

    // tool scope: literal tool binding, the tool's provider category, then depends_on (with a cycle).
    expect(names((await get('/skills', 'tool:alpha_quote')).body)).toEqual([
      'base-methods',
      'finance-skill',
      'quote-guide',
    ]);
    // skill:X names one skill exactly; skill wildcards do not reach the resolver.
    expect(names((await get('/skills', 'skill:google-workspace')).body)).toEqual(['google-workspace']);
    expect((await get('/skills', 'skill:google-*')).body).toEqual([]);
    // A wildcard tool grant reaches the skills of the provider of every tool it allows.
    expect(names((await get('/skills', 'tool:beta_*')).body)).toEqual(['beta-skill']);
    // A literal tool binding works even without such a tool.
    expect(names((await get('/skills', 'tool:my_tool')).body)).toEqual(['my-tool-skill']);
    // category: scopes grant nothing (as in the reference).
    expect((await get('/skills', 'category:finance')).body).toEqual([]);
    // `*` sees everything.
    expect(names((await get('/skills', '*')).body)).toEqual(ALL_NAMES);
    expect((await get('/skills/google-workspace', 'skill:google-workspace')).status).toBe(200);
  });

  it('GET /skills/{name} returns content, or metadata with meta=true, and references with refs=true', async () => {
    const plain = await get('/skills/finance-skill');
    expect(plain.body).toEqual({
      name: 'finance-skill',
      version: '0.1.0',
      description: 'Finance methodology',
      content: 'Finance body\n',
    });
    const gw = await get('/skills/google-workspace');
    expect(gw.body.content.startsWith('# Google Workspace CLI (gws) via ATI')).toBe(true);

    const meta = await get('/skills/google-workspace?meta=true');
    expect(Object.keys(meta.body).sort()).toEqual([
      'allowed_tools',
      'author',
      'categories',
      'compatibility',
      'depends_on',
      'description',
      'format',
      'hint',
      'keywords',
      'license',
      'name',
      'providers',
      'suggests',
      'tools',
      'version',
    ]);
    expect(meta.body).toMatchObject({
      format: 'legacy-toml',
      author: 'Parcha',
      providers: ['google_workspace'],
      license: null,
      allowed_tools: null,
    });
    expect((await get('/skills/finance-skill?meta=true')).body.format).toBe('anthropic');

    // Hidden entries and a symlink leading outside the skill are not listed.
    expect((await get('/skills/beta-skill?refs=true')).body.references).toEqual(['ref1.md', 'sub']);
    expect((await get('/skills/google-workspace?refs=true&meta=true')).body.references).toEqual([]);
    expect((await get('/skills/finance-skill?refs=false')).body).not.toHaveProperty('references');

    const bad = await get('/skills/finance-skill?meta=yes');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('query parameter "meta" must be true or false, got "yes"');
    expect((await get('/skills/nope')).status).toBe(404);
  });

  it('GET /skills/resolve and /skills/bundle are the static POST routes (405)', async () => {
    for (const p of ['/skills/resolve', '/skills/bundle']) {
      const res = await fetch(`${th.url}${p}`);
      expect(res.status, p).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('GET /skills/{name}/bundle serves every file, binary as base64, without hidden files or escaping links', async () => {
    const { status, body } = await get('/skills/beta-skill/bundle');
    expect(status).toBe(200);
    expect(body.name).toBe('beta-skill');
    expect(Object.keys(body.files).sort()).toEqual([
      'SKILL.md',
      'assets.bin',
      'references/ref1.md',
      'references/sub/deep.md',
      'skill.toml',
    ]);
    expect(body.files['SKILL.md']).toBe('Beta content\n');
    expect(body.files['assets.bin']).toEqual({ base64: Buffer.from([0xff, 0xfe, 0x00, 0x01]).toString('base64') });
    expect(JSON.stringify(body)).not.toContain('OUTSIDE SECRET');
    expect(JSON.stringify(body)).not.toContain('TOKEN=abc');
    expect((await get('/skills/beta-skill/bundle', 'tool:other')).status).toBe(404);
    expect((await get('/skills/nope/bundle')).body).toEqual({
      error: "Skill 'nope' not found",
      code: 'ATI_ERR_UNKNOWN_SKILL',
    });
  });

  it('refuses path-escape attempts in the URL before any skill lookup', async () => {
    for (const p of [
      '/skills/%2e%2e/bundle',
      '/skills/..%2f..%2foutside/bundle',
      '/skills/beta-skill/../../outside',
      '/skills/a%5c..%5cb',
    ]) {
      const res = await rawRequest(th.url, p);
      expect(res.status, p).toBe(400);
      expect(JSON.parse(res.body).code).toBe('ATI_ERR_BAD_PATH');
    }
  });

  it('POST /skills/bundle returns visible skills and lists the rest as missing, in request order', async () => {
    const r = await post(
      '/skills/bundle',
      { names: ['nope', 'beta-skill', 'google-workspace', 'beta-skill'] },
      'tool:beta_search',
    );
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.skills)).toEqual(['beta-skill']);
    expect(r.body.skills['beta-skill'].files['references/ref1.md']).toBe('ref one\n');
    expect(r.body.missing).toEqual(['nope', 'google-workspace']);

    const dev = await post('/skills/bundle', { names: ['google-workspace', 'ati-tools-reference'] });
    expect(Object.keys(dev.body.skills).sort()).toEqual(['ati-tools-reference', 'google-workspace']);
    expect(Object.keys(dev.body.skills['google-workspace'].files).sort()).toEqual(['SKILL.md', 'skill.toml']);
    expect(dev.body.missing).toEqual([]);

    const tooMany = await post('/skills/bundle', { names: Array.from({ length: 51 }, (_, i) => `s${i}`) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe('batch size 51 exceeds limit of 50');
    expect((await post('/skills/bundle', {})).status).toBe(422);
    expect((await post('/skills/bundle', { names: 'beta-skill' })).status).toBe(422);
  });

  it('POST /skills/resolve resolves the given scopes, limited to what the caller sees', async () => {
    const r = await post('/skills/resolve', { scopes: ['tool:my_tool'] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      {
        name: 'my-tool-skill',
        version: '0.1.0',
        description: 'For my_tool',
        tools: ['my_tool'],
        providers: [],
        categories: [],
      },
    ]);
    const withContent = await post('/skills/resolve', { scopes: ['tool:my_tool'], include_content: true });
    expect(withContent.body[0].content).toBe('My tool content\n');

    // Resolution order: explicit tool binding, provider category, then dependencies.
    expect(names((await post('/skills/resolve', { scopes: ['tool:alpha_quote'] })).body)).toEqual([
      'quote-guide',
      'finance-skill',
      'base-methods',
    ]);
    expect((await post('/skills/resolve', { scopes: ['*'] })).body).toEqual([]);

    // A caller cannot see more by asking with broader scopes.
    expect((await post('/skills/resolve', { scopes: ['tool:alpha_quote'] }, 'skill:google-workspace')).body).toEqual(
      [],
    );
    expect(
      names(
        (
          await post(
            '/skills/resolve',
            { scopes: ['skill:quote-guide', 'skill:google-workspace'] },
            'skill:google-workspace',
          )
        ).body,
      ),
    ).toEqual(['google-workspace']);

    expect((await post('/skills/resolve', {})).status).toBe(422);
    expect((await post('/skills/resolve', { scopes: ['x'], include_content: 'yes' })).status).toBe(422);
    const noType = await fetch(`${th.url}/skills/resolve`, { method: 'POST', body: '{"scopes":[]}' });
    expect(noType.status).toBe(415);
  });

  it('GET /tools/{name} merges the skills bound to the tool and its provider', async () => {
    expect((await get('/tools/alpha_quote')).body.skills).toEqual(['quote-guide']);
    expect((await get('/tools/beta_search')).body.skills).toEqual(['beta-skill']);
  });

  it('/skillati/* answers 503 naming ATI_SKILL_REGISTRY', async () => {
    for (const p of [
      '/skillati/catalog',
      '/skillati/x',
      '/skillati/x/resources?prefix=a',
      '/skillati/x/file?path=a',
      '/skillati/x/refs',
      '/skillati/x/ref/a.md',
    ]) {
      const r = await get(p);
      expect(r.status, p).toBe(503);
      expect(r.body).toEqual({
        error: 'SkillATI is not configured (set ATI_SKILL_REGISTRY=gcs://<bucket> or ATI_SKILL_REGISTRY=proxy)',
        code: 'ATI_ERR_SKILL_REGISTRY_UNAVAILABLE',
      });
    }
  });
});

describe('/skills with auth configured', () => {
  let dir: TempAtiDir;
  let th: TestHost;
  beforeAll(async () => {
    dir = await makeAtiDir({ 'skills/a/SKILL.md': 'A skill\n' });
    th = await startHost(dir.dir, [makeTestPlugin()], {
      stages: [headerCallerStage],
      extensions: [skillsExtension],
      services: { authMode: () => 'jwt' },
    });
  });
  afterAll(async () => {
    await th?.close();
    await dir?.cleanup();
  });

  it('a request without an identified caller sees nothing (empty scopes, not dev mode)', async () => {
    expect(await (await fetch(`${th.url}/skills`)).json()).toEqual([]);
    expect((await fetch(`${th.url}/skills/a`)).status).toBe(404);
    const ok = await fetch(`${th.url}/skills`, { headers: { [SCOPES_HEADER]: 'skill:a' } });
    expect(((await ok.json()) as Array<{ name: string }>).map((s) => s.name)).toEqual(['a']);
  });
});

describe('skills hot reload', () => {
  let dir: TempAtiDir;
  let th: TestHost;
  beforeAll(async () => {
    dir = await makeAtiDir({ 'skills/first/SKILL.md': 'First\n' });
    th = await startHost(dir.dir, [makeTestPlugin()], { extensions: [skillsExtension] });
  });
  afterAll(async () => {
    await th?.close();
    await dir?.cleanup();
  });
  const list = async () =>
    (await (await fetch(`${th.url}/skills`)).json()) as Array<{ name: string; description: string }>;
  const health = async () => (await (await fetch(`${th.url}/health`)).json()) as { skills: number };

  // The file watcher that triggers reloads is another feature; this drives the same reload directly.
  it('a skill added, changed or removed on disk is picked up by the next reload', async () => {
    expect((await list()).map((s) => s.name)).toEqual(['first']);
    expect((await th.host.reload('test')).status).toBe('unchanged');

    await dir.write('skills/second/SKILL.md', 'Second skill\n');
    const added = await th.host.reload('test');
    expect(added.status).toBe('applied');
    expect(added.status === 'applied' && added.changedFiles.map((f) => path.relative(dir.dir, f))).toEqual([
      'skills/second/SKILL.md',
    ]);
    expect((await list()).map((s) => s.name)).toEqual(['first', 'second']);
    expect((await health()).skills).toBe(2);

    await dir.write('skills/second/SKILL.md', 'Second skill, edited\n');
    expect((await th.host.reload('test')).status).toBe('applied');
    expect((await list()).find((s) => s.name === 'second')!.description).toBe('Second skill, edited');

    // A stray folder does not take the registry down.
    await mkdir(path.join(dir.dir, 'skills', 'stray'));
    await dir.write('skills/stray/notes.txt', 'not a skill\n');
    expect((await th.host.reload('test')).status).toBe('applied');
    expect((await list()).map((s) => s.name)).toEqual(['first', 'second']);

    await rm(path.join(dir.dir, 'skills', 'second'), { recursive: true });
    expect((await th.host.reload('test')).status).toBe('applied');
    expect((await list()).map((s) => s.name)).toEqual(['first']);
    expect((await health()).skills).toBe(1);
  });
});
