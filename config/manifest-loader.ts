/**
 * Reads `<ati_dir>/manifests/*.toml` and turns them into validated
 * ProviderManifest objects. Validation never stops at the first problem: every
 * error of every file is collected, each with file, line (where known), field
 * path and a plain-English reason, so `ati proxy --check` and a rejected reload
 * can show the operator everything at once.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { Type, type TSchema, type TProperties } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { AtiError } from '../kernel/errors.js';
import { sha256 } from '../kernel/hash.js';
import {
  UNAVAILABLE_HANDLERS,
  type HandlerSchema,
  type HandlerSchemas,
  type ProviderFields,
  type ProviderManifest,
  type ToolManifest,
} from './manifest-types.js';
import { CommonProviderFields, CommonToolFields, DEPRECATED_PROVIDER_KEYS } from './manifest-schema.js';
import { didYouMean } from '../kernel/suggest.js';
import { locateLine } from './toml-locate.js';

/** One manifest file as read from disk. */
export interface ManifestSource {
  file: string;
  text: string;
  hash: string;
}

export interface ManifestLoadResult {
  manifests: ProviderManifest[];
  errors: AtiError[];
  warnings: string[];
}

/** How many manifest files are read at once (well under any file-descriptor limit). */
const READ_CONCURRENCY = 16;

/** Lists and reads every `*.toml` directly in `dir`, in filename order. A missing directory is an error. */
export async function readManifestSources(dir: string): Promise<ManifestSource[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => (d.isFile() || d.isSymbolicLink()) && d.name.endsWith('.toml') && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new AtiError(
        'ATI_ERR_MANIFESTS_DIR',
        `No manifests directory found at ${dir} (create it, or point --ati-dir / ATI_DIR at the directory that holds manifests/)`,
      );
    }
    throw new AtiError('ATI_ERR_IO', `cannot list manifests directory ${dir}: ${(err as Error).message}`);
  }
  // Read concurrently (a few at a time: each readFile is several thread-pool round trips, which
  // one after the other dominated reading 100 small files); results and errors in name order.
  const results = new Array<{ bytes: Buffer } | { err: NodeJS.ErrnoException } | undefined>(names.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < names.length; i = next++) {
      results[i] = await readFile(path.join(dir, names[i]!)).then(
        (bytes) => ({ bytes }),
        (err: NodeJS.ErrnoException) => ({ err }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, names.length) }, worker));
  const out: ManifestSource[] = [];
  names.forEach((name, i) => {
    const file = path.join(dir, name);
    const r = results[i]!;
    if ('err' in r) {
      // A file deleted between readdir and read (editor temp files) is simply not there.
      if (r.err.code === 'ENOENT') return;
      throw new AtiError('ATI_ERR_IO', `Failed to read manifest file ${file}: ${r.err.message}`);
    }
    out.push({ file, text: r.bytes.toString('utf8'), hash: sha256(r.bytes) });
  });
  return out;
}

type Issues = AtiError[];

function located(src: ManifestSource, field: string | undefined, message: string, line?: number): AtiError {
  const loc: { file: string; field?: string; line?: number } = { file: src.file };
  if (field) loc.field = field;
  const l = line ?? (field ? locateLine(src.text, field) : undefined);
  if (l !== undefined) loc.line = l;
  return new AtiError('ATI_ERR_MANIFEST_INVALID', message, { location: loc });
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function describeSchema(schema: TSchema): string {
  const s = schema as { anyOf?: Array<{ const?: unknown }>; type?: string; items?: TSchema };
  if (Array.isArray(s.anyOf) && s.anyOf.every((x) => 'const' in x)) {
    return `one of ${s.anyOf.map((x) => JSON.stringify(x.const)).join(', ')}`;
  }
  if (s.type === 'array') return 'an array';
  if (s.type === 'object') return 'a table';
  if (s.type === 'integer') return 'an integer';
  if (s.type) return `a ${s.type}`;
  return 'a valid value';
}

const ownersCache = new WeakMap<
  HandlerSchemas,
  { size: number; provider: Map<string, string[]>; tool: Map<string, string[]> }
>();

/** Field → handlers that declare it, cached per registry (recomputed if plugins were added). */
function owners(registry: HandlerSchemas, kind: 'provider' | 'tool'): Map<string, string[]> {
  const size = registry.names().length;
  let c = ownersCache.get(registry);
  if (!c || c.size !== size) {
    c = { size, provider: foreignFieldOwners(registry, 'provider'), tool: foreignFieldOwners(registry, 'tool') };
    ownersCache.set(registry, c);
  }
  return c[kind];
}

/** Maps the handler → fields of other handlers, for "x is a field of handler y" hints. */
function foreignFieldOwners(registry: HandlerSchemas, kind: 'provider' | 'tool'): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  for (const p of registry.all()) {
    const props = kind === 'provider' ? p.providerSchema : (p.toolSchema ?? {});
    for (const key of Object.keys(props)) owners.set(key, [...(owners.get(key) ?? []), p.name]);
  }
  return owners;
}

function checkKeys(
  src: ManifestSource,
  table: Record<string, unknown>,
  prefix: string,
  allowed: TProperties,
  deprecated: Readonly<Record<string, string>>,
  owners: Map<string, string[]>,
  handler: string,
  issues: Issues,
  warnings: string[],
): void {
  const known = Object.keys(allowed);
  for (const key of Object.keys(table)) {
    if (key in allowed) continue;
    const field = `${prefix}.${key}`;
    if (key in deprecated) {
      warnings.push(`${src.file}: ${field}: ${deprecated[key]}`);
      continue;
    }
    const other = owners.get(key);
    if (other && !other.includes(handler)) {
      issues.push(
        located(
          src,
          field,
          `"${key}" is a field of handler ${other.map((o) => `"${o}"`).join('/')}, not of handler "${handler}"`,
        ),
      );
      continue;
    }
    issues.push(located(src, field, `unknown key "${key}"${didYouMean(key, known)}`));
  }
}

/** Compiled validators, built once per plugin object (plugins are immutable once registered). */
interface CompiledSchemas {
  providerProps: TProperties;
  provider: TypeCheck<TSchema>;
  toolProps: TProperties;
  tool: TypeCheck<TSchema>;
}
const compiledByPlugin = new WeakMap<object, CompiledSchemas>();
let commonProviderCheck: TypeCheck<TSchema> | undefined;

function compiledFor(plugin: HandlerSchema): CompiledSchemas {
  let c = compiledByPlugin.get(plugin);
  if (!c) {
    const providerProps: TProperties = { ...CommonProviderFields, ...plugin.providerSchema };
    const toolProps: TProperties = { ...CommonToolFields, ...(plugin.toolSchema ?? {}) };
    c = {
      providerProps,
      provider: TypeCompiler.Compile(Type.Object(providerProps)),
      toolProps,
      tool: TypeCompiler.Compile(Type.Object(toolProps)),
    };
    compiledByPlugin.set(plugin, c);
  }
  return c;
}

function checkTypes(
  src: ManifestSource,
  value: unknown,
  check: TypeCheck<TSchema>,
  prefix: string,
  issues: Issues,
): void {
  if (check.Check(value)) return; // the common case costs one compiled check
  const seen = new Set<string>();
  for (const e of check.Errors(value)) {
    const rel = e.path.split('/').filter(Boolean);
    const field = [prefix, ...rel].join('.');
    if (seen.has(field)) continue;
    seen.add(field);
    if (e.value === undefined) {
      issues.push(located(src, prefix, `missing required key "${rel[rel.length - 1]}"`));
    } else {
      issues.push(
        located(src, field, `must be ${describeSchema(e.schema)} (found ${JSON.stringify(e.value)?.slice(0, 60)})`),
      );
    }
  }
}

/** Applies the common provider defaults (the reference's; docs/manifests.md). */
function providerDefaults(raw: Record<string, unknown>): ProviderFields {
  return {
    handler: 'http',
    base_url: '',
    internal: false,
    skills: [],
    extra_headers: {},
    auth_type: 'none',
    oauth2_basic_auth: false,
    ...raw,
  } as unknown as ProviderFields;
}

function toolDefaults(raw: Record<string, unknown>): ToolManifest {
  return { endpoint: '', method: 'GET', tags: [], examples: [], ...raw } as unknown as ToolManifest;
}

const TOP_LEVEL = { provider: Type.Unknown(), tools: Type.Unknown() };

/** Parses and validates one source. Problems go into `issues`; returns the manifest when it is usable. */
export function parseManifest(
  src: ManifestSource,
  registry: HandlerSchemas,
  issues: Issues,
  warnings: string[],
): ProviderManifest | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(src.text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      issues.push(
        new AtiError('ATI_ERR_MANIFEST_INVALID', `TOML syntax error: ${first}`, {
          location: { file: src.file, line: err.line, column: err.column },
        }),
      );
    } else {
      issues.push(located(src, undefined, `TOML syntax error: ${(err as Error).message}`));
    }
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(doc)) {
    if (!(key in TOP_LEVEL)) {
      issues.push(located(src, key, `unknown top-level key "${key}"${didYouMean(key, Object.keys(TOP_LEVEL))}`));
    }
  }
  const rawProvider = doc['provider'];
  if (!isTable(rawProvider)) {
    issues.push(located(src, undefined, 'missing [provider] table'));
    return undefined;
  }
  const handler = typeof rawProvider['handler'] === 'string' ? rawProvider['handler'] : 'http';
  if (handler in UNAVAILABLE_HANDLERS) {
    issues.push(located(src, 'provider.handler', UNAVAILABLE_HANDLERS[handler]!));
    return undefined;
  }
  const plugin = registry.get(handler);
  if (!plugin) {
    issues.push(
      located(
        src,
        'provider.handler',
        `unknown handler "${handler}"${didYouMean(handler, registry.names())}; registered handlers: ${registry.names().join(', ') || '(none)'}`,
      ),
    );
    // Still check the common fields; unknown keys cannot be judged without the handler's schema.
    commonProviderCheck ??= TypeCompiler.Compile(Type.Object(CommonProviderFields));
    checkTypes(src, rawProvider, commonProviderCheck, 'provider', issues);
    return undefined;
  }

  const compiled = compiledFor(plugin);
  const providerProps = compiled.providerProps;
  checkKeys(
    src,
    rawProvider,
    'provider',
    providerProps,
    DEPRECATED_PROVIDER_KEYS,
    owners(registry, 'provider'),
    handler,
    issues,
    warnings,
  );
  checkTypes(src, rawProvider, compiled.provider, 'provider', issues);

  const rawTools = doc['tools'] ?? [];
  const tools: ToolManifest[] = [];
  if (!Array.isArray(rawTools)) {
    issues.push(located(src, 'tools', 'must be an array of tables ([[tools]])'));
  } else {
    const toolProps = compiled.toolProps;
    const toolOwners = owners(registry, 'tool');
    const names = new Map<string, number>();
    rawTools.forEach((t, i) => {
      const prefix = `tools[${i}]`;
      if (!isTable(t)) {
        issues.push(located(src, prefix, 'must be a table'));
        return;
      }
      if (typeof t['method'] === 'string') t['method'] = t['method'].toUpperCase();
      checkKeys(src, t, prefix, toolProps, {}, toolOwners, handler, issues, warnings);
      checkTypes(src, t, compiled.tool, prefix, issues);
      const name = t['name'];
      if (typeof name === 'string') {
        const prev = names.get(name);
        if (prev !== undefined) {
          issues.push(located(src, `${prefix}.name`, `duplicate tool name "${name}" (also tools[${prev}])`));
        } else names.set(name, i);
      }
      tools.push(toolDefaults(t));
    });
  }
  if (issues.length > before) return undefined;

  const manifest: ProviderManifest = {
    file: src.file,
    hash: src.hash,
    provider: providerDefaults(rawProvider),
    tools,
    locate: (field: string) => {
      const line = locateLine(src.text, field);
      return line === undefined ? { file: src.file, field } : { file: src.file, field, line };
    },
  };
  for (const issue of plugin.validate?.(manifest) ?? []) {
    issues.push(located(src, issue.field, issue.message));
  }
  return issues.length > before ? undefined : manifest;
}

/** Parsed manifests by file and content hash, so a reload re-parses only files that changed. */
export type ManifestCache = Map<string, { manifest: ProviderManifest; warnings: string[] }>;

/**
 * Parses every source and checks what spans files: duplicate provider names and
 * duplicate hand-written tool names (each error names both files).
 */
export function parseManifests(
  sources: readonly ManifestSource[],
  registry: HandlerSchemas,
  cache?: ManifestCache,
): ManifestLoadResult {
  const errors: AtiError[] = [];
  const warnings: string[] = [];
  const manifests: ProviderManifest[] = [];
  const providers = new Map<string, string>();
  const tools = new Map<string, string>();
  const live = new Set<string>();
  for (const src of sources) {
    const key = `${src.file}\0${src.hash}`;
    live.add(key);
    let m: ProviderManifest | undefined;
    const hit = cache?.get(key);
    if (hit) {
      m = hit.manifest;
      warnings.push(...hit.warnings);
    } else {
      const w: string[] = [];
      m = parseManifest(src, registry, errors, w);
      warnings.push(...w);
      if (m && cache) cache.set(key, { manifest: m, warnings: w });
    }
    if (!m) continue;
    const name = m.provider.name;
    const other = providers.get(name);
    if (other) {
      errors.push(located(src, 'provider.name', `duplicate provider name "${name}" (also defined in ${other})`));
      continue;
    }
    providers.set(name, src.file);
    let dup = false;
    m.tools.forEach((t, i) => {
      const prev = tools.get(t.name);
      if (prev) {
        dup = true;
        errors.push(located(src, `tools[${i}].name`, `duplicate tool name "${t.name}" (also defined in ${prev})`));
      }
    });
    if (dup) continue;
    for (const t of m.tools) tools.set(t.name, src.file);
    manifests.push(m);
  }
  if (cache) for (const k of cache.keys()) if (!live.has(k)) cache.delete(k);
  return { manifests, errors, warnings };
}
