/**
 * Output capture (the reference's): arguments that name an output file are swapped
 * for paths in the call's private directory before the child starts; after a
 * successful exit each file is read back and returned base64-encoded under the
 * path the caller asked for, so an agent in a sandbox gets the file it wanted.
 *
 * Which arguments are output paths:
 * 1. `cli_output_args` flags (case-insensitive), in `--flag value` and
 *    `--flag=value` form;
 * 2. `cli_output_positional`: among the caller's positional arguments (those not
 *    starting with `-`; `cli_default_args` are not part of it), the longest
 *    configured subcommand prefix that matches the first positionals wins, and
 *    the positional `index` places after the prefix is the output path. A slot
 *    already rewritten by rule 1 is never rewritten again.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { AtiError } from '../../sdk/plugin.js';
import type { CallWorkspace } from './credential-files.js';
import type { CliConfig } from './schema.js';

/** Default cap of one captured file and of stdout: 500 MiB (the reference's). */
export const DEFAULT_MAX_OUTPUT_BYTES = 500 * 1024 * 1024;

/** Parses `ATI_CLI_MAX_OUTPUT_BYTES`; returns undefined when it is set but not a positive integer. */
export function parseMaxOutputBytes(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_OUTPUT_BYTES;
  const t = raw.trim();
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface Capture {
  /** The path the caller passed. */
  original: string;
  /** Where the child actually writes. */
  temp: string;
}

export interface CapturePlan {
  argv: string[];
  captures: Capture[];
}

/** Rewrites the caller's argv according to the provider's capture rules. */
export async function planCaptures(
  cfg: CliConfig,
  callerArgv: readonly string[],
  workspace: CallWorkspace,
): Promise<CapturePlan> {
  const argv = [...callerArgv];
  const captures: Capture[] = [];
  const rewritten = new Set<number>();
  if (cfg.outputArgs.length === 0 && cfg.outputPositional.length === 0) return { argv, captures };

  const flags = new Set(cfg.outputArgs.map((f) => f.toLowerCase()));
  const capture = async (original: string): Promise<string> => {
    const temp = await workspace.outputPath(original);
    captures.push({ original, temp });
    return temp;
  };

  if (flags.size > 0) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      const eq = arg.indexOf('=');
      if (eq > 0 && flags.has(arg.slice(0, eq).toLowerCase())) {
        argv[i] = `${arg.slice(0, eq)}=${await capture(arg.slice(eq + 1))}`;
        rewritten.add(i);
        continue;
      }
      if (flags.has(arg.toLowerCase()) && i + 1 < argv.length) {
        argv[i + 1] = await capture(argv[i + 1]!);
        rewritten.add(i + 1);
        i++;
      }
    }
  }

  if (cfg.outputPositional.length > 0) {
    const positionals: number[] = [];
    argv.forEach((a, i) => {
      if (!a.startsWith('-')) positionals.push(i);
    });
    let best: { length: number; index: number } | undefined;
    for (const rule of cfg.outputPositional) {
      if (rule.prefix.length === 0 || positionals.length < rule.prefix.length + rule.index + 1) continue;
      if (!rule.prefix.every((word, k) => argv[positionals[k]!] === word)) continue;
      if (!best || rule.prefix.length > best.length) best = { length: rule.prefix.length, index: rule.index };
    }
    if (best) {
      const slot = positionals[best.length + best.index]!;
      if (!rewritten.has(slot)) argv[slot] = await capture(argv[slot]!);
    }
  }
  return { argv, captures };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  ogg: 'audio/ogg',
  oga: 'audio/ogg',
  flac: 'audio/flac',
  m4a: 'audio/mp4',
  csv: 'text/csv',
  json: 'application/json',
  xml: 'application/xml',
  zip: 'application/zip',
  html: 'text/html',
  htm: 'text/html',
  md: 'text/markdown',
  txt: 'text/plain',
  log: 'text/plain',
};

/** Content type from the caller's path's extension (the reference's table); unknown → octet-stream. */
export function contentTypeFor(file: string): string {
  const ext = path.extname(file).slice(1).toLowerCase();
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

export interface CapturedFile {
  content_base64: string;
  size_bytes: number;
  content_type: string;
}

/** Reads every capture back; a missing or oversized file fails the call (502). */
export async function collectCaptures(
  captures: readonly Capture[],
  maxBytes: number,
): Promise<Record<string, CapturedFile>> {
  const out: Record<string, CapturedFile> = {};
  for (const c of captures) {
    let size: number;
    try {
      const st = await stat(c.temp);
      if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOENT' });
      size = st.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AtiError('ATI_ERR_UPSTREAM', `Captured output '${c.original}' was not produced by the CLI`);
      }
      throw new AtiError(
        'ATI_ERR_UPSTREAM',
        `Captured output '${c.original}' could not be read: ${(err as Error).message}`,
      );
    }
    // Checked before reading, so an oversized file never lands in memory.
    if (size > maxBytes) {
      throw new AtiError(
        'ATI_ERR_UPSTREAM',
        `Captured output '${c.original}' exceeds ATI_CLI_MAX_OUTPUT_BYTES (${maxBytes} bytes; the file has ${size})`,
      );
    }
    const bytes = await readFile(c.temp);
    if (bytes.length > maxBytes) {
      throw new AtiError(
        'ATI_ERR_UPSTREAM',
        `Captured output '${c.original}' exceeds ATI_CLI_MAX_OUTPUT_BYTES (${maxBytes} bytes)`,
      );
    }
    out[c.original] = {
      content_base64: bytes.toString('base64'),
      size_bytes: bytes.length,
      content_type: contentTypeFor(c.original),
    };
  }
  return out;
}
