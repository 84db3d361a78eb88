/**
 * Node 20 preload for the MCP conformance CLI: the CLI does
 * `import { globSync } from 'fs'`, an API of Node >= 22, so on Node 20 it fails to
 * link before it runs anything. This supplies `fs.globSync` (CommonJS users) and
 * registers a resolve hook that serves `fs`/`node:fs` from a module that adds
 * the named export (ESM users). On a Node that has globSync it does nothing.
 *
 *   node --import ./globsync-shim.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js …
 */
import fs from 'node:fs';
import { register } from 'node:module';
import { globSync } from './fs-globsync.mjs';

if (typeof fs.globSync !== 'function') {
  fs.globSync = globSync;
  register('./globsync-hooks.mjs', import.meta.url);
}
