/**
 * A generation is one immutable, complete view of everything that comes from
 * files: providers and their provisioned state, the tool index, the passthrough
 * route table, the keyring and the signing secrets. The host serves exactly one
 * generation at a time and swaps it with one assignment; each request captures
 * the generation once at its start and uses it to the end.
 *
 * Provisioned providers are reference-counted: a reload reuses a provider whose
 * inputs did not change, so two generations may share it; it is closed when the
 * last generation holding it is closed.
 */
import type { Logger } from '../../kernel/logger.js';
import type { Keyring } from '../../config/keyring.js';
import type {
  HandlerPlugin,
  PassthroughRoute,
  ProviderManifest,
  Provisioned,
  ToolDefinition,
} from '../plugin/contract.js';
import type { ExtensionKey, ExtensionValues } from './extension.js';

/** How long `close()` of one provider may take before it is abandoned. */
export const PROVIDER_CLOSE_DEADLINE_MS = 5_000;

export class ProviderInstance {
  private refs = 0;
  private closing: Promise<void> | undefined;

  constructor(
    readonly manifest: ProviderManifest,
    readonly plugin: HandlerPlugin,
    readonly provisioned: Provisioned,
    /** Keyring entries read during provision, with the values seen (reuse key). */
    readonly keyringReads: ReadonlyMap<string, string | undefined>,
    readonly provisionedInGeneration: number,
  ) {}

  get name(): string {
    return this.manifest.provider.name;
  }

  /**
   * Same manifest bytes, same plugin and version, and same values for the keyring entries it read,
   * unless the plugin said its result must not be reused (`Provisioned.reusable === false`).
   */
  reusableFor(manifest: ProviderManifest, plugin: HandlerPlugin, keyring: Keyring): boolean {
    return (
      this.provisioned.reusable !== false &&
      manifest.hash === this.manifest.hash &&
      plugin === this.plugin &&
      plugin.version === this.plugin.version &&
      keyring.sameReads(this.keyringReads)
    );
  }

  /** True when every extra input file the provider read (Provisioned.inputFiles) still has the same content. */
  async inputsUnchanged(hashFile: (file: string) => Promise<string | undefined>): Promise<boolean> {
    const inputs = this.provisioned.inputFiles;
    if (!inputs) return true;
    for (const [file, hash] of inputs) if ((await hashFile(file)) !== hash) return false;
    return true;
  }

  /** The plugin's own check that its result is still current (`Provisioned.revalidate`); errors mean no. */
  async stillValid(force: boolean, signal: AbortSignal): Promise<boolean> {
    const revalidate = this.provisioned.revalidate;
    if (!revalidate) return true;
    try {
      return await revalidate.call(this.provisioned, { force, signal });
    } catch {
      return false;
    }
  }

  retain(): void {
    this.refs++;
  }

  /** Drops one reference; closes the provider when none is left. */
  release(logger: Logger, deadlineMs = PROVIDER_CLOSE_DEADLINE_MS): Promise<void> {
    this.refs--;
    if (this.refs > 0) return Promise.resolve();
    return this.close(logger, deadlineMs);
  }

  close(logger: Logger, deadlineMs = PROVIDER_CLOSE_DEADLINE_MS): Promise<void> {
    this.closing ??= closeWithDeadline(this.provisioned, this.name, logger, deadlineMs);
    return this.closing;
  }
}

async function closeWithDeadline(p: Provisioned, name: string, logger: Logger, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), deadlineMs);
    timer.unref();
  });
  try {
    const r = await Promise.race([p.close().then(() => 'closed' as const), deadline]);
    if (r === 'timeout') {
      logger.warn({ provider: name, deadline_ms: deadlineMs }, 'provider close timed out; abandoned');
    }
  } catch (err) {
    logger.warn({ provider: name, error: (err as Error).message }, 'provider close failed');
  } finally {
    clearTimeout(timer);
  }
}

/** Passthrough routes ordered for matching: host-bound first, then longest prefix. */
export class RouteTable {
  readonly routes: readonly PassthroughRoute[];

  constructor(routes: readonly PassthroughRoute[]) {
    this.routes = [...routes].sort((a, b) => {
      if ((a.hostMatch === null) !== (b.hostMatch === null)) return a.hostMatch === null ? 1 : -1;
      return b.pathPrefix.length - a.pathPrefix.length;
    });
  }

  get size(): number {
    return this.routes.length;
  }

  /** First route whose host (if bound) and prefix (on a segment boundary) match. */
  match(host: string | undefined, path: string): PassthroughRoute | undefined {
    const h = host ? stripPort(host).toLowerCase() : undefined;
    for (const r of this.routes) {
      if (r.hostMatch !== null && r.hostMatch !== h) continue;
      if (prefixMatches(r.pathPrefix, path)) return r;
    }
    return undefined;
  }
}

export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.indexOf(':');
  return colon >= 0 ? host.slice(0, colon) : host;
}

const SLASH = 0x2f;

/** `/api` matches `/api`, `/api/x`, not `/apix`; `/` matches everything. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || (path.startsWith(prefix) && path.charCodeAt(prefix.length) === SLASH);
}

export interface GenerationInit {
  id: number;
  providers: ProviderInstance[];
  tools: ToolDefinition[];
  routes: PassthroughRoute[];
  keyring: Keyring;
  signingSecrets: Buffer[];
  sourceHashes: Map<string, string>;
  warnings: string[];
  /** Values of the generation extensions (skills registry, JWT verifier …); read with `key.get(gen)`. */
  extensions?: ReadonlyMap<ExtensionKey<unknown>, unknown>;
}

export class Generation implements ExtensionValues {
  readonly id: number;
  readonly loadedAt: Date;
  readonly providers: ReadonlyMap<string, ProviderInstance>;
  /** Every tool in load order (manifest files alphabetically, then declared/discovered order). */
  readonly toolList: readonly ToolDefinition[];
  readonly tools: ReadonlyMap<string, ToolDefinition>;
  readonly routes: RouteTable;
  readonly keyring: Keyring;
  readonly signingSecrets: readonly Buffer[];
  readonly sourceHashes: ReadonlyMap<string, string>;
  readonly warnings: readonly string[];
  private readonly extensions: ReadonlyMap<ExtensionKey<unknown>, unknown>;

  private inflight = 0;
  private retiredAt: number | undefined;
  private closed: Promise<void> | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private onDrained: (() => void) | undefined;

  constructor(init: GenerationInit) {
    this.id = init.id;
    this.loadedAt = new Date();
    this.providers = new Map(init.providers.map((p) => [p.name, p]));
    this.toolList = init.tools;
    this.tools = new Map(init.tools.map((t) => [t.name, t]));
    this.routes = new RouteTable(init.routes);
    this.keyring = init.keyring;
    this.signingSecrets = init.signingSecrets;
    this.sourceHashes = init.sourceHashes;
    this.warnings = init.warnings;
    this.extensions = init.extensions ?? new Map();
    for (const p of init.providers) p.retain();
  }

  /** Untyped access for ExtensionKey.get(); read values with `key.get(gen)`. */
  extensionValue(key: ExtensionKey<unknown>): unknown {
    return this.extensions.get(key);
  }

  /** Tools visible in listings (providers without `internal = true`). */
  publicTools(): ToolDefinition[] {
    return this.toolList.filter((t) => !t.internal);
  }

  get inFlight(): number {
    return this.inflight;
  }

  get isRetired(): boolean {
    return this.retiredAt !== undefined;
  }

  /** Counts a request (or WebSocket) that runs on this generation. */
  enter(): void {
    this.inflight++;
  }

  leave(): void {
    this.inflight--;
    if (this.inflight === 0 && this.onDrained) this.onDrained();
  }

  /**
   * Marks the generation retired: once its in-flight count reaches zero, or
   * `drainMs` passes, its providers are released. Resolves when closed.
   */
  retire(drainMs: number, logger: Logger, closeDeadlineMs = PROVIDER_CLOSE_DEADLINE_MS): Promise<void> {
    if (this.closed) return this.closed;
    this.retiredAt = Date.now();
    this.closed = new Promise<void>((resolve) => {
      const finish = (why: 'drained' | 'deadline') => {
        if (this.drainTimer) clearTimeout(this.drainTimer);
        this.onDrained = undefined;
        if (why === 'deadline' && this.inflight > 0) {
          logger.warn({ generation: this.id, in_flight: this.inflight }, 'generation drain deadline passed; closing');
        }
        void this.releaseProviders(logger, closeDeadlineMs).then(resolve);
      };
      if (this.inflight === 0) {
        finish('drained');
        return;
      }
      this.onDrained = () => finish('drained');
      this.drainTimer = setTimeout(() => finish('deadline'), drainMs);
      this.drainTimer.unref();
    });
    return this.closed;
  }

  private async releaseProviders(logger: Logger, closeDeadlineMs: number): Promise<void> {
    await Promise.all([...this.providers.values()].map((p) => p.release(logger, closeDeadlineMs)));
    logger.debug({ generation: this.id }, 'generation closed');
  }
}
