// One linter for the whole tree: typescript-eslint's recommended rules, plus the few that keep
// the architecture honest: configuration is read in one place only, and imports point one way
// through the layers (docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, bottom first, and what each may import besides itself. `protocol/` and
 * `errors.ts` are the contract every side compiles against and import nothing of ours;
 * `runner/`, `control-plane/`, `client/` and `operator/` stand side by side and never import each other;
 * `testing/` (the scripted model and the stand-ins) serves the top: `demo/`, `e2e/`, `cli/`.
 */
const BASE = ['protocol', 'config', 'observability'];
/** What the top layers build on: every product layer that runs a session. */
const PRODUCT = [...BASE, 'workspace', 'runner', 'control-plane', 'client'];
const LAYERS = {
  protocol: [],
  config: ['protocol'],
  observability: ['protocol'],
  workspace: BASE,
  runner: [...BASE, 'workspace'],
  'control-plane': [...BASE, 'workspace'],
  client: BASE,
  operator: BASE,
  testing: PRODUCT,
  demo: [...PRODUCT, 'testing'],
  e2e: [...PRODUCT, 'testing'],
};
const ALL = [...Object.keys(LAYERS), 'cli'];

/** One block per layer: every other layer it may not reach is a restricted import pattern. */
const layerRules = Object.entries(LAYERS).map(([layer, allowed]) => {
  const banned = ALL.filter((l) => l !== layer && !allowed.includes(l));
  const patterns = [
    {
      group: banned.map((l) => `**/${l}/**`),
      message: `src/${layer}/ may import only ${allowed.length ? allowed.join(', ') : 'nothing of ours'} (docs/architecture.md)`,
    },
  ];
  // errors.ts sits beside protocol/ at the bottom; protocol/ itself stays free of it too.
  if (layer === 'protocol')
    patterns.push({ group: ['../errors.js'], message: 'src/protocol/ imports nothing of ours' });
  return {
    files: [`src/${layer}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
});

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
  ...layerRules,
  {
    // Benchmarks measure the product: they use src/ (its testing/ parts included), never test/.
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/test/**'], message: 'bench/ uses src/ only, not test/ helpers' },
          ],
        },
      ],
    },
  },
  {
    // The web page runs in a browser: it speaks the API over HTTP and the socket, and imports
    // neither Node nor our Node code (docs/web.md).
    files: ['web/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/src/**', '../**'],
              message: 'web/src/ imports only itself and its libraries',
            },
            { group: ['node:*'], message: 'web/src/ runs in a browser: no Node modules' },
          ],
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
