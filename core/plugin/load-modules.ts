/**
 * Loads the third-party handler plugins named in `<ati_dir>/config.toml`
 * (`[plugins] modules`, read by config/plugins-config.ts) and registers them.
 * Plugins load once at startup; a changed list needs a restart.
 */
import { pathToFileURL } from 'node:url';
import { AtiError } from '../../kernel/errors.js';
import { readPluginSpecifiers, resolvePluginSpecifier } from '../../config/plugins-config.js';
import type { HandlerPlugin, PluginRegistry } from './contract.js';

export interface LoadedPlugin {
  name: string;
  version: string;
  specifier: string;
  resolved: string;
}

function isPlugin(v: unknown): v is HandlerPlugin {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as HandlerPlugin).name === 'string' &&
    typeof (v as HandlerPlugin).provision === 'function'
  );
}

/** Imports every configured plugin and registers it; collisions and version mismatches throw. */
export async function loadConfiguredPlugins(atiDir: string, registry: PluginRegistry): Promise<LoadedPlugin[]> {
  const { file, modules } = readPluginSpecifiers(atiDir);
  const loaded: LoadedPlugin[] = [];
  for (const spec of modules) {
    const resolved = resolvePluginSpecifier(atiDir, spec);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    } catch (err) {
      throw new AtiError(
        'ATI_ERR_CONFIG',
        `plugin module ${spec} (${resolved}) failed to load: ${(err as Error).message}`,
        { location: { file } },
      );
    }
    const candidates = [mod['default'], mod['plugin'], ...(Array.isArray(mod['plugins']) ? mod['plugins'] : [])].flat();
    const plugins = candidates.filter(isPlugin);
    if (plugins.length === 0) {
      throw new AtiError(
        'ATI_ERR_CONFIG',
        `plugin module ${spec} exports no handler plugin (export default definePlugin({...}))`,
        { location: { file } },
      );
    }
    for (const p of plugins) {
      if (registry.get(p.name)) {
        throw new AtiError(
          'ATI_ERR_CONFIG',
          `plugin module ${spec} registers handler "${p.name}", which is already registered (built-in or another plugin)`,
          { location: { file } },
        );
      }
      registry.register(p, spec);
      loaded.push({ name: p.name, version: p.version, specifier: spec, resolved });
    }
  }
  return loaded;
}
