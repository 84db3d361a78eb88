/**
 * `ati token keygen|issue|inspect|validate` (docs/auth.md#6-ati-token): key generation,
 * minting, decoding and validating session tokens. The logic is in
 * core/pipeline/jwt-tokens.ts; this file maps flags and prints.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_JWT_AUDIENCE } from '../../config/jwt-config.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

/** The token logic (jose, the JWT pipeline) and the logger load when a subcommand runs, not for `ati --help`. */
const tokens = () => import('../../core/pipeline/jwt-tokens.js');

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v.trim()) || Number(v) <= 0 || !Number.isSafeInteger(Number(v)))
      throw new InvalidArgumentError(`${name} must be a positive integer`);
    return Number(v);
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Runs a command body; maps a thrown error to the standard fatal output and exit code. */
async function run(globals: () => GlobalOptions, body: () => Promise<number | void>): Promise<void> {
  try {
    const code = await body();
    if (code) process.exitCode = code;
  } catch (err) {
    process.exitCode = reportFatal(err, globals().output);
  }
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const token = program.command('token').description('Manage JWT session tokens (keygen, issue, inspect, validate)');

  token
    .command('keygen')
    .description('Generate an ES256 key pair or an HS256 secret')
    .addOption(new Option('--algorithm <alg>', 'ES256 or HS256 (case-insensitive)').default('ES256'))
    .action((flags: { algorithm: string }) =>
      run(globals, async () => {
        const { generateKeys, parseAlgorithm } = await tokens();
        const keys = generateKeys(parseAlgorithm(flags.algorithm));
        if (keys.algorithm === 'HS256') {
          process.stderr.write('Generated HS256 shared secret\n');
          process.stdout.write(`${keys.secretHex}\n`);
          process.stderr.write(
            'Set ATI_JWT_SECRET=<the hex above> on the proxy and pass it to `ati token issue --secret`.\n',
          );
          return;
        }
        process.stderr.write('Generated ES256 key pair\n');
        process.stderr.write('=== Private Key (PKCS#8; keep secret, e.g. jwt-private.pem) ===\n');
        process.stdout.write(`${keys.privatePem}\n`);
        process.stderr.write('=== Public Key (SPKI; distribute for validation, e.g. jwt-public.pem) ===\n');
        process.stdout.write(`${keys.publicPem}\n`);
        process.stderr.write(`kid (RFC 7638 thumbprint): ${keys.kid}\n`);
        process.stderr.write(
          'Set ATI_JWT_PRIVATE_KEY=<path of the private key> (issuance) and ATI_JWT_PUBLIC_KEY=<path of the public key> (validation).\n',
        );
      }),
    );

  token
    .command('issue')
    .description('Issue a signed session token')
    .requiredOption('--sub <sub>', 'subject (agent identity)')
    .requiredOption('--scope <scopes>', 'space-separated scopes, e.g. "tool:github:* help"')
    .addOption(new Option('--ttl <seconds>', 'lifetime in seconds').default(1800).argParser(positiveInt('--ttl')))
    .option('--aud <aud>', `audience (default: $ATI_JWT_AUDIENCE, else ${DEFAULT_JWT_AUDIENCE})`)
    .option('--iss <iss>', 'issuer (default: $ATI_JWT_ISSUER, else none)')
    .option('--key <path>', 'ES256 private key PEM (PKCS#8)')
    .option('--secret <hex>', 'HS256 secret as hex')
    .option(
      '--rate <pattern=count/unit>',
      'rate limit, repeatable (e.g. tool:github:*=10/hour)',
      collect,
      [] as string[],
    )
    .action(
      (flags: {
        sub: string;
        scope: string;
        ttl: number;
        aud?: string;
        iss?: string;
        key?: string;
        secret?: string;
        rate: string[];
      }) =>
        run(globals, async () => {
          const { issueToken, parseRateArg, resolveSigningKey } = await tokens();
          const env = process.env;
          const rate = Object.fromEntries(flags.rate.map(parseRateArg));
          const key = resolveSigningKey({
            env,
            ...(flags.key ? { keyFile: flags.key } : {}),
            ...(flags.secret !== undefined ? { secretHex: flags.secret } : {}),
          });
          const iss = flags.iss ?? (env['ATI_JWT_ISSUER']?.trim() || undefined);
          const aud = flags.aud ?? (env['ATI_JWT_AUDIENCE']?.trim() || DEFAULT_JWT_AUDIENCE);
          const jwt = await issueToken(key, {
            sub: flags.sub,
            scope: flags.scope,
            ttlSeconds: flags.ttl,
            aud,
            ...(iss ? { iss } : {}),
            rate,
          });
          process.stdout.write(`${jwt}\n`);
          if (process.stderr.isTTY) {
            process.stderr.write(`Token issued (sub=${flags.sub}, scope=${flags.scope}, ttl=${flags.ttl}s)\n`);
            process.stderr.write('Set: export ATI_SESSION_TOKEN=<token above>\n');
          }
        }),
    );

  token
    .command('inspect')
    .description('Decode a token without verifying it')
    .argument('<token>', 'the JWT')
    .action((jwt: string) =>
      run(globals, async () => {
        const { inspectToken } = await tokens();
        process.stdout.write(`${JSON.stringify(inspectToken(jwt), null, 2)}\n`);
      }),
    );

  token
    .command('validate')
    .description('Verify a token (signature, expiry, audience, issuer); exit 0 when valid, 1 when not')
    .argument('<token>', 'the JWT')
    .option('--key <path>', 'ES256 public key PEM')
    .option('--secret <hex>', 'HS256 secret as hex')
    .action((jwt: string, flags: { key?: string; secret?: string }) =>
      run(globals, async () => {
        const [{ validateToken, validationVerifier }, { createLogger }] = await Promise.all([
          tokens(),
          import('../../kernel/logger.js'),
        ]);
        const logger = createLogger({ level: globals().verbose ? 'debug' : 'info' });
        const verifier = validationVerifier({
          env: process.env,
          ...(flags.key ? { keyFile: flags.key } : {}),
          ...(flags.secret !== undefined ? { secretHex: flags.secret } : {}),
        });
        const r = await validateToken(verifier, jwt);
        if (r.ok) {
          const claims = r.caller.claims ?? {};
          logger.info({ sub: r.caller.sub, scope: claims['scope'], exp: claims['exp'] }, 'VALID');
          return 0;
        }
        logger.error({ reason: r.kind }, `INVALID — ${r.message}`);
        return 1;
      }),
    );
}
