/**
 * The sandbox request-signing secret as stored in the keyring (ref-02 §3.4). Its own module so the
 * client side (`ati run`, `ati tool`) can decode it without loading the generation builder.
 */

/** Keyring entries that hold the sandbox signing secret (current first). */
export const SIGNING_SECRET_ENTRIES = ['sandbox_signing_shared_secret', 'sandbox_signing_shared_secret_previous'];
/** A secret shorter than this counts as absent (PRODUCT §3.2). */
export const MIN_SIGNING_SECRET_BYTES = 16;

/** Hex-decoded when the value is valid hex, else its UTF-8 bytes (ref-02 §3.4); short or empty = absent. */
export function decodeSigningSecret(value: string | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const bytes =
    v.length > 0 && v.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'utf8');
  return bytes.length >= MIN_SIGNING_SECRET_BYTES ? bytes : undefined;
}
