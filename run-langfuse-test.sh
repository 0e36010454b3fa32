#!/usr/bin/env bash
# The Langfuse end-to-end test (docs/langfuse.md, "End-to-end test"): builds the package when the
# build is missing or older than the sources, then runs the test program. Every setting comes
# from the environment (run with --help for the list):
#
#   ./run-langfuse-test.sh                      # local serve + scripted model + Langfuse stand-in
#   LANGFUSE_HOST=http://localhost:3000 LANGFUSE_PUBLIC_KEY=pk-lf-… LANGFUSE_SECRET_KEY=sk-lf-… \
#     ./run-langfuse-test.sh                    # a real Langfuse
#   BACKEND_URL=http://localhost:8080 CLAUDE_RUNNER_API_TOKEN=… LANGFUSE_HOST=… … \
#     ./run-langfuse-test.sh                    # a running control plane as well
#
# Exit status: 0 passed, 1 failed, 2 invalid configuration.
set -euo pipefail
cd "$(dirname "$0")"

program=dist/src/e2e/langfuse/main.js
# tsc -p (incremental) rewrites its build info on every build that changed anything.
stamp=dist/.tsbuildinfo
if [ ! -d node_modules ]; then
  echo "Installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund >&2
fi
if [ ! -f "$program" ] || [ ! -f "$stamp" ] || [ -n "$(find src -name '*.ts' -newer "$stamp" -print -quit)" ]; then
  echo "Building (npm run build)" >&2
  npm run --silent build >&2
fi
exec node "$program" "$@"
