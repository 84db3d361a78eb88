// @ts-check
/**
 * Just enough of the GraphQL grammar (section 2 of the October 2021 spec) to read the
 * operations of an executable document and their variable definitions,
 * without depending on the `graphql` package: the upstream server does the
 * real parsing and validation. What this gives the plugin:
 *
 * - `validate` can reject a manifest whose `query` is not a document, has no
 *   operation, or is ambiguous (several operations and no `operation_name`);
 * - each tool gets an `input_schema` derived from the operation's variables
 *   (no introspection round trip), and missing required arguments are caught
 *   before the upstream is called.
 */

/**
 * @typedef {{ kind: 'name' | 'punct' | 'string' | 'number', value: string, start: number, end: number }} Token
 * @typedef {{ name: string, list?: undefined } | { list: GraphqlType, name?: undefined }} BaseType
 * @typedef {BaseType & { nonNull: boolean }} GraphqlType
 * @typedef {{ name: string, type: GraphqlType, typeText: string, defaultText: string | undefined }} VariableDefinition
 * @typedef {{ type: 'query' | 'mutation' | 'subscription', name: string | undefined, variables: VariableDefinition[] }} OperationDefinition
 */

export class GraphqlSyntaxError extends Error {
  /**
   * @param {string} message
   * @param {string} source
   * @param {number} offset
   */
  constructor(message, source, offset) {
    const before = source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    super(`GraphQL syntax error at line ${line}, column ${column}: ${message}`);
    this.name = 'GraphqlSyntaxError';
  }
}

const PUNCTUATORS = '!$&():=@[]{|}';
const NAME_START = /[_A-Za-z]/;
const NAME_CONTINUE = /[_0-9A-Za-z]/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Splits a document into tokens; whitespace, commas and comments are dropped.
 * @param {string} src
 * @returns {Token[]}
 */
export function tokenize(src) {
  /** @type {Token[]} */
  const tokens = [];
  let i = 0;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === '#') {
      while (i < src.length && src[i] !== '\n' && src[i] !== '\r') i++;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\uFEFF') {
      i++;
    } else if (src.startsWith('"""', i)) {
      let j = i + 3;
      while (j < src.length && !src.startsWith('"""', j)) j += src.startsWith('\\"""', j) ? 4 : 1;
      if (j >= src.length) throw new GraphqlSyntaxError('unterminated block string', src, i);
      tokens.push({ kind: 'string', value: src.slice(i, j + 3), start: i, end: j + 3 });
      i = j + 3;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n' || src[j] === '\r') throw new GraphqlSyntaxError('unterminated string', src, i);
        j += src[j] === '\\' ? 2 : 1;
      }
      if (j >= src.length) throw new GraphqlSyntaxError('unterminated string', src, i);
      tokens.push({ kind: 'string', value: src.slice(i, j + 1), start: i, end: j + 1 });
      i = j + 1;
    } else if (src.startsWith('...', i)) {
      tokens.push({ kind: 'punct', value: '...', start: i, end: i + 3 });
      i += 3;
    } else if (PUNCTUATORS.includes(c)) {
      tokens.push({ kind: 'punct', value: c, start: i, end: i + 1 });
      i++;
    } else if (NAME_START.test(c)) {
      let j = i + 1;
      while (j < src.length && NAME_CONTINUE.test(src.charAt(j))) j++;
      tokens.push({ kind: 'name', value: src.slice(i, j), start: i, end: j });
      i = j;
    } else {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(src);
      if (!m) throw new GraphqlSyntaxError(`unexpected character ${JSON.stringify(c)}`, src, i);
      tokens.push({ kind: 'number', value: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    }
  }
  return tokens;
}

const CLOSERS = /** @type {Record<string, string>} */ ({ '{': '}', '(': ')', '[': ']' });

/** A cursor over the tokens of one document. */
class Parser {
  /** @param {string} src */
  constructor(src) {
    this.src = src;
    this.tokens = tokenize(src);
    this.pos = 0;
  }

  /** @returns {Token | undefined} */
  peek() {
    return this.tokens[this.pos];
  }

  /** @param {string} value */
  peekIs(value) {
    return this.peek()?.value === value && this.peek()?.kind === 'punct';
  }

  /**
   * @param {Token['kind']} kind
   * @param {string} [value]
   * @returns {Token}
   */
  expect(kind, value) {
    const t = this.tokens[this.pos];
    if (!t || t.kind !== kind || (value !== undefined && t.value !== value)) {
      const want = value === undefined ? `a ${kind}` : `"${value}"`;
      throw new GraphqlSyntaxError(`expected ${want}, found ${t ? `"${t.value}"` : 'the end of the document'}`, this.src, t?.start ?? this.src.length);
    }
    this.pos++;
    return t;
  }

  /** Skips one bracketed group starting at the current `{`, `(` or `[`. */
  skipGroup() {
    const open = this.expect('punct');
    const stack = [CLOSERS[open.value]];
    if (!stack[0]) throw new GraphqlSyntaxError(`expected "{", "(" or "[", found "${open.value}"`, this.src, open.start);
    while (stack.length > 0) {
      const t = this.tokens[this.pos++];
      if (!t) throw new GraphqlSyntaxError(`unbalanced "${open.value}"`, this.src, open.start);
      if (t.kind !== 'punct') continue;
      const closer = CLOSERS[t.value];
      if (closer) stack.push(closer);
      else if (t.value === stack[stack.length - 1]) stack.pop();
      else if ('})]'.includes(t.value)) throw new GraphqlSyntaxError(`unexpected "${t.value}"`, this.src, t.start);
    }
  }

  /** `@name(args)` … */
  skipDirectives() {
    while (this.peekIs('@')) {
      this.pos++;
      this.expect('name');
      if (this.peekIs('(')) this.skipGroup();
    }
  }

  /** @returns {GraphqlType} */
  parseType() {
    /** @type {BaseType} */
    let base;
    if (this.peekIs('[')) {
      this.pos++;
      base = { list: this.parseType() };
      this.expect('punct', ']');
    } else {
      base = { name: this.expect('name').value };
    }
    const nonNull = this.peekIs('!');
    if (nonNull) this.pos++;
    return { ...base, nonNull };
  }

  /** A constant value (default of a variable): skipped, its source text kept. */
  skipValue() {
    const t = this.peek();
    if (!t) throw new GraphqlSyntaxError('expected a value, found the end of the document', this.src, this.src.length);
    if (t.kind === 'punct' && (t.value === '[' || t.value === '{')) this.skipGroup();
    else if (t.kind === 'punct' && t.value === '$') throw new GraphqlSyntaxError('a default value cannot be a variable', this.src, t.start);
    else if (t.kind === 'punct') throw new GraphqlSyntaxError(`expected a value, found "${t.value}"`, this.src, t.start);
    else this.pos++;
  }

  /** @returns {VariableDefinition[]} */
  parseVariableDefinitions() {
    /** @type {VariableDefinition[]} */
    const vars = [];
    this.expect('punct', '(');
    while (!this.peekIs(')')) {
      this.expect('punct', '$');
      const name = this.expect('name').value;
      this.expect('punct', ':');
      const typeStart = this.peek()?.start ?? this.src.length;
      const type = this.parseType();
      const typeText = this.src.slice(typeStart, this.tokens[this.pos - 1]?.end).replace(/\s+/g, '');
      let defaultText;
      if (this.peekIs('=')) {
        this.pos++;
        const start = this.peek()?.start ?? this.src.length;
        this.skipValue();
        defaultText = this.src.slice(start, this.tokens[this.pos - 1]?.end);
      }
      this.skipDirectives();
      if (vars.some((v) => v.name === name)) throw new GraphqlSyntaxError(`variable $${name} is defined twice`, this.src, typeStart);
      vars.push({ name, type, typeText, defaultText });
    }
    this.expect('punct', ')');
    return vars;
  }

  /** @returns {OperationDefinition[]} */
  parseDocument() {
    /** @type {OperationDefinition[]} */
    const ops = [];
    while (this.peek()) {
      const t = /** @type {Token} */ (this.peek());
      if (t.kind === 'punct' && t.value === '{') {
        // `{ … }` alone is an anonymous query without variables.
        this.skipGroup();
        ops.push({ type: 'query', name: undefined, variables: [] });
      } else if (t.kind === 'name' && (t.value === 'query' || t.value === 'mutation' || t.value === 'subscription')) {
        this.pos++;
        const name = this.peek()?.kind === 'name' ? this.expect('name').value : undefined;
        const variables = this.peekIs('(') ? this.parseVariableDefinitions() : [];
        this.skipDirectives();
        if (!this.peekIs('{')) this.expect('punct', '{');
        this.skipGroup();
        ops.push({ type: t.value, name, variables });
      } else if (t.kind === 'name' && t.value === 'fragment') {
        this.pos++;
        this.expect('name');
        this.expect('name', 'on');
        this.expect('name');
        this.skipDirectives();
        if (!this.peekIs('{')) this.expect('punct', '{');
        this.skipGroup();
      } else {
        throw new GraphqlSyntaxError(`unexpected "${t.value}" (expected query, mutation, subscription, fragment or "{")`, this.src, t.start);
      }
    }
    return ops;
  }
}

/**
 * Reads the operations of an executable document.
 * @param {string} document
 * @returns {OperationDefinition[]}
 * @throws {GraphqlSyntaxError}
 */
export function parseOperations(document) {
  return new Parser(document).parseDocument();
}

/**
 * The operation a tool runs: the named one, or the only one.
 * @param {OperationDefinition[]} ops
 * @param {string | undefined} operationName
 * @returns {{ op: OperationDefinition } | { problem: string }}
 */
export function selectOperation(ops, operationName) {
  if (ops.length === 0) return { problem: 'the document contains no operation' };
  if (operationName !== undefined) {
    const op = ops.find((o) => o.name === operationName);
    if (!op) return { problem: `operation "${operationName}" is not in the document (it has: ${ops.map((o) => o.name ?? '(anonymous)').join(', ')})` };
    return { op };
  }
  if (ops.length > 1) return { problem: `the document has ${ops.length} operations (${ops.map((o) => o.name ?? '(anonymous)').join(', ')}); set operation_name` };
  return { op: /** @type {OperationDefinition} */ (ops[0]) };
}

const SCALARS = /** @type {Record<string, Record<string, unknown>>} */ ({
  String: { type: 'string' },
  ID: { type: ['string', 'integer'] },
  Int: { type: 'integer' },
  Float: { type: 'number' },
  Boolean: { type: 'boolean' },
});

/**
 * JSON Schema of a value of a GraphQL input type. Enums, input objects and
 * custom scalars are unknown without introspection, so they accept any value.
 * @param {GraphqlType} t
 * @returns {Record<string, unknown>}
 */
export function jsonSchemaOfType(t) {
  if (t.list) return { type: 'array', items: jsonSchemaOfType(t.list) };
  return { ...(SCALARS[/** @type {string} */ (t.name)] ?? {}) };
}

/** A variable must be given when it is non-null and has no default. @param {VariableDefinition} v */
export function isRequired(v) {
  return v.type.nonNull && v.defaultText === undefined;
}
