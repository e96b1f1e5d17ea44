#!/usr/bin/env bash
# Certificates for deploy/ without cert-manager: a CA, the control plane's serving certificate
# (xds-ambassador.xds-system.svc, used by the xDS port and the admission webhook), and, with kubectl:
#   - Secret xds-system/xds-ambassador-tls (tls.crt, tls.key, ca.crt) that the control plane mounts;
#   - ConfigMap xds-ambassador-ca (ca.crt) in each app namespace, which the Envoy sidecars trust;
#   - the admission webhook's caBundle (when the webhook configuration exists).
#
#   scripts/deploy-certs.sh [--namespace NS]... [--out DIR] [--days N]
#
# --namespace: app namespaces that get the CA (default: demo, the example app's). Run it again to
# renew: the CA in DIR is kept (so sidecars keep trusting it) and the serving certificate replaced;
# the control plane picks it up without a restart. The CA key stays in DIR (default
# ./xds-ambassador-certs, created with mode 700): keep it safe, or delete it and start over.
# Uses $KUBECTL (default kubectl) and the current kubeconfig.
set -euo pipefail

KUBECTL="${KUBECTL:-kubectl}"
OUT=./xds-ambassador-certs
DAYS=365
NAMESPACES=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --namespace) NAMESPACES+=("$2"); shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --days) DAYS="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "deploy-certs: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ ${#NAMESPACES[@]} -gt 0 ]] || NAMESPACES=(demo)
command -v openssl >/dev/null || { echo "deploy-certs: openssl is needed" >&2; exit 1; }

mkdir -p "$OUT"
chmod 700 "$OUT"
cd "$OUT"
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
if [[ ! -f ca.key || ! -f ca.crt ]]; then
  openssl req -x509 "${EC[@]}" -sha256 -days 3650 -keyout ca.key -out ca.crt \
    -subj "/O=xds-ambassador/CN=xds-ambassador CA" \
    -addext basicConstraints=critical,CA:TRUE,pathlen:0 -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  echo "deploy-certs: new CA in $OUT/ca.crt"
fi
cat > server.ext <<'EXT'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:xds-ambassador.xds-system.svc,DNS:xds-ambassador.xds-system.svc.cluster.local,DNS:xds-ambassador.xds-system
EXT
openssl req -new "${EC[@]}" -keyout tls.key -out tls.csr -subj "/O=xds-ambassador/CN=xds-ambassador.xds-system.svc" 2>/dev/null
openssl x509 -req -in tls.csr -sha256 -days "$DAYS" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
  -extfile server.ext -out tls.crt 2>/dev/null
rm -f tls.csr server.ext
echo "deploy-certs: serving certificate for xds-ambassador.xds-system.svc in $OUT/tls.crt (valid $DAYS days)"

apply() { "$KUBECTL" apply -f - >/dev/null; }
"$KUBECTL" create namespace xds-system --dry-run=client -o yaml | apply
"$KUBECTL" -n xds-system create secret generic xds-ambassador-tls --type=kubernetes.io/tls \
  --from-file=tls.crt --from-file=tls.key --from-file=ca.crt --dry-run=client -o yaml | apply
echo "deploy-certs: Secret xds-system/xds-ambassador-tls"
for ns in "${NAMESPACES[@]}"; do
  "$KUBECTL" create namespace "$ns" --dry-run=client -o yaml | apply
  "$KUBECTL" -n "$ns" create configmap xds-ambassador-ca --from-file=ca.crt --dry-run=client -o yaml | apply
  echo "deploy-certs: ConfigMap $ns/xds-ambassador-ca"
done
if "$KUBECTL" get validatingwebhookconfiguration xds-ambassador >/dev/null 2>&1; then
  bundle="$(base64 -w0 < ca.crt)"
  "$KUBECTL" patch validatingwebhookconfiguration xds-ambassador --type=json \
    -p "[{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$bundle\"}]" >/dev/null
  echo "deploy-certs: caBundle of ValidatingWebhookConfiguration xds-ambassador"
else
  echo "deploy-certs: no ValidatingWebhookConfiguration xds-ambassador yet: run this again after kubectl apply -k deploy/ to set its caBundle"
fi
