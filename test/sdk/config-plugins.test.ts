import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { REPO_ROOT, runAti } from '../helpers/proxy-process.js';

const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'echo-plugin.mjs');
const MANIFEST =
  '[provider]\nname = "e"\ndescription = "echo"\nhandler = "echo"\ngreeting = "hi"\n\n[[tools]]\nname = "e_say"\ndescription = "say"\n';

describe('third-party plugins from config.toml (real process)', () => {
  let dir: TempAtiDir | undefined;
  afterEach(async () => dir?.cleanup());

  const setup = async (config: string) => {
    dir = await makeAtiDir({ 'config.toml': config, 'manifests/e.toml': MANIFEST });
    await copyFile(FIXTURE, path.join(dir.dir, 'echo-plugin.mjs'));
    return dir;
  };

  it('loads a plugin by relative path; --check lists it and its manifests validate against its schema', async () => {
    await setup('[plugins]\nmodules = ["./echo-plugin.mjs"]\n');
    const ok = await runAti(['proxy', '--check', '--ati-dir', dir!.dir]);
    expect(ok.stdout).toMatch(/handlers: .*echo \(\.\/echo-plugin\.mjs\)/);
    expect(ok.stdout).toMatch(/echo: e/);
    expect(ok.code).toBe(0);
    await dir!.manifest('e', MANIFEST.replace('greeting = "hi"', 'greting = "hi"'));
    const typo = await runAti(['proxy', '--check', '--ati-dir', dir!.dir]);
    expect(typo.code).toBe(1);
    expect(typo.stdout).toMatch(/provider\.greting: unknown key "greting" \(did you mean "greeting"\?\)/);
  });

  it('refuses a plugin built for another API version, a name collision, and a missing package', async () => {
    await setup('[plugins]\nmodules = ["./echo-plugin.mjs"]\n');
    const v2 = await runAti(['proxy', '--check', '--ati-dir', dir!.dir], { env: { ECHO_PLUGIN_API_VERSION: '2' } });
    expect(v2.code).not.toBe(0);
    expect(v2.stderr).toMatch(
      /handler plugin \\"echo\\" \(\.\/echo-plugin\.mjs\) targets plugin API v2, this ati supports v1/,
    );
    await dir!.write('config.toml', '[plugins]\nmodules = ["./echo-plugin.mjs", "./echo-again.mjs"]\n');
    await copyFile(FIXTURE, path.join(dir!.dir, 'echo-again.mjs'));
    const dup = await runAti(['proxy', '--check', '--ati-dir', dir!.dir]);
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toMatch(/registers handler \\"echo\\", which is already registered/);
    await dir!.write('config.toml', '[plugins]\nmodules = ["ati-plugin-does-not-exist"]\n');
    const missing = await runAti(['proxy', '--check', '--ati-dir', dir!.dir]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/plugin package \\"ati-plugin-does-not-exist\\" is not installed in .*node_modules/);
    await dir!.write('config.toml', '[plugin]\nmodules = []\n');
    const typo = await runAti(['proxy', '--check', '--ati-dir', dir!.dir]);
    expect(typo.stderr).toMatch(/config\.toml: unknown table \\"plugin\\" \(did you mean \\"plugins\\"\?\)/);
  });
});
