/**
 * Timestamps as the reference prints them (chrono serde): RFC 3339 in UTC with
 * a `Z` suffix and 0, 3, 6 or 9 fraction digits, e.g.
 * `2026-05-01T12:00:00.123456Z`. Values are read from Postgres as text, so the
 * database's microseconds survive (a JavaScript Date would keep milliseconds).
 */

const PG_TS =
  /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?|Z)?$/;

/** Renders a Postgres `timestamptz` (text or Date) as RFC 3339 `Z`; null stays null. */
export function toRfc3339(value: string | Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date)
    return formatFraction(value.toISOString().slice(0, 19), String(value.getUTCMilliseconds()).padStart(3, '0'));
  const m = PG_TS.exec(value);
  if (!m) return value; // infinity, BC dates: pass through untouched
  const [, date, time, frac = '', sign, oh = '00', om = '00', os = '00'] = m;
  let base = `${date}T${time}`;
  const offsetSeconds = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60 + Number(os)) : 0;
  if (offsetSeconds !== 0) {
    const utc = new Date(Date.parse(`${base}Z`) - offsetSeconds * 1000);
    base = utc.toISOString().slice(0, 19);
  }
  return formatFraction(base, frac);
}

function formatFraction(base: string, frac: string): string {
  const digits = frac.replace(/0+$/, '');
  if (digits === '') return `${base}Z`;
  const width = digits.length <= 3 ? 3 : digits.length <= 6 ? 6 : 9;
  return `${base}.${digits.padEnd(width, '0')}Z`;
}

/** Seconds since the epoch of a `timestamptz` (for synthesized JWT-like claims). */
export function toUnixSeconds(value: string | Date | null | undefined): number | null {
  const iso = toRfc3339(value ?? null);
  if (iso === null) return null;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

/** Milliseconds since the epoch of a `timestamptz`; NaN when unparseable. */
export function toEpochMs(value: string | Date): number {
  return Date.parse(toRfc3339(value) ?? '');
}
