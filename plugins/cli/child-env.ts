/**
 * The environment of a CLI child (ref-01 §5.4, ref-03 §2.8): nothing of the
 * proxy's own environment except `PATH`, `HOME`, `TMPDIR`, `LANG`, `USER` and
 * `TERM`, then the resolved `cli_env` on top:
 *
 * - `@{key}` (the whole value): the keyring entry is written to a 0600 file in
 *   the call's private directory and the variable holds that file's path;
 * - `${key}` anywhere in a value: replaced by the keyring entry, in one pass
 *   (a secret that itself contains `${…}` is not expanded again, unlike the
 *   reference, which could loop forever); an unterminated `${` is literal;
 * - anything else: literal.
 *
 * A missing entry fails the call with ATI_ERR_MISSING_CREDENTIAL (500) naming
 * the entry and the variable, never a value.
 */
import { compileTemplate, expandTemplate, LENIENT_TEMPLATE, type KeyringAccessor } from '../../sdk/plugin.js';
import { CREDENTIAL_FILE_REF, type CliConfig } from './schema.js';
import type { CallWorkspace } from './credential-files.js';

/** Variables copied from the proxy's environment when set. */
export const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'USER', 'TERM'] as const;

export interface ChildEnv {
  env: Record<string, string>;
  /** Keyring values this call injected, for redaction of stdout, stderr and logs. */
  secrets: string[];
}

function usedBy(cfg: CliConfig, variable: string): string {
  return `cli_env.${variable} of provider "${cfg.provider}"`;
}

export async function buildChildEnv(
  cfg: CliConfig,
  keyring: KeyringAccessor,
  workspace: CallWorkspace,
  parentEnv: NodeJS.ProcessEnv = process.env,
): Promise<ChildEnv> {
  const env: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const v = parentEnv[name];
    if (v !== undefined) env[name] = v;
  }
  const secrets: string[] = [];
  for (const [variable, value] of Object.entries(cfg.env)) {
    const file = CREDENTIAL_FILE_REF.exec(value);
    if (file) {
      const key = file[1]!;
      const secret = keyring.require(key, usedBy(cfg, variable));
      secrets.push(secret);
      env[variable] = await workspace.writeSecretFile(key, secret);
    } else if (value.includes('${')) {
      env[variable] = expandTemplate(compileTemplate(value, LENIENT_TEMPLATE), (key) => {
        const secret = keyring.require(key, usedBy(cfg, variable));
        secrets.push(secret);
        return secret;
      });
    } else {
      env[variable] = value;
    }
  }
  return { env, secrets };
}
