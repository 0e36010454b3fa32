// One linter for the whole tree: typescript-eslint's recommended rules, plus the few that keep
// the architecture honest (configuration is read in one place only).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.claude-runner/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through src/config only.',
        },
      ],
    },
  },
  {
    // The configuration modules own process.env; tests and benchmarks build child environments.
    files: ['src/config/**', 'test/**', 'bench/**', 'src/testing/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
