/**
 * Strict percent-encoding: every byte except the RFC 3986 unreserved characters
 * (`A–Z a–z 0–9 - _ . ~`), upper-case hex. What path parameters and query
 * credentials are sent with; `encodeURIComponent` leaves `!'()*` as they are.
 */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
