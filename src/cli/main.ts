#!/usr/bin/env node
/**
 * `claude-code-runner`: one command, several roles (contract §7). Each role lives in its own
 * module and is loaded only when asked for, so `run` (a pod's entrypoint) starts fast and never
 * loads the control plane's SQLite addon.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Main = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Main> }> = {
  run: {
    summary: "run one session from the environment (a pod's entrypoint)",
    load: async () => (await import('../runner/main.js')).main,
  },
  serve: {
    summary: 'the control plane: sessions API, socket hub, store, local executor',
    load: async () => (await import('../control-plane/main.js')).main,
  },
  session: {
    summary: 'a client of the API: create, list, get, watch, send, interrupt, stop, delete, logs',
    load: async () => (await import('../client/main.js')).main,
  },
  demo: {
    summary:
      'the whole system on one machine (offline with the scripted model unless a key is set)',
    load: async () => (await import('../demo/main.js')).main,
  },
  operator: {
    summary: 'the Kubernetes operator: reconciles AgenticSessions into Jobs (docs/kubernetes.md)',
    load: async () => (await import('../operator/main.js')).main,
  },
  'scripted-model': {
    summary: 'the scripted Anthropic-API server used by the demo, the tests and the benchmarks',
    load: async () => (await import('../testing/scripted-model/cli.js')).main,
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: claude-code-runner <command> [options]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `claude-code-runner <command> --help` for a command's options.",
    '`claude-code-runner --version` prints the version.',
  ].join('\n');
}

/** The package's version (dist/src/cli/main.js → package.json), e.g. for an image's smoke test. */
export function version(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version?: string };
  return pkg.version ?? '0.0.0';
}

export async function dispatch(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`claude-code-runner: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  return (await command.load())(rest);
}

function isEntrypoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntrypoint()) {
  dispatch(process.argv.slice(2)).then(
    (code) => {
      // Each command has closed what it owns by now; libraries may still hold grace timers
      // (the SDK keeps a few seconds of its own), which must not delay a pod's exit.
      process.exitCode = code;
      setImmediate(() => process.exit(code));
    },
    (err: unknown) => {
      process.stderr.write(
        `claude-code-runner: ${err instanceof Error ? err.message : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
