// The image's HEALTHCHECK: when PID 1 is `serve`, its /health must answer 200 within 3 s; any
// other role (a runner, a client) has no server and counts as healthy. The port is serve's own
// choice: its --port flag, else its CLAUDE_RUNNER_PORT, else 8080 (both read from PID 1).
/* global process, fetch, AbortSignal */
import { readFileSync } from 'node:fs';

const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
if (!argv.includes('serve')) process.exit(0);

const environ = readFileSync('/proc/1/environ', 'utf8').split('\0');
let port = environ.find((kv) => kv.startsWith('CLAUDE_RUNNER_PORT='))?.split('=')[1] || '8080';
for (const [i, arg] of argv.entries()) {
  if (arg === '--port' && argv[i + 1]) port = argv[i + 1];
  else if (arg.startsWith('--port=')) port = arg.slice('--port='.length);
}

try {
  const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
