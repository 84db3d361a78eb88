/**
 * The built-in handler plugins, registered exactly like third-party ones.
 * Each plugin issue adds its plugin here.
 */
import type { HandlerPlugin } from '../core/plugin.js';
import { cliPlugin } from '../plugins/cli/index.js';

export const BUILTIN_PLUGINS: HandlerPlugin[] = [
  cliPlugin,
];
