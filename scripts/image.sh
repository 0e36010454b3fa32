#!/usr/bin/env bash
# The container image: build its base (when there is no registry), build it, smoke-test it.
#
#   scripts/image.sh base    build the base image (Debian 13 + Node 20 + npm) unless it exists
#   scripts/image.sh build   build the image (the base first when BASE_IMAGE is not set)
#   scripts/image.sh smoke   run the smoke tests against the built image (needs `npm run build`)
#   scripts/image.sh all     base, build, smoke (what CI runs)
#
# Variables: IMAGE (default localhost/claude-code-runner:<version>), BASE_IMAGE (default: the
# base built here, localhost/claude-code-runner-base:<recipe>; set it to e.g.
# docker.io/library/node:20-slim where a registry is reachable), CA_BUNDLE (CA certificates the
# build trusts for npm, handed in as a build secret so it never lands in a layer; default
# NODE_EXTRA_CA_CERTS, else the system's bundle). Needs root with podman, runc and mmdebstrap (installed with apt
# when missing). Safe to run again on the same machine: the base is reused, builds are cached,
# containers get unique names and are removed on exit. Details: docs/image.md.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(node -p 'require("./package.json").version')
IMAGE=${IMAGE:-localhost/claude-code-runner:$VERSION}
# Bump the suffix whenever the base recipe below changes, so a machine rebuilds it.
OWN_BASE=localhost/claude-code-runner-base:trixie-node20-1
BASE_IMAGE=${BASE_IMAGE:-$OWN_BASE}
CA_BUNDLE=${CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}
if [ -z "$CA_BUNDLE" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
DEBIAN_MIRROR=${DEBIAN_MIRROR:-}
# Labels every container of this run; the pid lets a later run tell a dead run's leftovers.
RUN_ID="ccr-image-$$-$(date +%s)"
SMOKE_PID=

log() { printf '[image] %s\n' "$*" >&2; }
die() {
  printf '[image] error: %s\n' "$*" >&2
  exit 1
}

TMP_ROOT=${TMPDIR:-/tmp}
WORK=$(mktemp -d "$TMP_ROOT/$RUN_ID.XXXXXX")
# Removes the containers labelled with these run ids (--rm removes them when all goes well).
remove_containers_of() {
  local run ids
  for run in "$@"; do
    ids=$(podman ps -aq --filter "label=io.claude-code-runner.run=$run" 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086 # one id per word
      podman rm -f -t 5 $ids >/dev/null 2>&1 || true
    fi
  done
}

cleanup() {
  local rc=$?
  # The smoke tests (their own process group: serve on the host and what it started) first,
  # so serve stops its runners; then whatever container of this run is left.
  if [ -n "$SMOKE_PID" ] && kill -0 "$SMOKE_PID" 2>/dev/null; then
    kill -TERM -- "-$SMOKE_PID" 2>/dev/null || true
    sleep 2
    kill -KILL -- "-$SMOKE_PID" 2>/dev/null || true
  fi
  if command -v podman >/dev/null && [ -n "${CONTAINERS_CONF:-}" ]; then
    remove_containers_of "$RUN_ID"
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

install_tools() {
  local need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${need[*]}: install them (apt-get install ${need[*]}) or run as root"
    log "installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

# A private podman configuration instead of touching /etc: runc (crun refuses this kind of VM's
# hybrid cgroup layout) and ulimits within what this process may set (podman's defaults ask for
# more than root without CAP_SYS_RESOURCE gets).
podman_config() {
  local nofile
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf"
}

# The mirror apt already uses (deb822 or one-line sources), else Debian's own.
debian_mirror() {
  if [ -n "$DEBIAN_MIRROR" ]; then
    echo "$DEBIAN_MIRROR"
    return
  fi
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk '{print $2}' | grep -v security | head -1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk '{print $2}' | grep -v security | head -1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

cmd_base() {
  if [ "$BASE_IMAGE" != "$OWN_BASE" ]; then
    log "BASE_IMAGE=$BASE_IMAGE is given: not building a base"
    return
  fi
  if podman image exists "$OWN_BASE"; then
    log "base $OWN_BASE exists"
    return
  fi
  local started=$SECONDS mirror security
  mirror=$(debian_mirror)
  security=${mirror%/debian}/debian-security
  log "building base $OWN_BASE (Debian 13 from $mirror, Node 20, npm 10)"
  # Debian's nodejs has no npm: npm's own package, unpacked where Debian's layout expects it.
  (cd "$WORK" && npm pack --silent npm@10 >/dev/null)
  local npm_tgz
  npm_tgz=$(ls "$WORK"/npm-*.tgz)
  mmdebstrap --quiet --variant=minbase \
    --include=nodejs,git,ca-certificates \
    --customize-hook="mkdir -p \"\$1/usr/lib/node_modules/npm\" && tar -xzf '$npm_tgz' -C \"\$1/usr/lib/node_modules/npm\" --strip-components=1" \
    --customize-hook="ln -sf ../lib/node_modules/npm/bin/npm-cli.js \"\$1/usr/bin/npm\" && ln -sf ../lib/node_modules/npm/bin/npx-cli.js \"\$1/usr/bin/npx\"" \
    --customize-hook="rm -rf \"\$1\"/usr/share/doc/* \"\$1\"/usr/share/man/* \"\$1\"/var/cache/apt/* \"\$1\"/var/lib/apt/lists/*" \
    trixie "$WORK/rootfs.tar" \
    "deb $mirror trixie main" \
    "deb $mirror trixie-updates main" \
    "deb $security trixie-security main"
  podman import --quiet \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD=["/bin/bash"]' \
    "$WORK/rootfs.tar" "$OWN_BASE" >/dev/null
  rm -f "$WORK/rootfs.tar"
  log "base built in $((SECONDS - started)) s: $(podman image inspect --format '{{.Size}}' "$OWN_BASE" | numfmt --to=iec) ($(podman run --rm "$OWN_BASE" node --version))"
}

cmd_build() {
  cmd_base
  local started=$SECONDS revision source args=()
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  source=$(git remote get-url origin 2>/dev/null || true)
  case $source in https://*) ;; *) source= ;; esac
  # The labels go in as flags too: podman 4's layer cache ignores a changed build argument in
  # the Containerfile's LABEL, and would keep the previous revision.
  # The CA bundle (a proxy that re-signs TLS needs its CA trusted by npm) goes in as a secret:
  # mounted for the RUN that needs it, never copied into a layer.
  if [ -n "$CA_BUNDLE" ]; then
    [ -r "$CA_BUNDLE" ] || die "CA_BUNDLE=$CA_BUNDLE is not a readable file"
    args+=(--secret "id=ca,src=$CA_BUNDLE")
  fi
  local previous
  previous=$(podman image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  log "building $IMAGE from $BASE_IMAGE (revision $revision)"
  podman build --network host --pull=never --layers --format docker \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "VERSION=$VERSION" \
    --build-arg "REVISION=$revision" \
    --build-arg "SOURCE=$source" \
    --label "org.opencontainers.image.version=$VERSION" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.source=$source" \
    "${args[@]}" \
    --tag "$IMAGE" --file Containerfile . >"$WORK/build.log" 2>&1 || {
    tail -n 60 "$WORK/build.log" >&2
    die "podman build failed (the last lines are above)"
  }
  local size id
  id=$(podman image inspect --format '{{.Id}}' "$IMAGE")
  # The image this build replaced, now untagged: removed so repeated CI runs do not pile them up
  # (its layers shared with the new one stay).
  if [ -n "$previous" ] && [ "$previous" != "$id" ]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
  log "built $IMAGE in $((SECONDS - started)) s; size $(numfmt --to=iec "$size") ($size bytes)"
  log "largest parts: $(podman run --rm --no-healthcheck --entrypoint sh "$IMAGE" -c \
    'du -sh /app/node_modules/@anthropic-ai/claude-agent-sdk-linux-* /app/node_modules /usr/lib/node_modules/npm /usr/lib/x86_64-linux-gnu 2>/dev/null' |
    awk '{printf "%s %s; ", $2, $1}')"
}

# Containers and temp dirs of earlier runs of this script that died before their cleanup (killed
# outright): their run id names a process that is gone. Runs still going are left alone.
remove_leftovers() {
  local dir
  for dir in "$TMP_ROOT"/ccr-image-*-*.*; do
    [[ -d $dir && ${dir##*/} =~ ^ccr-image-([0-9]+)-[0-9]+\. ]] || continue
    kill -0 "${BASH_REMATCH[1]}" 2>/dev/null || rm -rf "$dir"
  done
  local runs=() run pid
  while IFS= read -r run; do
    [[ $run =~ ^ccr-image-([0-9]+)-[0-9]+$ ]] || continue
    pid=${BASH_REMATCH[1]}
    if [ "$run" != "$RUN_ID" ] && ! kill -0 "$pid" 2>/dev/null; then runs+=("$run"); fi
  done < <(podman ps -a --filter label=io.claude-code-runner.run \
    --format '{{index .Labels "io.claude-code-runner.run"}}' 2>/dev/null | sort -u)
  if [ ${#runs[@]} -gt 0 ]; then
    log "removing the containers of ${#runs[@]} earlier run(s) that were killed"
    remove_containers_of "${runs[@]}"
  fi
}

cmd_smoke() {
  podman image exists "$IMAGE" || die "no image $IMAGE: run scripts/image.sh build first"
  [ -f dist/test/image/smoke.js ] || die "dist/test/image/smoke.js is missing: run npm run build first"
  local started=$SECONDS
  remove_leftovers
  log "smoke tests of $IMAGE"
  # In its own process group and waited for, so a TERM or Ctrl-C here ends it (and its serve)
  # at once instead of after the tests.
  CCR_IMAGE="$IMAGE" CCR_IMAGE_RUN_ID="$RUN_ID" CCR_IMAGE_SECRET_FILE="$CA_BUNDLE" \
    CCR_IMAGE_REVISION="$(git rev-parse HEAD 2>/dev/null || true)" CCR_IMAGE_WORK_DIR="$WORK" \
    setsid node --test-reporter=spec dist/test/image/smoke.js &
  SMOKE_PID=$!
  wait "$SMOKE_PID"
  SMOKE_PID=
  log "smoke tests passed in $((SECONDS - started)) s"
}

main() {
  local sub=${1:-all}
  case $sub in
  base | build | smoke | all) ;;
  -h | --help | help)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    return
    ;;
  *) die "unknown subcommand \"$sub\": use base, build, smoke or all" ;;
  esac
  install_tools
  podman_config
  case $sub in
  base) cmd_base ;;
  build) cmd_build ;;
  smoke) cmd_smoke ;;
  all)
    cmd_build
    cmd_smoke
    ;;
  esac
}

main "$@"
