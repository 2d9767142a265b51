#!/usr/bin/env bash
# HTTP/2 load for `signet gateway` vs nginx (`listen … http2`, cleartext HTTP/2 with prior
# knowledge on both), with h2load from Debian's nghttp2-client. Results go in BENCHMARKS.md.
#
# The fair setup of bench/gateway-load.sh: the backend (nginx `return 200`, HTTP/1.1) is its own
# process; nginx as the proxy is another (worker_processes $WORKERS); the gateway runs as many
# workers (SIGNET_GATEWAY_WORKERS) and speaks HTTP/1.1 to the same backend. Targets:
#   nginx-h2    h2load -> nginx (h2c) -> backend
#   gw-h2       h2load -> gateway h2c listener, api session + identity mapping, cache on -> backend
#   gw-h2-plain h2load -> the same gateway, session none (proxying alone)
# Every request carries the same RS256 bearer token.
#
#   bench/gateway-h2.sh
#   ROUNDS=3 DURATION=20 CLIENTS=64 STREAMS=10 bench/gateway-h2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-64}
STREAMS=${STREAMS:-10}
WORKERS=${WORKERS:-2}
PORT_BACKEND=${PORT_BACKEND:-18581}
PORT_NGINX=${PORT_NGINX:-18582}
bench_need "nginx nghttp2-client jq" nginx h2load jq
bench_binary

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT

nginx_conf() { # $1 = prefix, $2 = workers, $3 = server blocks
  cat <<NGINX
daemon off;
worker_processes $2;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
$3
}
NGINX
}
for d in backend nginx; do mkdir -p "$work/$d/logs" "$work/$d/tmp"; done
nginx_conf "$work/backend" 1 "  server { listen 127.0.0.1:$PORT_BACKEND; location / { return 200 \"ok\\n\"; } }" \
  >"$work/backend/nginx.conf"
nginx_conf "$work/nginx" "$WORKERS" "  upstream backend { server 127.0.0.1:$PORT_BACKEND; keepalive 128; }
  server {
    listen 127.0.0.1:$PORT_NGINX http2;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
  }" >"$work/nginx/nginx.conf"
nginx -c "$work/backend/nginx.conf" -p "$work/backend" &
pids+=($!)
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

gw="$work/gateway"
mkdir -p "$gw"
bench_issuer "$gw" RS256
{
  printf '[listen]\nh2c = "127.0.0.1:0"\n[http2]\nmax_concurrent_streams = 128\n'
  bench_gateway_sections true "http://127.0.0.1:$PORT_BACKEND"
} >"$gw/gateway.toml"
SIGNET_GATEWAY_WORKERS=$WORKERS "$BIN" gateway --config "$gw/gateway.toml" >"$work/gw.out" 2>"$work/gw.err" &
pids+=($!)
for _ in $(seq 1 100); do grep -q "listening on" "$work/gw.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^signet gateway listening on h2c:\/\///p' "$work/gw.out")
[ -n "$base" ] || { echo "the gateway did not start:"; cat "$work/gw.err"; exit 1; }
sleep 0.5

declare -A url=(
  [nginx-h2]="http://127.0.0.1:$PORT_NGINX/api/orders"
  [gw-h2]="http://$base/api/orders"
  [gw-h2-plain]="http://$base/plain/orders"
)
targets=(nginx-h2 gw-h2 gw-h2-plain)
echo "h2load -t2 -c$CLIENTS -m$STREAMS -D $DURATION (h2c prior knowledge); workers $WORKERS; $(nproc) CPUs shared"
echo
echo "| round | target | req/s | vs nginx-h2 | mean ms | non-2xx |"
echo "|---|---|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  declare -A rps=()
  for t in "${targets[@]}"; do
    h2load -t2 -c"$CLIENTS" -m"$STREAMS" -D 2 -H "authorization: Bearer $token" "${url[$t]}" >/dev/null
    out=$(h2load -t2 -c"$CLIENTS" -m"$STREAMS" -D "$DURATION" -H "authorization: Bearer $token" "${url[$t]}")
    rps[$t]=$(awk '/^finished in/ {for (i = 1; i <= NF; i++) if ($i ~ /req\/s/) print $(i-1)}' <<<"$out" | tr -d ',')
    mean=$(awk '/^time for request:/ {print $(NF-2)}' <<<"$out")
    bad=$(awk '/^status codes:/ {gsub(",", ""); print $5 + $7 + $9}' <<<"$out")
    ratio=$(awk -v a="${rps[$t]}" -v n="${rps[nginx-h2]}" 'BEGIN { printf "%.2f", a / n }')
    echo "| $round | $t | ${rps[$t]} | $ratio | $mean | $bad |"
  done
done
