/** `ati manifest schema`: print the JSON Schema of manifests for the handlers this ati has (built-in + config.toml plugins). */
import type { Command } from 'commander';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  const manifest = program.command('manifest').description('Manifest tooling');
  manifest
    .command('schema')
    .description('Print the JSON Schema of manifests (use with taplo / Even Better TOML)')
    .option('--ati-dir <path>', 'ATI directory whose config.toml plugins to include')
    .option('--builtin-only', 'only the built-in handlers (what docs/schema/manifest.schema.json holds)', false)
    .action(async (o: { atiDir?: string; builtinOnly: boolean }) => {
      try {
        // The built-in plugins (and all they import) load only when the command runs, not for `ati --help`.
        const [
          { PluginRegistry },
          { manifestJsonSchema },
          { loadConfiguredPlugins },
          { resolveAtiDir },
          { BUILTIN_PLUGINS },
        ] = await Promise.all([
          import('../../core/plugin/contract.js'),
          import('../../config/manifest-json-schema.js'),
          import('../../core/plugin/load-modules.js'),
          import('../../config/proxy-config.js'),
          import('../builtin-plugins.js'),
        ]);
        const registry = new PluginRegistry();
        for (const p of BUILTIN_PLUGINS) registry.register(p);
        if (!o.builtinOnly) await loadConfiguredPlugins(resolveAtiDir(o.atiDir, process.env), registry);
        process.stdout.write(`${JSON.stringify(manifestJsonSchema(registry), null, 2)}\n`);
      } catch (err) {
        process.exit(reportFatal(err, globals().output));
      }
    });
}
