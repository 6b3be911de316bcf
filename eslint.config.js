// Lint: ESLint with typescript-eslint, formatting by Prettier. Chosen over Biome because the style guide
// (STYLE.md §17) names eslint and prettier, and typescript-eslint's recommended set is the reference rule
// set for TypeScript; eslint-config-prettier (last) switches off every stylistic rule, so the two never
// disagree and each is configured once. No type-aware rules: they would re-run the compiler on every lint,
// and `tsc --noEmit` (strict, noUnused*) already checks types.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // Generated glue, build output, dependencies, Rust.
  { ignores: ['dist/', 'ts/generated/', 'native/', 'wasm/', 'target/', 'crates/', '**/node_modules/', 'bench/results/', 'web/dist/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-var': 'error',
      'prefer-const': 'error',
      'object-shorthand': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // `_`-prefixed names are deliberately unused (destructuring to drop a field, a required callback parameter).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  prettier,
);
