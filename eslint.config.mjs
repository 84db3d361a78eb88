// Lint: typescript-eslint's recommended rules on the TypeScript sources, and the layer rules
// below. `npm run lint` also type-checks with tsc (--noEmit) first and checks formatting
// (Prettier). docs/architecture.md explains the layers.
import tseslint from 'typescript-eslint';

/**
 * Layers point one way: kernel ← config ← core ← sdk ← plugins, and cli on top of all.
 * Each entry forbids, for the files of one folder, relative imports that leave the layer
 * the wrong way (static imports, re-exports and `import()` alike). Packages from
 * node_modules are always allowed.
 */
const layer = (files, regex, message) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
    // no-restricted-imports does not look at dynamic `import()`; a selector regex cannot hold `/`.
    'no-restricted-syntax': [
      'error',
      { selector: `ImportExpression > Literal.source[value=/${regex.replaceAll('/', '\\x2F')}/]`, message },
    ],
  },
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'bench/**',
      'examples/**',
      'scripts/**',
      'test/fixtures/**',
      'bin/**',
      '**/*.mjs',
      '**/*.js',
    ],
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layer(['kernel/**/*.ts'], '^\\.\\./', 'kernel/ imports nothing of ours (only node: and packages)'),
  layer(['config/**/*.ts'], '^\\.\\./(?!kernel/)', 'config/ may import only kernel/'),
  layer(['client/**/*.ts'], '^\\.\\./(?!kernel/)', 'client/ may import only kernel/'),
  layer(
    ['core/**/*.ts'],
    '^(\\.\\./)+(plugins|cli|client|sdk)/',
    'core/ never imports plugins/, cli/, client/ or sdk/ (register plugins from cli/)',
  ),
  layer(['sdk/**/*.ts'], '^(\\.\\./)+(plugins|cli|client)/', 'sdk/ never imports plugins/, cli/ or client/'),
  layer(
    ['plugins/**/*.ts'],
    '^\\.\\./\\.\\./(?!sdk/)',
    'plugins import only the public plugin API (sdk/plugin.ts) and files of plugins/',
  ),
);
