# Sourced (not executed) by the project's scripts:
#   source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# Puts the project's pinned tools first on PATH: Node 24 (.tools/node) and Envoy + grpcurl (.tools/bin).
# Sets XDS_ROOT to the repository root. Changes no shell options, so it is safe under `set -euo pipefail`.

XDS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export XDS_ROOT

case ":${PATH}:" in
  ":${XDS_ROOT}/.tools/node/node_modules/node/bin:${XDS_ROOT}/.tools/bin:"*) ;;
  *) export PATH="${XDS_ROOT}/.tools/node/node_modules/node/bin:${XDS_ROOT}/.tools/bin:${PATH}" ;;
esac
