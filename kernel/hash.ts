/** Content hashing: one spelling of "sha256 as hex" for change detection, reuse keys and key hashes. */
import { createHash } from 'node:crypto';

/** sha256 of `data` (a string is hashed as UTF-8), lower-case hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
