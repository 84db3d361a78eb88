/**
 * Composes the request pipeline of `ati proxy` from its configuration:
 * sig-verify then auth (the reference's order, ref-02 §4.1), the generation
 * extensions they need (JWT key files, signing-secret report), and the auth
 * mode `/health` reports. Fails fast with ATI_ERR_AUTH_CONFIG /
 * ATI_ERR_SIG_CONFIG on unusable settings, before anything binds.
 */
import type { GenerationExtension } from '../generation/extension.js';
import type { Generation } from '../generation/generation.js';
import type { Logger } from '../../kernel/logger.js';
import { createAuthStage } from './auth.js';
import { jwtExtension, RemoteJwks } from './jwt.js';
import type { KeyStore } from './key-store.js';
import { checkSigVerifyStartup, createSigVerifyStage, signingSecretReporter, type SigVerdict } from './sig-verify.js';
import type { PipelineStage } from './types.js';
import { assertBindAllowed } from '../../config/bind-policy.js';
import { loadJwtKeys, readJwtSettings, type JwtSettings } from '../../config/jwt-config.js';
import type { ProxyConfig } from '../../config/proxy-config.js';

export interface RequestPipeline {
  stages: PipelineStage[];
  extensions: GenerationExtension[];
  authMode(): 'jwt' | 'disabled';
  jwt: JwtSettings | undefined;
}

export interface RequestPipelineDeps {
  logger: Logger;
  keyStore?: KeyStore;
  /** Metrics hook for sig-verify outcomes. */
  onSigVerdict?: (v: SigVerdict) => void;
}

export function buildRequestPipeline(config: ProxyConfig, deps: RequestPipelineDeps): RequestPipeline {
  const { logger } = deps;
  const jwt = readJwtSettings(config.env);
  if (jwt) {
    loadJwtKeys(jwt); // fail fast: unreadable or wrong key files stop startup here
    for (const name of jwt.ignored)
      logger.warn(
        { variable: name },
        `${name} is ignored: an ES256 key (ATI_JWT_PUBLIC_KEY / ATI_JWT_PRIVATE_KEY) takes precedence`,
      );
  }
  assertBindAllowed(config.bind, jwt !== undefined, config.insecureNoAuth, logger);
  const remote = jwt?.jwksUrl ? new RemoteJwks(jwt.jwksUrl, { logger }) : undefined;
  const sigVerify = createSigVerifyStage({
    mode: config.sigVerifyMode,
    driftSeconds: config.sigDriftSeconds,
    exemptPaths: config.sigExemptPaths,
    logger,
    ...(deps.onSigVerdict ? { onVerdict: deps.onSigVerdict } : {}),
  });
  const auth = createAuthStage({
    jwtConfigured: jwt !== undefined,
    enablePassthrough: config.enablePassthrough,
    logger,
    ...(deps.keyStore ? { keyStore: deps.keyStore } : {}),
  });
  const extensions: GenerationExtension[] = [signingSecretReporter(config.sigVerifyMode)];
  if (jwt) extensions.push(jwtExtension(jwt, remote));
  return {
    stages: [sigVerify, auth],
    extensions,
    authMode: () => (jwt ? 'jwt' : 'disabled'),
    jwt,
  };
}

/** Checks that need the first generation (enforce mode without a signing secret refuses to start). */
export function checkPipelineStartup(config: ProxyConfig, gen: Generation, logger: Logger): void {
  checkSigVerifyStartup(config.sigVerifyMode, config.enablePassthrough, gen, logger);
}
