#!/usr/bin/env bash
# Builds a real Kubernetes for the tests from the Go module proxy, and caches it:
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl (with
#                   kustomize built in): k8s.io/kubernetes/cmd/NAME at KUBE_VERSION (below)
#   etcd            go.etcd.io/etcd/server/v3 (package main) at the version that Kubernetes release
#                   pins in its go.mod
#   coredns         github.com/coredns/coredns at COREDNS_VERSION, with only the plugins a test
#                   cluster's DNS needs (a generated main package; see "coredns" below)
#
# into ${XDS_KUBE_CACHE:-$HOME/.cache/xds-ambassador/kube}/<KUBE_VERSION>/bin/ — outside the work
# tree, so nothing of Kubernetes or etcd is ever part of the repository. A second run finds the
# binaries there and returns at once, with no network.
#
# How: k8s.io/kubernetes is not meant to be a dependency; its go.mod requires its "staging" modules
# (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and replaces them with ./staging/src/... folders.
# So a small wrapper module is generated in the cache folder: it requires k8s.io/kubernetes at
# KUBE_VERSION and replaces every k8s.io/* staging module with its published v0.<minor>.<patch>
# (the list is read from the downloaded kubernetes go.mod, never written by hand). etcd gets a
# wrapper module of its own, so that its dependencies are the ones etcd itself declares.
#
# Cold, this downloads ~1 GB of modules into the default GOMODCACHE and compiles for many minutes
# (about 15-25 on two cores); both the module cache and GOCACHE are Go's defaults, so a CI cache of
# those folders is reused. Runs one at a time per cache folder (flock).
#
# Usage: test/kube/build.sh          builds what is missing, prints one line per binary
#        test/kube/build.sh --print-bin-dir   prints the bin folder and exits (no build)
set -euo pipefail

KUBE_VERSION=v1.35.8
# The release whose go.mod requires the same client-go minor as KUBE_VERSION (shared module cache).
COREDNS_VERSION=v1.14.7
# The plugins of the test cluster's DNS, in the order CoreDNS runs them (see "coredns" below).
COREDNS_PLUGINS=(bind errors kubernetes cache)
COREDNS_BUILD="$COREDNS_VERSION ${COREDNS_PLUGINS[*]}"
KUBE_COMMANDS=(kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy)

CACHE_ROOT="${XDS_KUBE_CACHE:-$HOME/.cache/xds-ambassador/kube}"
DIR="$CACHE_ROOT/$KUBE_VERSION"
BIN="$DIR/bin"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

now() { echo "${EPOCHREALTIME/,/.}"; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

# Everything is built when the stamp exists (written last, after every binary is in place). A
# binary already there (from an earlier, shorter list) is kept: each is moved into place whole.
STAMP="$BIN/.complete"
all_present() {
  local name
  for name in "${KUBE_COMMANDS[@]}" etcd coredns; do [[ -x "$BIN/$name" ]] || return 1; done
  [[ -f "$STAMP" && "$(cat "$DIR/coredns.version" 2>/dev/null)" == "$COREDNS_BUILD" ]]
}
report_cached() {
  local name
  for name in "${KUBE_COMMANDS[@]}"; do echo "$name $KUBE_VERSION: ok (cached)"; done
  echo "etcd $(cat "$DIR/etcd.version" 2>/dev/null || echo '?'): ok (cached)"
  echo "coredns $COREDNS_VERSION: ok (cached)"
}
if all_present; then
  report_cached
  exit 0
fi

command -v go >/dev/null 2>&1 || { echo "kube build: go is needed on PATH" >&2; exit 1; }
mkdir -p "$DIR"

# One build at a time (parallel test files may all ask for the binaries).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.build.lock"
  flock 9
  if all_present; then
    report_cached
    exit 0
  fi
fi

LOG="$DIR/build.log"
: >"$LOG"
# quiet CMD...: run CMD with its output kept in $LOG; on failure show the tail of it and stop.
quiet() {
  echo "+ $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "kube build: failed: $*" >&2
    tail -n 60 "$LOG" >&2
    echo "kube build: full log in $LOG" >&2
    exit 1
  fi
}

export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local
export GOWORK=off
# GOMODCACHE and GOCACHE stay Go's defaults on purpose (shared with CI caches and other builds).
unset GOOS GOARCH

t_all="$(now)"
echo "kube build: ${KUBE_COMMANDS[*]}, etcd and coredns for Kubernetes $KUBE_VERSION into $BIN (first time: many minutes; log in $LOG)"

# --- the pinned k8s.io/kubernetes go.mod --------------------------------------------------------
t0="$(now)"
KUBE_GOMOD="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
[[ -f "$KUBE_GOMOD" ]] || { echo "kube build: could not download k8s.io/kubernetes@$KUBE_VERSION" >&2; exit 1; }
echo "kube build: k8s.io/kubernetes@$KUBE_VERSION downloaded ($(took "$t0"))"

GO_DIRECTIVE="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$KUBE_GOMOD" | head -n1)"
GODEBUG_LINES="$(grep -E '^godebug ' "$KUBE_GOMOD" || true)"
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"   # v1.35.8 -> v0.35.8
# Staging modules: the `k8s.io/NAME => ./staging/src/k8s.io/NAME` lines of kubernetes' replace block.
mapfile -t STAGING < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._/-]*\) => \./staging/src/.*$#\1#p' "$KUBE_GOMOD" | sort -u)
(( ${#STAGING[@]} > 10 )) || { echo "kube build: found no staging replaces in $KUBE_GOMOD" >&2; exit 1; }
ETCD_VERSION="$(sed -n 's#^[[:space:]]*go\.etcd\.io/etcd/server/v3 \(v[0-9][^ ]*\).*$#\1#p' "$KUBE_GOMOD" | head -n1)"
[[ -n "$ETCD_VERSION" ]] || { echo "kube build: no go.etcd.io/etcd/server/v3 requirement in $KUBE_GOMOD" >&2; exit 1; }

# Version information, as Kubernetes' own hack/lib/version.sh stamps it.
KUBE_MINOR="${KUBE_VERSION#v1.}"; KUBE_MINOR="${KUBE_MINOR%%.*}"
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$KUBE_MINOR"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# --- wrapper module for the Kubernetes commands ------------------------------------------------
KMOD="$DIR/src/kubernetes"
mkdir -p "$KMOD"
{
  echo "// Generated by test/kube/build.sh; not part of any repository."
  echo "module xds-ambassador.test/kube-build"
  echo
  echo "go $GO_DIRECTIVE"
  [[ -n "$GODEBUG_LINES" ]] && { echo; echo "$GODEBUG_LINES"; }
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  echo "replace ("
  for mod in "${STAGING[@]}"; do
    echo "	$mod => $mod $STAGING_VERSION"
  done
  echo ")"
} >"$KMOD/go.mod.new"
# Keep go.sum (and the resolved go.mod) from an earlier attempt when nothing changed.
if ! cmp -s "$KMOD/go.mod.new" "$KMOD/go.mod.generated" 2>/dev/null; then
  cp "$KMOD/go.mod.new" "$KMOD/go.mod"
  cp "$KMOD/go.mod.new" "$KMOD/go.mod.generated"
  rm -f "$KMOD/go.sum"
fi
rm -f "$KMOD/go.mod.new"
echo "kube build: wrapper module $KMOD (${#STAGING[@]} staging modules -> $STAGING_VERSION, go $GO_DIRECTIVE)"

mkdir -p "$BIN"
# The stamp is not removed while building: every binary is moved into place whole, and the stamp
# of an earlier build still tells that the binaries it covered are there.

build_kube() { # NAME: builds k8s.io/kubernetes/cmd/NAME into $BIN/NAME (unless it is there)
  local name="$1" t
  [[ -x "$BIN/$name" ]] && return 0
  t="$(now)"
  (cd "$KMOD" && quiet go build -trimpath -tags=selinux,notest -ldflags="$ldflags" \
    -o "$BIN/.$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv -f "$BIN/.$name.tmp" "$BIN/$name"
  echo "kube build: $name $KUBE_VERSION built ($(took "$t"))"
}
for name in "${KUBE_COMMANDS[@]}"; do build_kube "$name"; done

# --- wrapper module for etcd ----------------------------------------------------------------------
if [[ ! -x "$BIN/etcd" || "$(cat "$DIR/etcd.version" 2>/dev/null)" != "$ETCD_VERSION" ]]; then
t0="$(now)"
EMOD="$DIR/src/etcd"
mkdir -p "$EMOD"
cat >"$EMOD/go.mod" <<EOF
// Generated by test/kube/build.sh; not part of any repository.
module xds-ambassador.test/etcd-build

go $GO_DIRECTIVE

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
(cd "$EMOD" && quiet go build -trimpath -ldflags="-s -w" -o "$BIN/.etcd.tmp" go.etcd.io/etcd/server/v3)
mv -f "$BIN/.etcd.tmp" "$BIN/etcd"
echo "$ETCD_VERSION" >"$DIR/etcd.version"
echo "kube build: etcd $ETCD_VERSION built ($(took "$t0"))"
fi

# --- coredns --------------------------------------------------------------------------------------
# The cluster's DNS (test/kube/cluster.ts runs it on the node, as a node-local resolver). CoreDNS's
# own main package links every plugin it ships (cloud DNS providers and their SDKs among them); a
# generated main package instead registers the few a cluster's DNS needs and sets their order, the
# way CoreDNS documents for custom builds (dnsserver.Directives), then calls coremain.Run.
if [[ ! -x "$BIN/coredns" || "$(cat "$DIR/coredns.version" 2>/dev/null)" != "$COREDNS_BUILD" ]]; then
t0="$(now)"
CMOD="$DIR/src/coredns"
mkdir -p "$CMOD"
cat >"$CMOD/go.mod" <<EOF
// Generated by test/kube/build.sh; not part of any repository.
module xds-ambassador.test/coredns-build

go $GO_DIRECTIVE

require github.com/coredns/coredns $COREDNS_VERSION
EOF
{
  echo '// Generated by test/kube/build.sh: CoreDNS with the plugins of a test cluster'"'"'s DNS only.'
  echo 'package main'
  echo
  echo 'import ('
  echo '	"github.com/coredns/coredns/core/dnsserver"'
  echo '	"github.com/coredns/coredns/coremain"'
  for plugin in "${COREDNS_PLUGINS[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$plugin\""; done
  echo ')'
  echo
  echo "func init() { dnsserver.Directives = []string{$(printf '"%s", ' "${COREDNS_PLUGINS[@]}" | sed 's/, $//')} }"
  echo
  echo 'func main() { coremain.Run() }'
} >"$CMOD/main.go"
(cd "$CMOD" && quiet go build -trimpath -ldflags="-s -w" -o "$BIN/.coredns.tmp" .)
mv -f "$BIN/.coredns.tmp" "$BIN/coredns"
echo "$COREDNS_BUILD" >"$DIR/coredns.version"
echo "kube build: coredns $COREDNS_VERSION built ($(took "$t0"))"
fi

"$BIN/kube-apiserver" --version >>"$LOG" 2>&1 || { echo "kube build: $BIN/kube-apiserver does not run" >&2; exit 1; }
"$BIN/etcd" --version >>"$LOG" 2>&1 || { echo "kube build: $BIN/etcd does not run" >&2; exit 1; }
for name in kubelet kube-proxy kube-scheduler kube-controller-manager coredns; do
  "$BIN/$name" --version >>"$LOG" 2>&1 || "$BIN/$name" -version >>"$LOG" 2>&1 || { echo "kube build: $BIN/$name does not run" >&2; exit 1; }
done
touch "$STAMP"
for name in "${KUBE_COMMANDS[@]}"; do echo "$name $KUBE_VERSION: built"; done
echo "etcd $ETCD_VERSION: built"
echo "coredns $COREDNS_VERSION: built"
echo "kube build: done ($(took "$t_all"); $(du -sh "$BIN" | cut -f1) in $BIN)"
