/**
 * Scope checks (docs/auth.md#4-scopes). Granted scopes are patterns:
 * `*` grants everything, a pattern ending in one `*` grants every name it
 * prefixes (no segment awareness: `tool:git*` covers `tool:gitlab:x`), any
 * other pattern must equal the name; a `*` elsewhere is literal; matching is
 * case-sensitive. A required `tool:<A>:<rest>` is also granted by its legacy
 * alias `tool:<A>_<rest>` (only the first `:` after `tool:` is replaced).
 *
 * Where we differ from the reference on purpose (docs/reference-compat.md#scopes-and-expiry):
 * - one notion of expiry: `caller.validUntil` (JWT `exp` + the validation
 *   leeway) is checked for every decision, also for `*` grants;
 * - tools of `internal` providers still need their scope (a tool without one
 *   requires `tool:<name>`);
 * - `POST /help` needs the `help` scope when auth is configured (`helpAllowed`).
 */
import type { CallerIdentity, ToolDefinition } from '../plugin/contract.js';

/** The dev-mode caller (no JWT configured): unrestricted, never expires (as in the reference). */
export const DEV_CALLER: CallerIdentity = Object.freeze({
  sub: 'dev',
  scopes: Object.freeze(['*']),
  unrestricted: true,
});

/** Splits a `scope` claim on any run of whitespace, dropping empties (`""` → `[]`). */
export function parseScopeString(scope: string): string[] {
  return scope.split(/\s+/).filter((s) => s.length > 0);
}

/** Whether one granted pattern covers `name` (the reference's `match`). */
export function scopeMatches(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === name) return true;
  return pattern.endsWith('*') && name.startsWith(pattern.slice(0, -1));
}

/** `tool:github:search` → `tool:github_search`; undefined when `required` has no such form. */
export function legacyAlias(required: string): string | undefined {
  if (!required.startsWith('tool:')) return undefined;
  const rest = required.slice(5);
  const colon = rest.indexOf(':');
  if (colon < 0) return undefined;
  return `tool:${rest.slice(0, colon)}_${rest.slice(colon + 1)}`;
}

/** Whether `scopes` grant `required` (or its legacy alias). `""` is granted to everyone. Expiry is not checked here. */
export function scopeAllowed(scopes: readonly string[], required: string): boolean {
  if (required === '') return true;
  const alias = legacyAlias(required);
  for (const s of scopes) {
    if (scopeMatches(s, required)) return true;
    if (alias !== undefined && scopeMatches(s, alias)) return true;
  }
  return false;
}

/** True once the caller's grant has expired (`validUntil` passed). */
export function callerExpired(caller: CallerIdentity, nowSeconds = Date.now() / 1000): boolean {
  return caller.validUntil !== undefined && nowSeconds > caller.validUntil;
}

/** The scope a tool requires: its own, or `tool:<name>` for an internal tool that declares none; null = open. */
export function requiredScope(tool: ToolDefinition): string | null {
  if (tool.scope !== null) return tool.scope;
  return tool.internal ? `tool:${tool.name}` : null;
}

/**
 * Whether a caller holding `caller` may see and call something that requires
 * `required` (null = no scope needed). Without a caller: everything when auth
 * is not configured (dev mode), otherwise only what needs no scope
 * (as in the reference: no claims but JWT configured → an empty scope list).
 */
export function callerAllowed(
  caller: CallerIdentity | undefined,
  required: string | null,
  authConfigured = false,
): boolean {
  if (!caller) return !authConfigured || required === null || required === '';
  if (callerExpired(caller)) return false;
  if (caller.unrestricted || required === null) return true;
  return scopeAllowed(caller.scopes, required);
}

/** Whether `caller` may see and call `tool` (listing filters, `/tools/{name}`, `/call`, MCP). */
export function toolAllowed(caller: CallerIdentity | undefined, tool: ToolDefinition, authConfigured = false): boolean {
  return callerAllowed(caller, requiredScope(tool), authConfigured);
}

/** Whether `caller` may use `POST /help`: always in dev mode, else it needs the `help` scope (or `*`). */
export function helpAllowed(caller: CallerIdentity | undefined, authConfigured = false): boolean {
  if (!caller) return !authConfigured;
  return callerAllowed(caller, 'help', authConfigured);
}
