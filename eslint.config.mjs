// ESLint 10 (flat config): eslint's and typescript-eslint's recommended rules, without type
// information. Type-aware linting (recommendedTypeChecked) took about as long again as this whole
// run for packages/*/src alone, and `tsc` already checks types in scripts/test.
import eslint from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', 'pack/**', 'coverage/**'] },
  eslint.configs.recommended,
  tseslint.configs.recommended,
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A parameter that an interface requires but this implementation does not use is named
      // `_ctx`, `_info`, …; the same for skipped array elements and loop variables.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      // `let server; const s = create(() => server.handle()); server = …`: a closure that reads
      // the variable before its one assignment cannot use const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Plain CommonJS run by Node: worker and child-process fixtures, bins, this kind of config.
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The dashboard's page script: run by the browser as it is, no build step.
    files: ['packages/server/static/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
);
