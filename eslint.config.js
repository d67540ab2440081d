// ESLint flat config: typescript-eslint's recommended rules, plus the project's own habits
// (style.md): only entry points in src/cli may exit the process.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly',
        clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly',
        URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', TextDecoder: 'readonly',
        TextEncoder: 'readonly', performance: 'readonly', queueMicrotask: 'readonly', structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'Only entry points in src/cli/ exit the process (style.md habit 5).' }],
    },
  },
  {
    // The dashboard's page script runs in the browser, not in Node.
    files: ['src/http/dashboard/assets/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        document: 'readonly', location: 'readonly', fetch: 'readonly', requestAnimationFrame: 'readonly',
        AbortSignal: 'readonly', setTimeout: 'readonly', sessionStorage: 'readonly', history: 'readonly',
      },
    },
  },
  {
    files: ['src/cli/**', 'fake-ct-log/cli.ts', 'scripts/**', 'bench/**', 'test/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
