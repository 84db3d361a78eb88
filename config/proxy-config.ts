/**
 * Typed process configuration for `ati proxy`: command-line flags plus the
 * environment, resolved once at startup. Flags and defaults match the reference
 * (README.md lists them).
 */
import os from 'node:os';
import path from 'node:path';

export type SigVerifyMode = 'log' | 'warn' | 'enforce';
export type OutputFormat = 'json' | 'text';

export interface ProxyConfig {
  port: number;
  bind: string;
  atiDir: string;
  envKeys: boolean;
  migrate: boolean;
  enablePassthrough: boolean;
  sigVerifyMode: SigVerifyMode;
  sigDriftSeconds: number;
  /** `null` = the default exempt list. */
  sigExemptPaths: string[] | null;
  verbose: boolean;
  output: OutputFormat;
  /** `--check`: validate and provision, print a summary, exit. */
  check: boolean;
  /** Seconds a retired generation (and a shutdown) waits for in-flight requests. */
  drainSeconds: number;
  /** Watch `<ati_dir>` for changes (`--no-watch` turns it off). */
  watch: boolean;
  /** Allow a non-loopback bind with no authentication configured. */
  insecureNoAuth: boolean;
  /** `host:port` of an extra listener serving only `GET /metrics` to anyone; null = none. */
  metricsBind: string | null;
  /** The environment the proxy was started with (JWT, DB, admin token, …). */
  env: NodeJS.ProcessEnv;
}

/** `--ati-dir` → `ATI_DIR` → `$HOME/.ati` → `.ati` (the reference's order). */
export function resolveAtiDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const raw =
    flag || env['ATI_DIR'] || (env['HOME'] || os.homedir() ? path.join(env['HOME'] || os.homedir(), '.ati') : '.ati');
  return path.resolve(raw);
}

export const atiPaths = (atiDir: string) => ({
  manifests: path.join(atiDir, 'manifests'),
  specs: path.join(atiDir, 'specs'),
  skills: path.join(atiDir, 'skills'),
  keyringEnc: path.join(atiDir, 'keyring.enc'),
  keyringKey: path.join(atiDir, '.keyring-key'),
  credentials: path.join(atiDir, 'credentials'),
  config: path.join(atiDir, 'config.toml'),
});

/** A config with every default, for tests and embedding. */
export function defaultProxyConfig(overrides: Partial<ProxyConfig> = {}): ProxyConfig {
  return {
    port: 8090,
    bind: '127.0.0.1',
    atiDir: resolveAtiDir(undefined, process.env),
    envKeys: false,
    migrate: false,
    enablePassthrough: false,
    sigVerifyMode: 'log',
    sigDriftSeconds: 60,
    sigExemptPaths: null,
    verbose: false,
    output: 'json',
    check: false,
    drainSeconds: 30,
    watch: true,
    insecureNoAuth: false,
    metricsBind: null,
    env: process.env,
    ...overrides,
  };
}
