#!/bin/sh
# The image's entrypoint: `claude-code-runner <role> …` with Node as PID 1 (exec), so SIGTERM
# reaches the role's own handlers (the runner reports `Stopped` and ends its CLI's processes).
#
# `run` gets the Node flags of docs/runner.md ("Starting it in a pod"): the runner waits on its
# CLI nearly all the time, and these take its peak memory from about 92 to 72 MiB. They cannot
# go through NODE_OPTIONS (V8 refuses --no-opt and --optimize-for-size there). Other roles keep
# Node's defaults: serve does real work per request.
set -e
main=/app/dist/src/cli/main.js
if [ "${1:-}" = run ]; then
  exec node --max-semi-space-size=1 --no-opt --optimize-for-size "$main" "$@"
fi
exec node "$main" "$@"
