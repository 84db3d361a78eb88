/**
 * Builds a candidate generation: read every source file and hash it → (stop if
 * nothing changed) → parse and validate all manifests, collecting every error →
 * load the keyring → provision providers (reusing unchanged ones) → build the
 * indexes (duplicates are errors). On any error, or when `signal` aborted the
 * candidate while it provisioned, whatever the candidate had provisioned itself
 * is closed again (rollback); the serving generation is never touched here.
 */
import { readFile } from 'node:fs/promises';
import { createUpstreamPool } from './upstream-pool.js';
import { pluginMetrics } from '../metrics/plugin-metrics.js';
import { AtiError, toAtiError } from '../../kernel/errors.js';
import { SIGNING_SECRET_ENTRIES, decodeSigningSecret } from '../../kernel/request-signature.js';
import { Generation, ProviderInstance } from './generation.js';
import type { ExtensionKey, GenerationExtension } from './extension.js';
import type { Keyring } from '../../config/keyring.js';
import type { Logger } from '../../kernel/logger.js';
import type { HostOptions, PassthroughRoute, PluginRegistry, ToolDefinition } from '../plugin/contract.js';
import { parseManifests, readManifestSources, type ManifestCache } from '../../config/manifest-loader.js';
import { sha256 } from '../../kernel/hash.js';
import { atiPaths } from '../../config/proxy-config.js';

/** Loads the keyring for a generation; throws AtiError when a keyring file exists but is unusable. */
export type KeyringLoader = () => Promise<Keyring>;

export interface BuildInput {
  id: number;
  options: HostOptions;
  registry: PluginRegistry;
  loadKeyring: KeyringLoader;
  logger: Logger;
  previous?: Generation | undefined;
  /** Rebuild even if no source changed. */
  force?: boolean;
  extensions?: readonly GenerationExtension[];
  /** Aborted when the candidate is abandoned (superseded reload, shutdown); handed to every `provision`. */
  signal?: AbortSignal;
  /** Parsed manifests kept across builds (only changed files are parsed again). */
  manifestCache?: ManifestCache;
}

export type BuildOutcome =
  | {
      status: 'built';
      generation: Generation;
      changedFiles: string[];
      reused: string[];
      provisioned: string[];
      warnings: string[];
    }
  | { status: 'unchanged' }
  | { status: 'rejected'; errors: AtiError[] }
  /** `signal` was aborted during provisioning; whatever the candidate provisioned is closed again. */
  | { status: 'aborted' };

export function signingSecretsFromKeyring(keyring: Keyring): Buffer[] {
  const out: Buffer[] = [];
  for (const name of SIGNING_SECRET_ENTRIES) {
    const b = decodeSigningSecret(keyring.get(name));
    if (b) out.push(b);
  }
  return out;
}

async function hashIfExists(file: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(file));
  } catch {
    return undefined;
  }
}

function routeKey(r: PassthroughRoute): string {
  return `${r.hostMatch ?? '*'} ${r.pathPrefix}`;
}

export async function buildGeneration(input: BuildInput): Promise<BuildOutcome> {
  const { options, registry, logger, previous } = input;
  const paths = atiPaths(options.atiDir);

  // 1. Read every source and hash it.
  let sources;
  try {
    sources = await readManifestSources(paths.manifests);
  } catch (err) {
    return { status: 'rejected', errors: [toAtiError(err)] };
  }
  const hashes = new Map<string, string>();
  for (const s of sources) hashes.set(s.file, s.hash);
  const extraFiles = [paths.keyringEnc, paths.keyringKey, paths.credentials];
  for (const ext of input.extensions ?? []) extraFiles.push(...((await ext.sourceFiles?.(options)) ?? []));
  // Files the serving providers read besides their manifest (OpenAPI specs …): an edit there is a change too.
  for (const p of previous?.providers.values() ?? []) extraFiles.push(...(p.provisioned.inputFiles?.keys() ?? []));
  for (const f of extraFiles) {
    const h = await hashIfExists(f);
    if (h) hashes.set(f, h);
  }
  const changedFiles = diffHashes(previous?.sourceHashes, hashes);
  if (previous && !input.force && changedFiles.length === 0) return { status: 'unchanged' };

  // 2. Parse and validate every manifest.
  const parsed = parseManifests(sources, registry, input.manifestCache);
  const errors: AtiError[] = [...parsed.errors];
  const warnings = [...parsed.warnings];

  // 3. Keyring: a file that exists but cannot be used rejects the candidate.
  let keyring: Keyring | undefined;
  try {
    keyring = await input.loadKeyring();
  } catch (err) {
    errors.push(toAtiError(err, 'ATI_ERR_KEYRING'));
  }
  // A keyring file that vanished mid-reload (non-atomic `rm` + `cp`) must not clear every secret.
  if (
    keyring &&
    previous &&
    keyring.size === 0 &&
    previous.keyring.size > 0 &&
    /^(keyring\.enc|credentials)/.test(previous.keyring.source)
  ) {
    errors.push(
      new AtiError(
        'ATI_ERR_KEYRING',
        `the keyring file (${previous.keyring.source}) disappeared; keeping the previous keyring — restore the file, or restart the proxy to run without one`,
        {
          location: { file: previous.keyring.source.startsWith('keyring.enc') ? paths.keyringEnc : paths.credentials },
        },
      ),
    );
  }
  if (errors.length > 0 || !keyring) return { status: 'rejected', errors };

  // 4. Provision, reusing unchanged providers of the previous generation.
  const signal = input.signal ?? new AbortController().signal;
  const instances: ProviderInstance[] = [];
  const created: ProviderInstance[] = [];
  const reused: string[] = [];
  const provisionedNames: string[] = [];
  await Promise.all(
    parsed.manifests.map(async (m, index) => {
      const plugin = registry.get(m.provider.handler)!;
      const prev = previous?.providers.get(m.provider.name);
      if (
        prev &&
        prev.reusableFor(m, plugin, keyring) &&
        (await prev.inputsUnchanged(hashIfExists)) &&
        (await prev.stillValid(input.force === true, signal))
      ) {
        instances[index] = prev;
        reused.push(m.provider.name);
        return;
      }
      const reads = new Map<string, string | undefined>();
      try {
        const provisioned = await plugin.provision(m, {
          options,
          atiDir: options.atiDir,
          specsDir: paths.specs,
          keyring: keyring.accessor(reads),
          logger: logger.child({ provider: m.provider.name, handler: plugin.name }),
          signal,
          generationId: input.id,
          createPool: createUpstreamPool,
          metrics: pluginMetrics(plugin.name, m.provider.name),
        });
        const inst = new ProviderInstance(m, plugin, provisioned, reads, input.id);
        instances[index] = inst;
        created.push(inst);
        provisionedNames.push(m.provider.name);
      } catch (err) {
        const e = toAtiError(err, 'ATI_ERR_PROVISION');
        errors.push(
          new AtiError(
            e.code === 'ATI_ERR_INTERNAL' ? 'ATI_ERR_PROVISION' : e.code,
            `provider "${m.provider.name}" (handler ${plugin.name}) failed to provision: ${e.message}`,
            {
              location: { file: m.file },
              cause: err,
            },
          ),
        );
      }
    }),
  );
  // An abandoned candidate (superseded reload, shutdown) is never used: undo what it provisioned.
  if (signal.aborted) {
    await Promise.all(created.map((c) => c.close(logger)));
    return { status: 'aborted' };
  }

  // 5. Indexes: tools by name, routes by (host, prefix); duplicates are errors.
  const tools: ToolDefinition[] = [];
  const routes: PassthroughRoute[] = [];
  if (errors.length === 0) {
    const toolOwner = new Map<string, string>();
    const routeOwner = new Map<string, string>();
    for (const inst of instances) {
      for (const t of inst.provisioned.tools) {
        const other = toolOwner.get(t.name);
        if (other) {
          errors.push(
            new AtiError('ATI_ERR_MANIFEST_INVALID', `duplicate tool name "${t.name}" (also provided by ${other})`, {
              location: { file: inst.manifest.file },
            }),
          );
          continue;
        }
        toolOwner.set(t.name, inst.manifest.file);
        tools.push(t);
      }
      if (options.enablePassthrough) {
        for (const r of inst.provisioned.routes ?? []) {
          const key = routeKey(r);
          const other = routeOwner.get(key);
          if (other) {
            errors.push(
              new AtiError(
                'ATI_ERR_MANIFEST_INVALID',
                `duplicate passthrough route (host ${r.hostMatch ?? 'any'}, prefix ${r.pathPrefix}) (also defined in ${other})`,
                {
                  location: { file: inst.manifest.file },
                },
              ),
            );
            continue;
          }
          routeOwner.set(key, inst.manifest.file);
          routes.push(r);
        }
      }
    }
  }

  // 6. Extensions (skills, JWT …).
  const extensions = new Map<ExtensionKey<unknown>, unknown>();
  if (errors.length === 0) {
    for (const ext of input.extensions ?? []) {
      try {
        extensions.set(ext.key, await ext.load({ options, keyring, logger, generationId: input.id }));
      } catch (err) {
        errors.push(toAtiError(err, 'ATI_ERR_CONFIG'));
      }
    }
  }

  if (errors.length > 0) {
    await Promise.all(created.map((c) => c.close(logger)));
    return { status: 'rejected', errors };
  }

  const generation = new Generation({
    id: input.id,
    providers: instances,
    tools,
    routes,
    keyring,
    signingSecrets: signingSecretsFromKeyring(keyring),
    sourceHashes: hashes,
    warnings,
    extensions,
  });
  return { status: 'built', generation, changedFiles, reused, provisioned: provisionedNames, warnings };
}

function diffHashes(prev: ReadonlyMap<string, string> | undefined, next: ReadonlyMap<string, string>): string[] {
  const changed: string[] = [];
  for (const [f, h] of next) if (prev?.get(f) !== h) changed.push(f);
  if (prev) for (const f of prev.keys()) if (!next.has(f)) changed.push(f);
  return changed.sort();
}
