// The quick-start plugin of docs/plugins.md, taken from the page as written:
// it registers, its manifest validates, a typo and an empty greeting are
// located errors, and its tool answers. Keeps the guide's first example true.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { Keyring } from '../../config/keyring.js';
import { silentLogger } from '../../kernel/logger.js';
import { PluginRegistry, type PluginDefinition } from '../../core/plugin/contract.js';
import { parseManifests } from '../../config/manifest-loader.js';
import { sha256 } from '../../kernel/hash.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

const doc = readFileSync(path.join(REPO_ROOT, 'docs', 'plugins.md'), 'utf8');
const pluginSource = /```js\n(\/\/ <ati_dir>\/plugins\/echo\.js\n[\s\S]*?)```/.exec(doc)?.[1];
const manifestText = /cat > ~\/\.ati\/manifests\/hello\.toml <<'EOF'\n([\s\S]*?)EOF/.exec(doc)?.[1];

describe('docs/plugins.md quick start', () => {
  let tmp: string | undefined;
  afterAll(async () => tmp && rm(tmp, { recursive: true, force: true }));

  it('the page still has the example plugin and its manifest', () => {
    expect(pluginSource).toBeDefined();
    expect(manifestText).toBeDefined();
  });

  it('works as written', async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ati-docs-'));
    const file = path.join(tmp, 'echo.js');
    await writeFile(file, pluginSource!);
    const plugin = ((await import(pathToFileURL(file).href)) as { default: PluginDefinition }).default;
    const registry = new PluginRegistry();
    registry.register(plugin, './plugins/echo.js');
    const parse = (text: string) => parseManifests([{ file: '/m/hello.toml', text, hash: sha256(text) }], registry);

    expect(parse(manifestText!).errors).toEqual([]);
    expect(parse(manifestText!.replace('greeting = "hi"', 'greeting = ""')).errors.map((e) => e.describe())).toEqual([
      '/m/hello.toml:5: provider.greeting: must not be empty',
    ]);
    expect(parse(manifestText!.replace('greeting = "hi"', 'greting = "hi"')).errors.map((e) => e.message)).toContain(
      'unknown key "greting" (did you mean "greeting"?)',
    );

    const m = parse(manifestText!).manifests[0]!;
    const keyring = Keyring.empty();
    const p = await registry.get('echo')!.provision(m, {
      options: { atiDir: tmp, enablePassthrough: false, checkOnly: false },
      atiDir: tmp,
      specsDir: path.join(tmp, 'specs'),
      keyring: keyring.accessor(),
      logger: silentLogger(),
      signal: new AbortController().signal,
      generationId: 1,
    });
    expect(p.tools.map((t) => [t.name, t.scope])).toEqual([['hello_say', 'tool:hello_say']]);
    const ctx = {
      requestId: 'r',
      caller: { sub: 'dev', scopes: ['*'], unrestricted: true },
      signal: new AbortController().signal,
      logger: silentLogger(),
      keyring: keyring.accessor(),
      requestedName: 'hello_say',
      endpoint: 'call' as const,
    };
    await expect(p.call!(p.tools[0]!, { x: 1 }, ctx)).resolves.toEqual({
      value: { greeting: 'hi', tool: 'hello_say', args: { x: 1 } },
    });
    await p.close();
  });
});
