/**
 * The `[provider]` fields of `handler = "cli"` (ref-01 §2.4), their defaults,
 * and the semantic checks the loader runs after the schema passed.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FieldsOf, PluginIssue, ProviderManifest } from '../../sdk/plugin.js';

/** Default child timeout, seconds (ref-01 §2.4). */
export const DEFAULT_TIMEOUT_SECS = 120;

export const cliProviderSchema = {
  cli_command: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Executable to run: a name looked up on PATH, or a path. No shell is involved.',
    }),
  ),
  cli_default_args: Type.Optional(
    Type.Array(Type.String(), {
      default: [],
      description: "Arguments placed before the caller's arguments. Never expanded.",
    }),
  ),
  cli_env: Type.Optional(
    Type.Record(Type.String(), Type.String(), {
      default: {},
      description:
        'Child environment. "@{key}" (whole value) = path of a 0600 file holding keyring entry key; "${key}" is replaced inline; anything else is literal.',
    }),
  ),
  cli_timeout_secs: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: DEFAULT_TIMEOUT_SECS,
      description: 'Child timeout in seconds; 0 disables it.',
    }),
  ),
  cli_output_args: Type.Optional(
    Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description:
        'Flags whose value is an output file the proxy captures (e.g. "--output"); case-insensitive, "--flag value" and "--flag=value".',
    }),
  ),
  cli_output_positional: Type.Optional(
    Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
      default: {},
      description:
        'Subcommand prefix (space-separated words) → 0-based index, after the prefix, of the positional argument that is an output path.',
    }),
  ),
} satisfies TProperties;

/** A manifest of `handler = "cli"`, its cli fields typed as the schema declares them. */
export type CliManifest = ProviderManifest<FieldsOf<typeof cliProviderSchema>>;

/** The cli fields of one manifest with defaults applied. */
export interface CliConfig {
  provider: string;
  command: string;
  defaultArgs: string[];
  env: Record<string, string>;
  /** Milliseconds; 0 = no timeout. */
  timeoutMs: number;
  timeoutSecs: number;
  outputArgs: string[];
  outputPositional: Array<{ prefix: string[]; index: number }>;
}

/** Reads the cli fields of a validated manifest. */
export function cliConfigFromManifest(m: CliManifest): CliConfig {
  const p = m.provider;
  const timeoutSecs = p.cli_timeout_secs ?? DEFAULT_TIMEOUT_SECS;
  const positional = p.cli_output_positional ?? {};
  return {
    provider: p.name,
    command: p.cli_command ?? '',
    defaultArgs: [...(p.cli_default_args ?? [])],
    env: { ...p.cli_env },
    timeoutSecs,
    timeoutMs: timeoutSecs * 1000,
    outputArgs: [...(p.cli_output_args ?? [])],
    outputPositional: Object.entries(positional).map(([prefix, index]) => ({
      prefix: prefix.split(/\s+/).filter(Boolean),
      index,
    })),
  };
}

/** `@{key}` as the entire value: the keyring entry is materialised as a file. */
export const CREDENTIAL_FILE_REF = /^@\{([^}]*)\}$/;

/** A POSIX environment variable name the child can actually receive. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `${name}` reference of a value (for validation and provision-time warnings). */
export function inlineRefs(value: string): string[] {
  const out: string[] = [];
  let i = value.indexOf('${');
  while (i !== -1) {
    const end = value.indexOf('}', i + 2);
    if (end === -1) break;
    out.push(value.slice(i + 2, end));
    i = value.indexOf('${', end + 1);
  }
  return out;
}

/** Keyring entries a cli provider reads at call time, with the `cli_env` variable that needs each. */
export function keyringRefs(cfg: CliConfig): Array<{ key: string; variable: string }> {
  const refs: Array<{ key: string; variable: string }> = [];
  for (const [variable, value] of Object.entries(cfg.env)) {
    const file = CREDENTIAL_FILE_REF.exec(value);
    if (file) refs.push({ key: file[1]!, variable });
    else for (const key of inlineRefs(value)) refs.push({ key, variable });
  }
  return refs;
}

/** Semantic checks: every problem is returned with its field path. */
export function validateCliManifest(m: CliManifest): PluginIssue[] {
  const issues: PluginIssue[] = [];
  const p = m.provider;
  if (p.cli_command === undefined || p.cli_command.trim() === '') {
    // The reference only notices at call time ("provider missing cli_command"); a provider that
    // can never run is a configuration error, so it is refused at load.
    issues.push({ field: 'provider.cli_command', message: 'required for handler "cli" (the executable to run)' });
  } else if (p.cli_command.includes('\0')) {
    issues.push({ field: 'provider.cli_command', message: 'must not contain a NUL byte' });
  }
  if (p.auth_generator !== undefined) {
    // Running the generator (ATI_AUTH_TOKEN + extra env) needs the shared generator runtime,
    // which this plugin does not have yet. Refusing is safer than running the CLI without auth.
    issues.push({
      field: 'provider.auth_generator',
      message:
        'auth_generator is not supported for handler "cli" in this build; use cli_env with ${key} or @{key} instead',
    });
  }
  for (const [name, value] of Object.entries(p.cli_env ?? {})) {
    const field = `provider.cli_env.${name}`;
    if (!ENV_NAME.test(name)) {
      issues.push({
        field,
        message: `"${name}" is not a valid environment variable name (letters, digits and _, not starting with a digit)`,
      });
    }
    if (value.includes('\0')) issues.push({ field, message: 'must not contain a NUL byte' });
    const file = CREDENTIAL_FILE_REF.exec(value);
    if (file) {
      if (file[1]!.trim() === '') issues.push({ field, message: '"@{}" names no keyring entry' });
      continue;
    }
    if (value.startsWith('@{') && !value.endsWith('}')) {
      issues.push({ field, message: '"@{key}" must be the whole value (it is replaced by a file path)' });
    }
    for (const key of inlineRefs(value)) {
      if (key.trim() === '') issues.push({ field, message: '"${}" names no keyring entry' });
    }
  }
  for (const prefix of Object.keys(p.cli_output_positional ?? {})) {
    if (prefix.trim() === '') {
      issues.push({ field: `provider.cli_output_positional`, message: 'a subcommand prefix must not be empty' });
    }
  }
  return issues;
}
