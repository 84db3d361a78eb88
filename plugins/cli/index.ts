/**
 * The `cli` handler plugin (ref-01 §2.4, §5.4, §9; ref-03 §2.8): a local
 * command-line program exposed as a tool. Each call runs `cli_command` +
 * `cli_default_args` + the caller's arguments without a shell, in a clean
 * environment holding only the credentials the manifest names, and returns the
 * program's stdout (parsed as JSON when it is JSON) and any captured output
 * files.
 *
 * Written only against the public plugin API (sdk/plugin.ts, the package
 * export `ati-proxy/plugin`), as proof that a real handler needs nothing
 * private (test/sdk/public-imports.test.ts keeps it that way).
 * See README.md beside this file for the fields and the security model.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import {
  AtiError,
  definePlugin,
  injectedSecretMatcher,
  PLUGIN_API_VERSION,
  type CallContext,
  type ProviderManifest,
  type Provisioned,
  type ToolDefinition,
  type ToolManifest,
  type ToolResult,
  toolFromManifest,
} from '../../sdk/plugin.js';
import { argsToArgv } from './args.js';
import { buildChildEnv } from './child-env.js';
import { CallWorkspace, sweepStaleWorkspaces } from './credential-files.js';
import { collectCaptures, DEFAULT_MAX_OUTPUT_BYTES, parseMaxOutputBytes, planCaptures } from './output-capture.js';
import {
  cliConfigFromManifest,
  cliProviderSchema,
  keyringRefs,
  validateCliManifest,
  type CliConfig,
} from './schema.js';
import { runProcess, type RunOutcome } from './spawn.js';

export const CLI_PLUGIN_VERSION = '1.0.0';

/** Bytes of stderr kept in memory while the child runs. */
const STDERR_KEEP_BYTES = 16 * 1024;
/** Bytes of (redacted) stderr put into an error message. */
export const STDERR_TAIL_BYTES = 2 * 1024;

/**
 * The tools of a cli manifest: its `[[tools]]`, or one implicit tool named after
 * the provider (ref-01 §1.2 step 6) with scope `tool:<provider>`. Every tool runs
 * the same command (the tool name is not passed, as in the reference).
 */
export function cliTools(m: ProviderManifest): ToolDefinition[] {
  if (m.tools.length > 0) return m.tools.map((t) => toolFromManifest(m, t));
  const implicit: ToolManifest = {
    name: m.provider.name,
    description: m.provider.description,
    endpoint: '',
    method: 'GET',
    tags: [],
    examples: [],
  };
  return [toolFromManifest(m, implicit)];
}

/** Whether `command` would be found by execve with this PATH (a name without `/` is looked up). */
async function resolvable(command: string, pathVar: string | undefined): Promise<boolean> {
  const candidates = command.includes('/')
    ? [command]
    : (pathVar ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => path.join(dir, command));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return true;
    } catch {
      // try the next one
    }
  }
  return false;
}

/** Last `STDERR_TAIL_BYTES` of the redacted stderr, on whole lines where possible. */
function stderrTail(text: string, redact: (text: string) => string): string {
  // Redact the whole kept buffer first, then cut: a cut cannot split a secret into an unredacted piece.
  const clean = redact(text).trim();
  if (Buffer.byteLength(clean) <= STDERR_TAIL_BYTES) return clean;
  let tail = Buffer.from(clean).subarray(-STDERR_TAIL_BYTES).toString('utf8');
  const nl = tail.indexOf('\n');
  if (nl !== -1 && nl < tail.length - 1) tail = tail.slice(nl + 1);
  return `…${tail}`;
}

/**
 * The error of a call stopped by its signal: the signal's reason when it is an
 * AtiError (deadline, shutdown), 504 for a timeout, else a client that went away.
 */
function abortedError(reason: unknown): AtiError {
  if (reason instanceof AtiError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new AtiError(
      'ATI_ERR_UPSTREAM_TIMEOUT',
      'the call deadline passed before the CLI finished; its process group was killed',
    );
  }
  return new AtiError(
    'ATI_ERR_UPSTREAM',
    'the call was aborted (client went away) before the CLI finished; its process group was killed',
  );
}

/** Turns a run that did not end in exit code 0 into the error the caller sees. */
function outcomeError(
  cfg: CliConfig,
  outcome: RunOutcome,
  redact: (text: string) => string,
  maxStdout: number,
): AtiError {
  switch (outcome.kind) {
    case 'spawn-failed': {
      const code = outcome.error.code;
      if (code === 'ENOENT') {
        return new AtiError(
          'ATI_ERR_UPSTREAM',
          `CLI command not found: '${cfg.command}' (cli_command of provider "${cfg.provider}"); install it or put it on the proxy's PATH`,
          { details: { command: cfg.command } },
        );
      }
      if (code === 'EACCES') {
        return new AtiError('ATI_ERR_UPSTREAM', `CLI command '${cfg.command}' is not executable (permission denied)`, {
          details: { command: cfg.command },
        });
      }
      return new AtiError(
        'ATI_ERR_UPSTREAM',
        `Failed to spawn CLI process '${cfg.command}': ${code ?? outcome.error.message}`,
        {
          details: { command: cfg.command },
        },
      );
    }
    case 'timeout':
      return new AtiError(
        'ATI_ERR_UPSTREAM_TIMEOUT',
        `CLI timed out after ${cfg.timeoutSecs}s (cli_timeout_secs of provider "${cfg.provider}"); its process group was killed`,
      );
    case 'aborted':
      return abortedError(outcome.reason);
    case 'stdout-overflow':
      return new AtiError(
        'ATI_ERR_UPSTREAM',
        `CLI stdout exceeded ATI_CLI_MAX_OUTPUT_BYTES (${maxStdout} bytes); its process group was killed`,
      );
    case 'exited': {
      // Only called for a non-zero exit or a death by signal.
      const tail = stderrTail(outcome.stderr.text, redact);
      const exitCode = outcome.code ?? -1;
      const how = outcome.signal ? `CLI was killed by signal ${outcome.signal}` : `CLI exited with code ${exitCode}`;
      const details: Record<string, unknown> = { exit_code: exitCode };
      if (outcome.signal) details['signal'] = outcome.signal;
      return new AtiError('ATI_ERR_UPSTREAM', tail ? `${how}: ${tail}` : how, { details });
    }
  }
}

/** A successful stdout as the tool result: trimmed, JSON when it parses, else the text. */
function stdoutValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return trimmed;
  }
}

export const cliPlugin = definePlugin({
  apiVersion: PLUGIN_API_VERSION,
  name: 'cli',
  version: CLI_PLUGIN_VERSION,
  providerSchema: cliProviderSchema,
  ignoredCommonFields: [
    'base_url',
    'extra_headers',
    'auth_key_name',
    'auth_header_name',
    'auth_query_name',
    'auth_value_prefix',
    'auth_secret_name',
    'oauth2_token_url',
    'oauth2_basic_auth',
  ],
  requiresTools: false,
  validate: validateCliManifest,

  async provision(manifest, ctx): Promise<Provisioned> {
    const cfg = cliConfigFromManifest(manifest);
    const tools = cliTools(manifest);
    const log = ctx.logger;

    let maxOutputBytes = parseMaxOutputBytes(process.env['ATI_CLI_MAX_OUTPUT_BYTES']);
    if (maxOutputBytes === undefined) {
      log.warn(
        { variable: 'ATI_CLI_MAX_OUTPUT_BYTES', default_bytes: DEFAULT_MAX_OUTPUT_BYTES },
        'ATI_CLI_MAX_OUTPUT_BYTES is not a positive integer; using the default',
      );
      maxOutputBytes = DEFAULT_MAX_OUTPUT_BYTES;
    }
    const maxBytes = maxOutputBytes;

    // Early, non-fatal diagnostics: the provider loads either way (the executable may be
    // installed, or the keyring entry added, later), but the operator hears about it now.
    for (const ref of keyringRefs(cfg)) {
      if (!ctx.keyring.has(ref.key)) {
        log.warn(
          { keyring_entry: ref.key, variable: ref.variable },
          `keyring entry '${ref.key}' (cli_env.${ref.variable}) is missing; calls will fail until it is added`,
        );
      }
    }
    const pathVar = childPathVar(cfg) ?? process.env['PATH'];
    if (!(await resolvable(cfg.command, pathVar))) {
      log.warn(
        { command: cfg.command },
        `cli_command '${cfg.command}' is not found or not executable on PATH; calls will fail until it is installed`,
      );
    }
    // --check spawns nothing and touches no files.
    if (!ctx.options.checkOnly) await sweepStaleWorkspaces();

    const running = new Set<AbortController>();
    let closed = false;

    async function call(tool: ToolDefinition, args: unknown, cctx: CallContext): Promise<ToolResult> {
      if (closed) throw new AtiError('ATI_ERR_UNAVAILABLE', `provider "${cfg.provider}" is shutting down`);
      const argv = argsToArgv(args);
      if (cctx.signal.aborted) throw abortedError(cctx.signal.reason);

      // One controller per call: aborted by the client's signal or by close().
      const controller = new AbortController();
      const onClientAbort = () => controller.abort(cctx.signal.reason);
      cctx.signal.addEventListener('abort', onClientAbort, { once: true });
      running.add(controller);
      const workspace = new CallWorkspace();
      try {
        const { env, secrets } = await buildChildEnv(cfg, cctx.keyring, workspace);
        const redactor = injectedSecretMatcher(secrets);
        const redact = (text: string) => redactor.redact(text);
        const plan = await planCaptures(cfg, argv, workspace);
        const outcome = await runProcess({
          command: cfg.command,
          args: [...cfg.defaultArgs, ...plan.argv],
          env,
          timeoutMs: cfg.timeoutMs,
          signal: controller.signal,
          maxStdoutBytes: maxBytes,
          stderrKeepBytes: STDERR_KEEP_BYTES,
        });
        const fields = {
          tool: tool.name,
          command: cfg.command,
          argc: plan.argv.length,
          outcome: outcome.kind,
          ...(outcome.kind === 'spawn-failed' ? {} : { duration_ms: outcome.durationMs }),
          ...(outcome.kind === 'exited' ? { exit_code: outcome.code, signal: outcome.signal } : {}),
        };
        if (outcome.kind !== 'exited' || outcome.code !== 0) {
          const err = outcomeError(cfg, outcome, redact, maxBytes);
          // The message is already redacted; it is what the caller sees, so it is safe to log.
          cctx.logger.warn({ ...fields, error: err.message }, 'cli call failed');
          throw err;
        }
        cctx.logger.debug(fields, 'cli call finished');
        const stdout = redact(outcome.stdout.toString('utf8'));
        if (plan.captures.length === 0) return { value: stdoutValue(stdout) };
        const outputs = await collectCaptures(plan.captures, maxBytes);
        return { value: { stdout: stdout.trim(), outputs } };
      } finally {
        cctx.signal.removeEventListener('abort', onClientAbort);
        running.delete(controller);
        await workspace.dispose();
      }
    }

    return {
      tools,
      call,
      async close() {
        // Calls still running when the last generation using this provider retires
        // (drain deadline passed) are stopped; their `finally` removes their files.
        closed = true;
        for (const c of running) c.abort(new AtiError('ATI_ERR_SHUTTING_DOWN', 'the proxy is retiring this provider'));
      },
    };
  },
});

/** The child's PATH: the manifest's `cli_env.PATH` when it sets a literal one, else the proxy's. */
function childPathVar(cfg: CliConfig): string | undefined {
  const p = cfg.env['PATH'];
  return p !== undefined && !p.includes('${') && !p.startsWith('@{') ? p : undefined;
}

export default cliPlugin;
