import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { parseManifests, readManifestSources } from '../../config/manifest-loader.js';
import { sha256 } from '../../kernel/hash.js';
import { PluginRegistry } from '../../core/plugin/contract.js';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';
import { makeTestPlugin } from '../helpers/test-plugin.js';

const REFERENCE = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati');

function registry(...names: string[]): PluginRegistry {
  const r = new PluginRegistry();
  for (const n of names) r.register(makeTestPlugin(undefined, n));
  return r;
}

function src(file: string, text: string) {
  return { file, text, hash: sha256(text) };
}

const GOOD = `[provider]
name = "alpha"
description = "Alpha"
handler = "test"

[[tools]]
name = "alpha_one"
description = "one"
method = "post"
`;

describe('manifest loader', () => {
  let dirs: TempAtiDir[] = [];
  afterEach(async () => {
    await Promise.all(dirs.map((d) => d.cleanup()));
    dirs = [];
  });

  it('parses a good manifest, applies defaults and normalises the method', () => {
    const r = parseManifests([src('/m/a.toml', GOOD)], registry('test'));
    expect(r.errors).toEqual([]);
    const m = r.manifests[0]!;
    expect(m.provider).toMatchObject({
      name: 'alpha',
      handler: 'test',
      base_url: '',
      internal: false,
      auth_type: 'none',
    });
    expect(m.tools[0]).toMatchObject({ name: 'alpha_one', method: 'POST', endpoint: '', tags: [] });
  });

  it('reports a TOML syntax error with its line', () => {
    const r = parseManifests([src('/m/bad.toml', '[provider]\nname = "x"\ndescription = "broken\n')], registry('test'));
    expect(r.manifests).toHaveLength(0);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.location).toMatchObject({ file: '/m/bad.toml', line: 3 });
    expect(r.errors[0]!.describe()).toMatch(/^\/m\/bad\.toml:3:\d+: TOML syntax error/);
  });

  it('rejects an unknown key with a did-you-mean hint and the line', () => {
    const text = GOOD.replace('handler = "test"', 'handler = "test"\nbase_ulr = "http://x"');
    const r = parseManifests([src('/m/a.toml', text)], registry('test'));
    expect(r.errors).toHaveLength(1);
    const e = r.errors[0]!;
    expect(e.message).toBe('unknown key "base_ulr" (did you mean "base_url"?)');
    expect(e.location).toMatchObject({ field: 'provider.base_ulr', line: 5 });
  });

  it('rejects unknown keys in [[tools]] and reports every error of every file', () => {
    const a = GOOD.replace('method = "post"', 'method = "post"\ndescripton = "x"');
    const b = '[provider]\nname = "beta"\ndescription = "B"\nhandler = "test"\nauth_type = "magic"\ninternal = "yes"\n';
    const r = parseManifests([src('/m/a.toml', a), src('/m/b.toml', b)], registry('test'));
    const texts = r.errors.map((e) => e.describe());
    expect(texts).toContain(
      '/m/a.toml:10: tools[0].descripton: unknown key "descripton" (did you mean "description"?)',
    );
    expect(texts.some((t) => t.startsWith('/m/b.toml:5: provider.auth_type: must be one of "none", "bearer"'))).toBe(
      true,
    );
    expect(texts.some((t) => t.startsWith('/m/b.toml:6: provider.internal: must be a boolean'))).toBe(true);
  });

  it('accepts the deprecated provider key `tags` with a warning', () => {
    const r = parseManifests(
      [src('/m/a.toml', GOOD.replace('handler = "test"', 'handler = "test"\ntags = ["a"]'))],
      registry('test'),
    );
    expect(r.errors).toEqual([]);
    expect(r.warnings[0]).toMatch(/provider\.tags: accepted for compatibility/);
  });

  it('names the handler that owns a field used under another handler', () => {
    const r = registry('test');
    const other = makeTestPlugin(undefined, 'other');
    r.register({
      ...other,
      name: 'remote',
      providerSchema: { ...other.providerSchema, remote_url: Type.Optional(Type.String()) },
    });
    const res = parseManifests(
      [src('/m/a.toml', GOOD.replace('handler = "test"', 'handler = "test"\nremote_url = "x"'))],
      r,
    );
    expect(res.errors).toHaveLength(1);
    expect(res.errors[0]!.message).toBe('"remote_url" is a field of handler "remote", not of handler "test"');
  });

  it('reports missing required keys', () => {
    const r = parseManifests([src('/m/a.toml', '[provider]\nname = "x"\nhandler = "test"\n')], registry('test'));
    expect(r.errors.map((e) => e.message)).toContain('missing required key "description"');
  });

  it('reports an unknown handler with the registered ones, and file_manager as unavailable', () => {
    const r = parseManifests(
      [
        src('/m/a.toml', '[provider]\nname = "a"\ndescription = "A"\nhandler = "tset"\n'),
        src('/m/f.toml', '[provider]\nname = "f"\ndescription = "F"\nhandler = "file_manager"\n'),
      ],
      registry('test', 'other'),
    );
    expect(r.errors[0]!.describe()).toBe(
      '/m/a.toml:4: provider.handler: unknown handler "tset" (did you mean "test"?); registered handlers: other, test',
    );
    expect(r.errors[1]!.message).toMatch(/file_manager handler is not available/);
    // The error names the file (and line) of the manifest to fix.
    expect(r.errors[1]!.describe()).toBe(
      '/m/f.toml:4: provider.handler: the file_manager handler is not available in this build (out of scope for ati-proxy); remove this manifest or change its handler',
    );
  });

  it('rejects duplicate provider and tool names across files, naming both files', () => {
    const dupTool = GOOD.replace('name = "alpha"', 'name = "gamma"');
    const r = parseManifests(
      [src('/m/a.toml', GOOD), src('/m/b.toml', GOOD), src('/m/c.toml', dupTool)],
      registry('test'),
    );
    const texts = r.errors.map((e) => e.describe());
    expect(texts).toContain('/m/b.toml:2: provider.name: duplicate provider name "alpha" (also defined in /m/a.toml)');
    expect(texts).toContain('/m/c.toml:7: tools[0].name: duplicate tool name "alpha_one" (also defined in /m/a.toml)');
  });

  it('runs the plugin validate hook and locates its issues', () => {
    const r = parseManifests(
      [src('/m/a.toml', GOOD.replace('handler = "test"', 'handler = "test"\nroute_prefix = "x"'))],
      registry('test'),
    );
    expect(r.errors[0]!.describe()).toBe('/m/a.toml:5: provider.route_prefix: must start with "/"');
  });

  it('reads *.toml in filename order and fails clearly on a missing directory', async () => {
    const d = await makeAtiDir({
      'manifests/b.toml': GOOD,
      'manifests/a.toml': GOOD,
      'manifests/notes.txt': 'x',
      'manifests/sub/c.toml': GOOD,
    });
    dirs.push(d);
    const sources = await readManifestSources(d.manifests);
    expect(sources.map((s) => path.basename(s.file))).toEqual(['a.toml', 'b.toml']);
    await expect(readManifestSources(path.join(d.dir, 'nope'))).rejects.toThrow(
      /No manifests directory found at .*nope/,
    );
  });

  it('reads many files concurrently yet returns them in filename order; a vanished file is skipped, an unreadable one fails', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`manifests/m${String(59 - i).padStart(2, '0')}.toml`] = `# ${59 - i}\n${GOOD}`;
    const d = await makeAtiDir(files);
    dirs.push(d);
    await symlink(path.join(d.dir, 'gone.toml'), path.join(d.manifests, 'm30a.toml')); // dangling: ENOENT on read
    const sources = await readManifestSources(d.manifests);
    expect(sources.map((s) => path.basename(s.file))).toEqual(
      Array.from({ length: 60 }, (_, i) => `m${String(i).padStart(2, '0')}.toml`),
    );
    for (const s of sources) expect(s.text.startsWith(`# ${Number(path.basename(s.file).slice(1, 3))}\n`)).toBe(true);
    expect(sources[7]!.hash).toBe(sha256(sources[7]!.text));
    // A symlink to a directory passes the listing but cannot be read: the first such file (name order) is the error.
    await mkdir(path.join(d.dir, 'adir'));
    await symlink(path.join(d.dir, 'adir'), path.join(d.manifests, 'm45x.toml'));
    await symlink(path.join(d.dir, 'adir'), path.join(d.manifests, 'm12x.toml'));
    await expect(readManifestSources(d.manifests)).rejects.toThrow(/Failed to read manifest file .*m12x\.toml: EISDIR/);
  });

  it('parses every reference manifest; handlers not registered are reported clearly', () => {
    const files = [
      ...readdirSync(path.join(REFERENCE, 'manifests')).map((f) => path.join(REFERENCE, 'manifests', f)),
      path.join(REFERENCE, 'deploy-example-manifests', 'example-passthrough.toml'),
    ];
    const sources = files.map((f) => src(f, readFileSync(f, 'utf8')));
    const r = parseManifests(sources, registry('test'));
    // No TOML syntax errors: each failure is about the handler not being registered in this registry.
    for (const e of r.errors) expect(e.message).toMatch(/unknown handler "(http|openapi|mcp|cli|passthrough)"/);
    expect(r.errors).toHaveLength(files.length);
  });
});
