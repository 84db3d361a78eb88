/**
 * The sandbox request signature (ref-02 §3): header
 * `X-Sandbox-Signature: t=<unix seconds>,s=<hex HMAC-SHA256>` over the message
 * `<t>.<METHOD>.<path>` (path without the query), and the format of the shared
 * secret in the keyring. One module for both sides: the proxy verifies
 * (core/pipeline/sig-verify.ts), the client signs (`ati run`, `ati tool`).
 * Pure functions: parsing, verification with the reference's reason strings in
 * the reference's order, signing, secret decoding.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AtiError } from './errors.js';

export const SIGNATURE_HEADER = 'x-sandbox-signature';
export const JOB_ID_HEADER = 'x-sandbox-job-id';
export const SIGNATURE_STATUS_HEADER = 'X-Signature-Status';

/** Reason strings, exact (downstream log scrapers parse them). */
export type SignatureReason =
  | 'valid'
  | 'missing_signature'
  | 'malformed_signature'
  | 'invalid_timestamp'
  | `expired_timestamp_drift=${string}s`
  | 'no_signing_secret_configured'
  | 'hmac_mismatch';

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
/** Visible ASCII plus space and tab: what the reference's `HeaderValue::to_str` accepts. */
const VISIBLE_ASCII = /^[\x20-\x7e\t]*$/;
const HEX = /^[0-9a-fA-F]*$/;

/** `t` and `s` of a header value (ref-02 §3.2), or undefined when malformed. */
export function parseSignatureHeader(value: string): { t: string; s: string } | undefined {
  let t: string | undefined;
  let s: string | undefined;
  for (const raw of value.split(',')) {
    const seg = raw.trim();
    const eq = seg.indexOf('=');
    // A segment without `=` (also the empty one a trailing comma leaves) makes the whole header malformed.
    if (eq < 0) return undefined;
    const key = seg.slice(0, eq).trim();
    const val = seg.slice(eq + 1).trim();
    if (key === 't') t = val;
    else if (key === 's') s = val;
  }
  if (!t || !s) return undefined;
  return { t, s };
}

export interface VerifyInput {
  /** The header value, or undefined when absent (several values: the first). */
  header: string | undefined;
  method: string;
  /** Canonical path, no query. */
  path: string;
  /** Accepted secrets (current, then previous); empty = none configured. */
  secrets: readonly Buffer[];
  /** Wall clock, whole seconds. */
  nowSeconds: number;
  maxDriftSeconds: number;
}

/** Verifies a request signature; returns the reason (`valid` when accepted). Steps in ref-02 §3.3 order. */
export function verifySignature(input: VerifyInput): SignatureReason {
  const header = input.header;
  if (header === undefined || header === '' || !VISIBLE_ASCII.test(header)) return 'missing_signature';
  const parsed = parseSignatureHeader(header);
  if (!parsed) return 'malformed_signature';
  if (!/^[+-]?\d+$/.test(parsed.t)) return 'invalid_timestamp';
  const t = BigInt(parsed.t);
  if (t < I64_MIN || t > I64_MAX) return 'invalid_timestamp';
  // BigInt: no overflow whatever `t` is (ref-02 §8.30). A drift that does not
  // even fit in a signed 64-bit integer is absurd: reported as invalid_timestamp.
  const diff = BigInt(Math.floor(input.nowSeconds)) - t;
  const drift = diff < 0n ? -diff : diff;
  if (drift > I64_MAX) return 'invalid_timestamp';
  if (drift > BigInt(input.maxDriftSeconds)) return `expired_timestamp_drift=${drift}s`;
  if (input.secrets.length === 0) return 'no_signing_secret_configured';
  // Reported only after the drift and secret checks, as the reference does.
  if (parsed.s.length % 2 !== 0 || !HEX.test(parsed.s)) return 'malformed_signature';
  const given = Buffer.from(parsed.s, 'hex');
  if (given.length !== 32) return 'hmac_mismatch';
  const message = `${parsed.t}.${input.method}.${input.path}`;
  let ok = false;
  // Every secret is tried (no early exit), so timing does not tell which one matched.
  for (const secret of input.secrets) {
    const expected = createHmac('sha256', secret).update(message).digest();
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok ? 'valid' : 'hmac_mismatch';
}

/**
 * The header value a sandbox sends: `t=<t>,s=<hex>` over `<t>.<METHOD>.<path>`, the
 * method upper-cased and the path exactly as sent, without the query (t defaults to now).
 */
export function signRequest(
  secret: Buffer | string,
  method: string,
  path: string,
  t: number | string = Math.floor(Date.now() / 1000),
): string {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const s = createHmac('sha256', key).update(`${t}.${method.toUpperCase()}.${path}`).digest('hex');
  return `t=${t},s=${s}`;
}

/** Keyring entries that hold the sandbox signing secret (current first). */
export const SIGNING_SECRET_ENTRIES = ['sandbox_signing_shared_secret', 'sandbox_signing_shared_secret_previous'];
/** A secret shorter than this counts as absent: an empty or short HMAC key is guessable. */
export const MIN_SIGNING_SECRET_BYTES = 16;

/** Hex-decoded when the value is valid hex, else its UTF-8 bytes (ref-02 §3.4); short or empty = absent. */
export function decodeSigningSecret(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const bytes =
    v.length > 0 && v.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'utf8');
  return bytes.length >= MIN_SIGNING_SECRET_BYTES ? bytes : undefined;
}

/** Decodes a secret a client was configured with (`source` names where from), or throws ATI_ERR_CONFIG. */
export function requireSigningSecret(raw: string, source: string): Buffer {
  const key = decodeSigningSecret(raw);
  if (!key)
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${source} is shorter than ${MIN_SIGNING_SECRET_BYTES} bytes; use the same value as the proxy's sandbox_signing_shared_secret`,
    );
  return key;
}
