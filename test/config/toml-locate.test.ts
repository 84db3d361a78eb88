import { describe, expect, it } from 'vitest';
import { locateLine, parseFieldPath } from '../../config/toml-locate.js';

const TEXT = `# comment
[provider]
name = "x"
"quoted-key" = 1

[provider.mcp_env]
TOKEN = "\${t}"

[[tools]]
name = "a"

[[tools]]
name = "b"
method = "GET"

[tools.input_schema]
type = "object"
`;

describe('toml-locate', () => {
  it('parses field paths', () => {
    expect(parseFieldPath('tools[1].input_schema.type')).toEqual(['tools', 1, 'input_schema', 'type']);
  });
  it('finds keys in tables, arrays of tables and sub-tables', () => {
    expect(locateLine(TEXT, 'provider.name')).toBe(3);
    expect(locateLine(TEXT, 'provider.quoted-key')).toBe(4);
    expect(locateLine(TEXT, 'provider.mcp_env.TOKEN')).toBe(7);
    expect(locateLine(TEXT, 'tools[0].name')).toBe(10);
    expect(locateLine(TEXT, 'tools[1].method')).toBe(14);
    expect(locateLine(TEXT, 'tools[1].input_schema.type')).toBe(17);
  });
  it('falls back to the enclosing table', () => {
    expect(locateLine(TEXT, 'provider.missing')).toBe(2);
    expect(locateLine(TEXT, 'tools[1].nothing')).toBe(12);
  });
});
