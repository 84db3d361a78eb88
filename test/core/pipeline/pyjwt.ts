/**
 * Mints tokens with PyJWT exactly as the reference's Python orchestrator SDK
 * (`ati.issue_token`) does: HS256, hex secret via
 * `bytes.fromhex`, payload order sub, aud, iat, exp, scope, iss?, jti, ati.
 * Needs Debian's python3-jwt (.ci/run installs it); the interpreter is the
 * first of `/usr/bin/python3`, `python3` that can `import jwt`.
 */
import { execFileSync } from 'node:child_process';

const SDK_ISSUE_TOKEN = `
import json, sys, time, uuid
import jwt

def issue_token(secret, sub, scope, ttl_seconds=3600, aud="ati-proxy", iss="ati-orchestrator", jti=None, rate=None):
    key = bytes.fromhex(secret)
    now = int(time.time())
    payload = {"sub": sub, "aud": aud, "iat": now, "exp": now + ttl_seconds, "scope": scope}
    if iss is not None:
        payload["iss"] = iss
    payload["jti"] = jti or str(uuid.uuid4())
    ati = {"v": 1}
    if rate:
        ati["rate"] = rate
    payload["ati"] = ati
    return jwt.encode(payload, key, algorithm="HS256")

args = json.loads(sys.argv[1])
print(issue_token(**args))
`;

let cached: string | null | undefined;

/** The interpreter with PyJWT, or undefined when none is installed. */
export function findPyJwtPython(): string | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      execFileSync(py, ['-c', 'import jwt'], { stdio: 'ignore' });
      cached = py;
      break;
    } catch {
      // try the next one
    }
  }
  return cached ?? undefined;
}

export interface PyIssueArgs {
  secret: string;
  sub: string;
  scope: string;
  ttl_seconds?: number;
  aud?: string;
  iss?: string | null;
  rate?: Record<string, string>;
}

/** Runs the SDK's issue_token under PyJWT. Throws when no interpreter has PyJWT. */
export function pyIssueToken(args: PyIssueArgs): string {
  const py = findPyJwtPython();
  if (!py) throw new Error('PyJWT is not installed: apt-get install -y python3-jwt (see .ci/run)');
  return execFileSync(py, ['-c', SDK_ISSUE_TOKEN, JSON.stringify(args)], { encoding: 'utf8' }).trim();
}
