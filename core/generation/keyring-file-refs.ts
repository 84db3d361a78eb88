/**
 * A generation extension whose only job is change detection: its source files
 * are the targets of `@file:` entries in `credentials`, so a reload notices a
 * rotated secret file. Its per-generation value is nothing.
 */
import { credentialFileRefs, type KeyringConfig } from '../../config/keyring-loader.js';
import { defineExtension, type GenerationExtension } from './extension.js';

const KEYRING_FILE_REFS = defineExtension<void>('keyring-file-refs');

export function keyringFileRefsExtension(cfg: KeyringConfig): GenerationExtension<void> {
  return {
    key: KEYRING_FILE_REFS,
    sourceFiles: () => credentialFileRefs(cfg),
    async load() {},
  };
}
