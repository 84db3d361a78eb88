/** ESM resolve hook: `fs` and `node:fs` resolve to fs-globsync.mjs, except from that module itself. */
const WRAPPER_URL = new URL('./fs-globsync.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL !== WRAPPER_URL) {
    return { url: WRAPPER_URL, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
