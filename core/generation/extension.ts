/**
 * Generation extensions: features that contribute a value to every generation
 * (the skills registry, the JWT verifier …) without the generation knowing
 * them. Each feature defines a typed key once; its extension loads the value
 * for each candidate, and readers get it back typed with `key.get(gen)`.
 */
import type { Keyring } from '../../config/keyring.js';
import type { Logger } from '../../kernel/logger.js';
import type { HostOptions } from '../plugin/contract.js';

/** Anything that carries extension values (a Generation). */
export interface ExtensionValues {
  extensionValue(key: ExtensionKey<unknown>): unknown;
}

/** The typed key of one extension value. Compared by identity, so two features cannot clash on a name. */
export class ExtensionKey<T> {
  /** `name` is for messages only. */
  constructor(readonly name: string) {}

  /** The value the extension loaded for `gen`, or undefined when the extension is not installed. */
  get(gen: ExtensionValues): T | undefined {
    return gen.extensionValue(this) as T | undefined;
  }
}

export function defineExtension<T>(name: string): ExtensionKey<T> {
  return new ExtensionKey<T>(name);
}

export interface ExtensionLoadContext {
  options: HostOptions;
  keyring: Keyring;
  logger: Logger;
  generationId: number;
}

/**
 * A feature that contributes data to each generation. `load` runs after the
 * keyring; its value is stored under `key`. Errors it throws reject the
 * candidate like a manifest error.
 */
export interface GenerationExtension<T = unknown> {
  readonly key: ExtensionKey<T>;
  /** Extra files whose content is part of the change detection. */
  sourceFiles?(options: HostOptions): Promise<string[]>;
  load(ctx: ExtensionLoadContext): Promise<T>;
}
