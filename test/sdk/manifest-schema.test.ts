import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_PLUGINS } from '../../cli/builtin-plugins.js';
import { manifestJsonSchema } from '../../config/manifest-json-schema.js';
import { PluginRegistry } from '../../core/plugin/contract.js';
import { REPO_ROOT } from '../helpers/proxy-process.js';

describe('published manifest JSON Schema', () => {
  it('docs/schema/manifest.schema.json is up to date (regenerate with `npm run schema`)', () => {
    const registry = new PluginRegistry();
    for (const p of BUILTIN_PLUGINS) registry.register(p);
    const onDisk = JSON.parse(
      readFileSync(path.join(REPO_ROOT, 'docs', 'schema', 'manifest.schema.json'), 'utf8'),
    ) as unknown;
    expect(onDisk).toEqual(manifestJsonSchema(registry));
  });
});
