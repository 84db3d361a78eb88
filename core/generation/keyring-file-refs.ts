/**
 * A generation extension whose only job is change detection: its source files
 * are the targets of `@file:` entries in `credentials`, so a reload notices a
 * rotated secret file. Its per-generation value is nothing.
 */
import { credentialFileRefs, type KeyringConfig } from '../../config/keyring-loader.js';
import type { GenerationExtension } from './builder.js';

export function keyringFileRefsExtension(cfg: KeyringConfig): GenerationExtension {
  return {
    name: 'keyringFileRefs',
    sourceFiles: () => credentialFileRefs(cfg),
    async load() {
      return undefined;
    },
  };
}
