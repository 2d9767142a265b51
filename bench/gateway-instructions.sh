#!/usr/bin/env bash
# User-space instructions per request of `signet gateway` (valgrind --tool=callgrind): repeatable
# on a shared machine, unlike requests/s. Results go in BENCHMARKS.md ("signet gateway").
#
# A backend (nginx `return 200`, its own process) and the gateway under callgrind with one worker
# (SIGNET_GATEWAY_WORKERS=1) and instrumentation off; a warm-up with wrk, then instrumentation on
# for a fixed run of wrk -t1 -c4, off again, and the instructions counted (Ir) divided by the
# requests wrk made. Targets: gw-cache (api session, identity mapping, JWT cache) and gw-plain
# (session none, no mapping).
#
#   bench/gateway-instructions.sh                         # this checkout's release build
#   SIGNET_BIN=/path/to/other/signet bench/gateway-instructions.sh   # another build (A/B)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

DURATION=${DURATION:-10s}
PORT_BACKEND=${PORT_BACKEND:-18491}
bench_need "nginx wrk valgrind curl jq" nginx wrk valgrind callgrind_control curl jq
bench_binary

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/backend/logs" "$work/backend/tmp"
cat >"$work/backend/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/backend/nginx.pid;
error_log $work/backend/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/backend/tmp/body;
  proxy_temp_path $work/backend/tmp/proxy;
  fastcgi_temp_path $work/backend/tmp/fastcgi;
  uwsgi_temp_path $work/backend/tmp/uwsgi;
  scgi_temp_path $work/backend/tmp/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT_BACKEND; location / { return 200 "ok\n"; } }
}
NGINX
nginx -c "$work/backend/nginx.conf" -p "$work/backend" &
pids+=($!)

gw="$work/gateway"
mkdir -p "$gw"
bench_issuer "$gw" RS256
{
  printf '[listen]\nhttp = "127.0.0.1:0"\n'
  bench_gateway_sections true "http://127.0.0.1:$PORT_BACKEND"
} >"$gw/gateway.toml"

SIGNET_GATEWAY_WORKERS=1 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/callgrind.out" "$BIN" gateway --config "$gw/gateway.toml" \
  >"$work/gw.out" 2>"$work/gw.err" &
vg=$!
pids+=("$vg")
for _ in $(seq 1 300); do grep -q "listening on" "$work/gw.out" 2>/dev/null && break; sleep 0.2; done
base=$(sed -n 's/^signet gateway listening on //p' "$work/gw.out")
[ -n "$base" ] || { echo "the gateway did not start:"; cat "$work/gw.err"; exit 1; }

measure() { # $1 = path; prints Ir per request
  wrk -t1 -c4 -d3s -H "Authorization: Bearer $token" "$base$1" >/dev/null   # warm-up
  callgrind_control -z "$vg" >/dev/null
  callgrind_control -i on "$vg" >/dev/null
  out=$(wrk -t1 -c4 -d"$DURATION" -H "Authorization: Bearer $token" "$base$1")
  callgrind_control -i off "$vg" >/dev/null
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  callgrind_control -d "$vg" >/dev/null
  sleep 1
  ir=$(cat "$work"/callgrind.out* | awk '/^(summary|totals):/ {s += $2} END {print s + 0}')
  # KEEP=DIR keeps each profile for callgrind_annotate.
  if [ -n "${KEEP:-}" ]; then cat "$work"/callgrind.out* >"$KEEP/$(tr / _ <<<"$1").callgrind"; fi
  rm -f "$work"/callgrind.out*
  echo "$1 $requests $ir" | awk '{printf "%s: %d requests, %.0f Ir/request\n", $1, $2, $3 / $2}'
}
measure /api/orders
measure /plain/orders
