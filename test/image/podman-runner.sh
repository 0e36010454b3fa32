#!/usr/bin/env bash
# serve's --runner-command in the image smoke tests: the session's runner is the image's, started
# as a platform starts a session pod. Usage (serve appends nothing; the session is in the env):
#
#   podman-runner.sh CONTAINERS_CONF IMAGE RUN_ID
#
# - an arbitrary UID in group 0, no capabilities, no privilege escalation, a read-only root
#   filesystem (podman puts a tmpfs on /tmp), as OpenShift's restricted policy runs a pod; the
#   host's network (serve and the scripted model listen on the host's 127.0.0.1);
# - the session's workspace (serve made it on the host) mounted as /workspace, owned by that UID
#   as a volume would be;
# - the session's variables passed by name (`-e NAME`: the values never appear on a command
#   line), except the process basics of this host (PATH, HOME, proxies, CA files, temp dirs):
#   the image has its own;
# - `exec`: serve's SIGTERM goes to `podman run`, which passes it on to the container (the pod
#   being deleted); `--rm` removes the container when it ends.
set -euo pipefail
[ $# -eq 3 ] || {
  echo "usage: $0 CONTAINERS_CONF IMAGE RUN_ID" >&2
  exit 2
}
conf=$1 image=$2 run_id=$3
uid=123456

host_workspace=${WORKSPACE_PATH:?WORKSPACE_PATH is not set: serve sets it for each run}
chown "$uid:0" "$host_workspace"
chmod 0770 "$host_workspace"
export WORKSPACE_PATH=/workspace

pass=()
for name in $(compgen -e); do
  case $name in
  PATH | HOME | USER | LANG | LC_ALL | TZ | TMPDIR | CLAUDE_CODE_TMPDIR) continue ;;
  HTTP_PROXY | HTTPS_PROXY | NO_PROXY | http_proxy | https_proxy | no_proxy) continue ;;
  NODE_EXTRA_CA_CERTS | SSL_CERT_FILE | PWD | OLDPWD | SHLVL | _) continue ;;
  esac
  pass+=(-e "$name")
done

export CONTAINERS_CONF=$conf
exec podman run --rm --network host --user "$uid:0" --read-only --no-healthcheck \
  --cap-drop all --security-opt no-new-privileges \
  --name "ccr-smoke-$run_id-$SESSION_ID-${AGENTIC_SESSION_RUN:-1}" \
  --label "io.claude-code-runner.run=$run_id" \
  --label "io.claude-code-runner.session=$SESSION_ID" \
  --volume "$host_workspace:/workspace" \
  "${pass[@]}" "$image" run
