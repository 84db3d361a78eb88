/**
 * Scope checks (ref-03 §4.6, ref-01 §13.1). A tool with no scope (null or "")
 * is open to every authenticated caller; otherwise the caller needs the exact
 * scope, `*`, or a pattern ending in `*` that prefixes it.
 */
import type { CallerIdentity, ToolDefinition } from './plugin.js';

export function scopeAllowed(scopes: readonly string[], required: string): boolean {
  for (const s of scopes) {
    if (s === '*' || s === required) return true;
    if (s.endsWith('*') && required.startsWith(s.slice(0, -1))) return true;
  }
  return false;
}

/** Whether `caller` may see and call `tool`. No caller = auth not configured (dev mode): everything. */
export function toolAllowed(caller: CallerIdentity | undefined, tool: ToolDefinition): boolean {
  if (!caller || caller.unrestricted) return true;
  if (tool.scope === null || tool.scope === '') return true;
  return scopeAllowed(caller.scopes, tool.scope);
}
