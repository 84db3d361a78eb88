/**
 * One skill folder → one Skill (docs/skills.md#how-a-folder-becomes-a-skill). Metadata comes from, in order:
 *  (A) `SKILL.md` frontmatter (format `anthropic`), with only the bindings
 *      (tools, providers, categories, keywords, hint, depends_on, suggests)
 *      taken from `skill.toml` when it exists;
 *  (B) the `[skill]` table of `skill.toml` (format `legacy-toml`);
 *  (C) `SKILL.md` alone (format `inferred`): name = folder name, description =
 *      the first non-empty line that is not a heading.
 * A folder that cannot become a skill throws SkillLoadError; the registry skips
 * it with a warning (the reference emptied the whole registry instead).
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { didYouMean } from '../../kernel/suggest.js';
import { locateLine } from '../../config/toml-locate.js';
import { PathEscapeError, resolveInsideIfExists } from './confined-fs.js';
import { parseFrontmatter, splitFrontmatter, type Frontmatter } from './frontmatter.js';

export type SkillFormat = 'anthropic' | 'legacy-toml' | 'inferred';

/** A loaded skill. Immutable once in a registry. */
export interface Skill {
  name: string;
  version: string;
  description: string;
  author: string | null;
  license: string | null;
  compatibility: string | null;
  whenToUse: string | null;
  allowedTools: string | null;
  /** Exact tool names that pull this skill in. */
  tools: string[];
  providers: string[];
  /** Provider `category` values. */
  categories: string[];
  keywords: string[];
  hint: string | null;
  dependsOn: string[];
  suggests: string[];
  extraMetadata: Record<string, string>;
  format: SkillFormat;
  /** `SKILL.md` without frontmatter; "" when there is no SKILL.md. */
  content: string;
  /** Real path of the skill folder; every file read is confined to it. */
  root: string;
  /** Folder name under `<ati_dir>/skills/`. */
  dirName: string;
}

export const DEFAULT_SKILL_VERSION = '0.1.0';
/** A SKILL.md above this size is refused (it is held in memory and sent whole). */
export const MAX_SKILL_MD_BYTES = 4 * 1024 * 1024;

/** Why a folder is not a skill; `file`/`line` point at the problem when known. */
export class SkillLoadError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'SkillLoadError';
  }
}

type FieldKind = 'string' | 'list' | 'map';

/** The `[skill]` table of skill.toml (the reference's fields). */
const SKILL_TOML_FIELDS: Record<string, FieldKind> = {
  name: 'string',
  version: 'string',
  description: 'string',
  author: 'string',
  tools: 'list',
  providers: 'list',
  categories: 'list',
  keywords: 'list',
  hint: 'string',
  depends_on: 'list',
  suggests: 'list',
  license: 'string',
  compatibility: 'string',
  when_to_use: 'string',
  allowed_tools: 'string',
  extra_metadata: 'map',
  source_url: 'string',
  content_hash: 'string',
  pinned_sha: 'string',
};

/** Top-level tables of skill.toml besides `[skill]` (integrity data, informational). */
const SKILL_TOML_TABLES = new Set(['skill', 'ati']);

interface SkillToml {
  str(key: string): string | undefined;
  list(key: string): string[];
  map(key: string): Record<string, string>;
  has(key: string): boolean;
}

/**
 * Parses and type-checks skill.toml. Throws SkillLoadError (with line) on a
 * syntax error, a missing `[skill]` table or a wrong type; unknown keys are
 * reported through `warn` with a "did you mean" hint.
 */
export function parseSkillToml(text: string, file: string, warn: (message: string) => void): SkillToml {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new SkillLoadError(
      `skill.toml: TOML syntax error: ${msg}`,
      file,
      err instanceof TomlError ? err.line : undefined,
    );
  }
  for (const key of Object.keys(doc)) {
    if (!SKILL_TOML_TABLES.has(key))
      warn(`skill.toml: unknown top-level key "${key}" ignored${didYouMean(key, SKILL_TOML_TABLES)}`);
  }
  const table = doc['skill'];
  if (typeof table !== 'object' || table === null || Array.isArray(table) || table instanceof Date) {
    throw new SkillLoadError('skill.toml: missing [skill] table', file, 1);
  }
  const t = table as Record<string, unknown>;
  const fail = (key: string, want: string): never => {
    throw new SkillLoadError(`skill.toml: skill.${key} must be ${want}`, file, locateLine(text, `skill.${key}`));
  };
  for (const [key, value] of Object.entries(t)) {
    const kind = SKILL_TOML_FIELDS[key];
    if (!kind) {
      warn(`skill.toml: unknown key "skill.${key}" ignored${didYouMean(key, Object.keys(SKILL_TOML_FIELDS))}`);
      continue;
    }
    if (kind === 'string' && typeof value !== 'string') fail(key, 'a string');
    if (kind === 'list' && !(Array.isArray(value) && value.every((v) => typeof v === 'string')))
      fail(key, 'an array of strings');
    if (
      kind === 'map' &&
      !(
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === 'string')
      )
    ) {
      fail(key, 'a table of strings');
    }
  }
  return {
    str: (k) => t[k] as string | undefined,
    list: (k) => [...((t[k] as string[] | undefined) ?? [])],
    map: (k) => ({ ...((t[k] as Record<string, string> | undefined) ?? {}) }),
    has: (k) => k in t,
  };
}

/** Reads a file that must be a regular UTF-8 file of bounded size. */
async function readText(real: string, label: string, limit: number): Promise<string> {
  const st = await stat(real);
  if (!st.isFile()) throw new SkillLoadError(`${label} is not a regular file`, real);
  if (st.size > limit) throw new SkillLoadError(`${label} is ${st.size} bytes, above the ${limit}-byte limit`, real);
  const bytes = await readFile(real);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SkillLoadError(`${label} is not valid UTF-8`, real);
  }
}

async function locate(root: string, rel: string): Promise<string | undefined> {
  try {
    return await resolveInsideIfExists(root, rel);
  } catch (err) {
    if (err instanceof PathEscapeError)
      throw new SkillLoadError(`${rel} is a symlink that points outside the skill folder`, path.join(root, rel));
    throw new SkillLoadError(`${rel} cannot be read: ${(err as Error).message}`, path.join(root, rel));
  }
}

/** First line that is not empty and not a Markdown heading, trimmed. */
function inferDescription(body: string): string {
  for (const line of body.split(/\r?\n/)) {
    const t = line.trim();
    if (t !== '' && !t.startsWith('#')) return t;
  }
  return '';
}

/**
 * Loads the skill in folder `root` (a real path) named `dirName`. `warn`
 * receives non-fatal problems (ignored frontmatter, unknown keys).
 */
export async function loadSkill(
  root: string,
  dirName: string,
  warn: (message: string, file?: string) => void,
): Promise<Skill> {
  const mdPath = await locate(root, 'SKILL.md');
  const tomlPath = await locate(root, 'skill.toml');
  if (!mdPath && !tomlPath) throw new SkillLoadError('has neither SKILL.md nor skill.toml', root);

  let body = '';
  let fm: Frontmatter | undefined;
  if (mdPath) {
    const text = await readText(mdPath, 'SKILL.md', MAX_SKILL_MD_BYTES);
    const split = splitFrontmatter(text);
    body = split.body;
    if (split.yaml !== undefined) {
      try {
        fm = parseFrontmatter(split.yaml);
      } catch (err) {
        warn(`SKILL.md frontmatter ignored: ${(err as Error).message}`, mdPath);
      }
    }
  }

  const base = {
    content: body,
    root,
    dirName,
    extraMetadata: {} as Record<string, string>,
  };

  if (fm) {
    // (A) frontmatter; skill.toml only contributes bindings, and a broken one is ignored.
    let toml: SkillToml | undefined;
    if (tomlPath) {
      try {
        toml = parseSkillToml(await readText(tomlPath, 'skill.toml', MAX_SKILL_MD_BYTES), tomlPath, (m) =>
          warn(m, tomlPath),
        );
      } catch (err) {
        warn(`skill.toml ignored (bindings not applied): ${(err as Error).message}`, tomlPath);
      }
    }
    return {
      ...base,
      name: fm.name && fm.name.trim() !== '' ? fm.name : dirName,
      version: fm.version ?? DEFAULT_SKILL_VERSION,
      description: fm.description ?? '',
      author: fm.author ?? null,
      license: fm.license ?? null,
      compatibility: fm.compatibility ?? null,
      whenToUse: fm.whenToUse ?? null,
      allowedTools: fm.allowedTools ?? null,
      tools: toml?.list('tools') ?? [],
      providers: toml?.list('providers') ?? [],
      categories: toml?.list('categories') ?? [],
      keywords: toml?.list('keywords') ?? [],
      hint: toml?.str('hint') ?? null,
      dependsOn: toml?.list('depends_on') ?? [],
      suggests: toml?.list('suggests') ?? [],
      extraMetadata: fm.metadata,
      format: 'anthropic',
    };
  }

  if (tomlPath) {
    // (B) legacy skill.toml: its [skill] table is the metadata; `name` is required.
    const text = await readText(tomlPath, 'skill.toml', MAX_SKILL_MD_BYTES);
    const toml = parseSkillToml(text, tomlPath, (m) => warn(m, tomlPath));
    if (!toml.has('name'))
      throw new SkillLoadError('skill.toml: skill.name is required', tomlPath, locateLine(text, 'skill'));
    const name = toml.str('name')!;
    return {
      ...base,
      name: name.trim() === '' ? dirName : name,
      version: toml.str('version') ?? DEFAULT_SKILL_VERSION,
      description: toml.str('description') ?? '',
      author: toml.str('author') ?? null,
      license: toml.str('license') ?? null,
      compatibility: toml.str('compatibility') ?? null,
      whenToUse: toml.str('when_to_use') ?? null,
      allowedTools: toml.str('allowed_tools') ?? null,
      tools: toml.list('tools'),
      providers: toml.list('providers'),
      categories: toml.list('categories'),
      keywords: toml.list('keywords'),
      hint: toml.str('hint') ?? null,
      dependsOn: toml.list('depends_on'),
      suggests: toml.list('suggests'),
      extraMetadata: toml.map('extra_metadata'),
      format: 'legacy-toml',
    };
  }

  // (C) SKILL.md only.
  return {
    ...base,
    name: dirName,
    version: DEFAULT_SKILL_VERSION,
    description: inferDescription(body),
    author: null,
    license: null,
    compatibility: null,
    whenToUse: null,
    allowedTools: null,
    tools: [],
    providers: [],
    categories: [],
    keywords: [],
    hint: null,
    dependsOn: [],
    suggests: [],
    format: 'inferred',
  };
}
