/**
 * The in-memory keyring: a flat, immutable map from entry name to secret value.
 * Lookups are exact and case-sensitive. One Keyring belongs to one generation;
 * a reload builds a new one. File formats live in config/keyring-*.
 */
import { AtiError } from '../kernel/errors.js';

/** Read access to the generation's keyring. Every read is recorded for the reuse decision. */
export interface KeyringAccessor {
  get(name: string): string | undefined;
  has(name: string): boolean;
  /** Like `get`, but a missing entry throws ATI_ERR_MISSING_CREDENTIAL naming the entry (never the value). */
  require(name: string, usedBy?: string): string;
}

export class Keyring {
  private readonly entries: ReadonlyMap<string, string>;
  /** Where the entries came from, e.g. `keyring.enc (persistent key)` (the startup line's `keyring` field). */
  readonly source: string;
  /** True when loaded with the sealed one-shot key; CLI-provider secret files are then per-call. */
  readonly ephemeral: boolean;

  constructor(entries: Iterable<[string, string]>, source: string, ephemeral = false) {
    this.entries = new Map(entries);
    this.source = source;
    this.ephemeral = ephemeral;
    Object.freeze(this);
  }

  static empty(source = 'empty (no auth)'): Keyring {
    return new Keyring([], source);
  }

  get(name: string): string | undefined {
    return this.entries.get(name);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get size(): number {
    return this.entries.size;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Every value, for the redaction of logs and responses. */
  values(): string[] {
    return [...this.entries.values()];
  }

  /** An accessor that records every name read (value or absence), for the provider reuse decision. */
  accessor(reads?: Map<string, string | undefined>): KeyringAccessor {
    const record = (name: string, value: string | undefined) => {
      reads?.set(name, value);
      return value;
    };
    return {
      get: (name) => record(name, this.entries.get(name)),
      has: (name) => record(name, this.entries.get(name)) !== undefined,
      require: (name, usedBy) => {
        const v = record(name, this.entries.get(name));
        if (v === undefined) throw missingCredential(name, usedBy);
        return v;
      },
    };
  }

  /** True when every recorded read gives the same answer in this keyring. */
  sameReads(reads: ReadonlyMap<string, string | undefined>): boolean {
    for (const [name, value] of reads) if (this.entries.get(name) !== value) return false;
    return true;
  }
}

/** The error for a keyring entry a provider needs but the keyring lacks (names the entry, never a value). */
export function missingCredential(name: string, usedBy?: string): AtiError {
  const who = usedBy ? ` (needed by ${usedBy})` : '';
  return new AtiError(
    'ATI_ERR_MISSING_CREDENTIAL',
    `keyring entry '${name}' is missing${who}; add it with \`ati key set ${name} <value>\` or the keyring tooling, then reload`,
  );
}
