#!/usr/bin/env bash
# Installs what the end-to-end tests need beyond the Rust toolchain, skipping what is already
# there (safe to run again):
#   openssl, kill      the gateway tests make a test PKI and signal the server
#   python3            the gateway attack tests use Python's http.server as a file-serving backend
#   man                the CLI tests render `signet man` pages with `man -l`
#   curl               the gateway's HTTP/2 tests use curl (--http2, --http2-prior-knowledge)
#   grpcio, pyjwt      the gateway's gRPC test: a Python gRPC client and backend (PyPI)
#   chromium           the browser tests (tests/ui.rs) drive Debian's chromium headless
#   node, npm          ... through playwright-core, installed into tests/browser/node_modules;
#                      jsonwebtoken (tests/node), as PingOne's sign-on sample verifies tokens;
#                      and openid-client (tests/node), a real OIDC client driving authz's grants
#   haproxy, ip        the gateway's multi-host test: replicas in network namespaces (iproute2)
#                      behind haproxy (it is skipped, with a message, where ip netns cannot run)
# Debian packages need root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v kill >/dev/null || need+=(procps)
command -v python3 >/dev/null || need+=(python3)
command -v man >/dev/null || need+=(man-db)
command -v curl >/dev/null || need+=(curl)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "tests/setup.sh: installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

python3 -c 'import grpc, jwt' 2>/dev/null || {
  echo "tests/setup.sh: installing grpcio and pyjwt[crypto] (pip)"
  python3 -m pip install --quiet --disable-pip-version-check grpcio 'pyjwt[crypto]' \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
      grpcio 'pyjwt[crypto]'
}

for dir in tests/browser tests/node; do
  lock=$dir/package-lock.json
  stamp=$dir/node_modules/.signet-lock
  if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    cp "$lock" "$stamp"
  fi
done
