#!/usr/bin/env bash
# Load test for `signet gateway` (not a timed test; results go in BENCHMARKS.md, "signet gateway").
#
# One run, one backend, seven targets, each hit with the same wrk settings:
#   direct       wrk -> backend (nginx `return 200 "ok\n"` on its own port)
#   nginx        wrk -> nginx reverse proxy (keepalive upstream, HTTP/1.1) -> backend
#   gw-cache     wrk -> signet gateway (api session + identity mapping, cache_jwt = true)  -> backend
#   gw-nocache   wrk -> signet gateway (same, cache_jwt = false: one ES256 signature per request) -> backend
#   gw-plain     wrk -> the same gateway, an application with session = "none" and no mapping (proxying alone)
#   nginx-tls    wrk -> nginx `proxy_pass https://` (keepalive, session reuse, verified) -> TLS backend
#   gw-cache-tls wrk -> the gateway's gw-cache application on an https:// backend (backend_ca) -> TLS backend
# The fair setup: the backend is its own nginx process (BACKEND_WORKERS, default 1); nginx as the
# proxy is another (worker_processes $NGINX_WORKERS, default 2, one per CPU of this box); each
# gateway runs as many worker threads (SIGNET_GATEWAY_WORKERS). Every request, on every target,
# carries the same upstream bearer token (RS256 by default, IDP_ALG), checked by the gateway each time.
# Each target gets a warm-up run, the measured saturated run (-cCONNECTIONS), an unloaded run
# (-t1 -c1: service time without queueing), then fixed-rate runs with oha, one per rate in RATES
# (requests/s over CONNECTIONS connections, --latency-correction: latency counted from when each
# request was due, so every target is compared at the same offered load); the whole set is repeated
# ROUNDS times. Without oha (cargo install oha) the fixed-rate runs are skipped.
#
#   bench/gateway-load.sh
#   ROUNDS=3 DURATION=30s CONNECTIONS=128 RATES="10000 30000" bench/gateway-load.sh
#   TARGETS="nginx gw-cache" TLS=0 SIGNET_BIN=/path/to/other/signet bench/gateway-load.sh   # A/B
#
# Loopback only; bounded: build + ROUNDS x 5 x (WARMUP + DURATION + LAT_DURATION + #RATES x RATE_DURATION).
# Everything started is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-15s}
WARMUP=${WARMUP:-3s}
LAT_DURATION=${LAT_DURATION:-8s}
RATES=${RATES:-5000 20000}
RATE_DURATION=${RATE_DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-2}
IDP_ALG=${IDP_ALG:-RS256}
PORT_BACKEND=${PORT_BACKEND:-18481}
PORT_NGINX=${PORT_NGINX:-18482}
PORT_BACKEND_TLS=${PORT_BACKEND_TLS:-18483}
BACKEND_WORKERS=${BACKEND_WORKERS:-1}
TLS=${TLS:-1}   # 0: no https-backend targets (for a binary without https backends)

bench_need "nginx wrk jq curl openssl" nginx wrk jq curl openssl
OHA=$(command -v oha || true)
[ -n "$OHA" ] || [ ! -x "$HOME/.cargo/bin/oha" ] || OHA="$HOME/.cargo/bin/oha"
[ -n "$OHA" ] || echo "oha not found (cargo install oha): the fixed-rate runs are skipped"

# The gateway is built with the workspace's release profile: fat LTO and one codegen unit
# (LTO=0 turns them off for a comparison).
if [ "${LTO:-1}" = 0 ]; then
  export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
fi
bench_binary

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do timeout 35 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the backend: its own nginx process (plain on PORT_BACKEND, TLS on PORT_BACKEND_TLS) -----------
# The proxies under test (nginx, signet gateway) run in other processes, so none shares a
# process, a worker or a connection pool with the backend.
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=bench CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign \
  -keyout "$work/tls/ca.key" -out "$work/tls/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/tls/backend.key" -out "$work/tls/backend.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/tls/backend.ext"
openssl x509 -req -in "$work/tls/backend.csr" -CA "$work/tls/ca.pem" -CAkey "$work/tls/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/tls/backend.ext" -out "$work/tls/backend.pem" 2>/dev/null
nginx_common() { # $1 = prefix directory
  cat <<NGINX
daemon off;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
NGINX
}
nginx_http_common() { # $1 = prefix directory
  cat <<NGINX
  access_log off;
  client_body_temp_path $1/tmp/body;
  proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi;
  uwsgi_temp_path $1/tmp/uwsgi;
  scgi_temp_path $1/tmp/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
NGINX
}
for d in backend nginx; do mkdir -p "$work/$d/logs" "$work/$d/tmp"; done
{
  nginx_common "$work/backend"
  echo "worker_processes $BACKEND_WORKERS;"
  echo "http {"
  nginx_http_common "$work/backend"
  cat <<NGINX
  server {
    listen 127.0.0.1:$PORT_BACKEND;
    default_type text/plain;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$PORT_BACKEND_TLS ssl;
    ssl_certificate $work/tls/backend.pem;
    ssl_certificate_key $work/tls/backend.key;
    default_type text/plain;
    location / { return 200 "ok\n"; }
  }
}
NGINX
} >"$work/backend/nginx.conf"
nginx -c "$work/backend/nginx.conf" -p "$work/backend" &
pids+=($!)

# --- nginx as the plain reverse proxy (its own process): to the plain and to the TLS backend --------
{
  nginx_common "$work/nginx"
  echo "worker_processes $NGINX_WORKERS;"
  echo "http {"
  nginx_http_common "$work/nginx"
  cat <<NGINX
  upstream backend {
    server 127.0.0.1:$PORT_BACKEND;
    keepalive 128;
    keepalive_requests 1000000;
  }
  upstream backend_tls {
    server 127.0.0.1:$PORT_BACKEND_TLS;
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$PORT_NGINX;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location /tls/ {
      proxy_pass https://backend_tls;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_trusted_certificate $work/tls/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name 127.0.0.1;
      proxy_ssl_session_reuse on;
    }
  }
}
NGINX
} >"$work/nginx/nginx.conf"
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

# --- upstream issuer: key, JWK Set, one bearer token reused on every request --------------------------
gw="$work/gateway"
mkdir -p "$gw"
bench_issuer "$gw" "$IDP_ALG"

gateway_config() { # $1 = cache_jwt
  printf '[listen]\nhttp = "127.0.0.1:0"\n'
  bench_gateway_sections "$1" "http://127.0.0.1:$PORT_BACKEND"
  if [ "$TLS" = 1 ]; then
    cat <<TOML
[[application]]
name = "orders-tls"
context_root = "/tls"
backend = "https://127.0.0.1:$PORT_BACKEND_TLS"
backend_ca = "$work/tls/ca.pem"
session = "api"
identity_mapping = "backend-jwt"
TOML
  fi
}
gateway_config true >"$gw/cache-on.toml"
gateway_config false >"$gw/cache-off.toml"

start_gateway() { # $1 = config name; sets gw_pid and gw_base
  "$BIN" gateway --check "$gw/$1.toml" >/dev/null
  SIGNET_GATEWAY_WORKERS=$NGINX_WORKERS "$BIN" gateway --config "$gw/$1.toml" >"$work/$1.out" 2>"$work/$1.err" &
  gw_pid=$!
  pids+=("$gw_pid")
  for _ in $(seq 1 100); do grep -q "listening on" "$work/$1.out" 2>/dev/null && break; sleep 0.1; done
  gw_base=$(sed -n 's/^signet gateway listening on //p' "$work/$1.out")
  [ -n "$gw_base" ] || { echo "gateway $1 did not start:"; cat "$work/$1.err"; exit 1; }
}
start_gateway cache-on;  base_on=$gw_base
start_gateway cache-off; base_off=$gw_base

for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$PORT_NGINX/" >/dev/null 2>&1 && break; sleep 0.1; done

declare -A url=(
  [direct]="http://127.0.0.1:$PORT_BACKEND/api/orders"
  [nginx]="http://127.0.0.1:$PORT_NGINX/api/orders"
  [gw-cache]="$base_on/api/orders"
  [gw-nocache]="$base_off/api/orders"
  [gw-plain]="$base_on/plain/orders"
  [nginx-tls]="http://127.0.0.1:$PORT_NGINX/tls/orders"
  [gw-cache-tls]="$base_on/tls/orders"
)
targets=(direct nginx gw-cache gw-nocache gw-plain)
[ "$TLS" = 1 ] && targets+=(nginx-tls gw-cache-tls)
[ -z "${TARGETS:-}" ] || read -r -a targets <<<"$TARGETS"

# Sanity: every target answers 200 "ok", and the gateway really maps (401 without the token).
for t in "${targets[@]}"; do
  body=$(curl -fsS -H "Authorization: Bearer $token" "${url[$t]}") || { echo "$t: request failed"; exit 1; }
  [ "$body" = "ok" ] || { echo "$t: unexpected body '$body'"; exit 1; }
done
code=$(curl -s -o /dev/null -w '%{http_code}' "${url[gw-cache]}")
[ "$code" = 401 ] || { echo "gateway without a token answered $code, expected 401"; exit 1; }

to_ms() { # wrk latency ("812.00us", "1.23ms", "1.01s") -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                         else if (v ~ /s$/) n *= 1000; else if (v ~ /m$/) n *= 60000; printf "%.3f", n }'
}

echo "signet gateway load: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency (warm-up $WARMUP each);" \
  "nginx worker_processes $NGINX_WORKERS; $(nproc) CPUs shared by wrk, proxy and backend"
echo "bearer: $IDP_ALG upstream token, ${#token} bytes, same on every request and every target"
results="$work/results"
fixed_results="$work/fixed"
: >"$results"
: >"$fixed_results"
for round in $(seq 1 "$ROUNDS"); do
  for t in "${targets[@]}"; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -H "Authorization: Bearer $token" "${url[$t]}" >/dev/null
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" "${url[$t]}")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    errs=$(awk '/Socket errors:/ {print $0}' <<<"$out")
    [ -z "$bad" ] || echo "WARNING round $round $t: $bad non-2xx responses"
    [ -z "$errs" ] || echo "WARNING round $round $t: $errs"
    # Service time without queueing: one connection, one request at a time.
    lat=$(wrk -t1 -c1 -d"$LAT_DURATION" --latency -H "Authorization: Bearer $token" "${url[$t]}")
    l50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$lat")")
    l99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$lat")")
    # The same offered load on every target: RATES requests/s, latency from each request's due time.
    for rate in $RATES; do
      [ -n "$OHA" ] || break
      fixed=$("$OHA" -z "$RATE_DURATION" -q "$rate" -c "$CONNECTIONS" --latency-correction --no-tui \
        --output-format json -H "Authorization: Bearer $token" "${url[$t]}")
      f50=$(jq '.latencyPercentiles.p50 * 1000' <<<"$fixed")
      f99=$(jq '.latencyPercentiles.p99 * 1000' <<<"$fixed")
      f999=$(jq '.latencyPercentiles["p99.9"] * 1000' <<<"$fixed")
      frps=$(jq '.summary.requestsPerSec' <<<"$fixed")
      fbad=$(jq '[.statusCodeDistribution | to_entries[] | select(.key != "200") | .value] | add // 0' <<<"$fixed")
      [ "$fbad" = 0 ] || echo "WARNING round $round $t: $fbad non-200 responses at $rate req/s"
      awk -v a="$frps" -v r="$rate" 'BEGIN { exit !(a < 0.95 * r) }' \
        && echo "WARNING round $round $t: fixed rate $rate not sustained ($frps req/s)"
      echo "$rate $round $t $f50 $f99 $f999 $frps" >>"$fixed_results"
    done
    echo "$round $t $rps $p50 $p99 $l50 $l99" >>"$results"
  done
done

echo
echo "Saturated: wrk -t$THREADS -c$CONNECTIONS -d$DURATION. Unloaded: wrk -t1 -c1 -d$LAT_DURATION (service time, no queueing)."
echo "Fixed rate: oha -q RATE -c $CONNECTIONS -z $RATE_DURATION --latency-correction, RATE in: $RATES (same offered load on every target). Latencies in ms."
echo
echo "| round | target | req/s | req/s vs nginx | p50 | p99 | p99 added over direct | unloaded p50 | unloaded p99 | unloaded p99 added over direct |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{ r[$1","$2] = $3; p99[$1","$2] = $5; l99[$1","$2] = $7; row[NR] = $0 }
  END { for (i = 1; i <= NR; i++) { split(row[i], f, " ");
          d = p99[f[1]",direct"]; ld = l99[f[1]",direct"]; n = r[f[1]",nginx"];
          printf "| %s | %s | %.0f | %.2f | %.3f | %.3f | %s | %.3f | %.3f | %s |\n", f[1], f[2], f[3], f[3] / n,
                 f[4], f[5], (f[2] == "direct" ? "-" : sprintf("%+.3f", f[5] - d)),
                 f[6], f[7], (f[2] == "direct" ? "-" : sprintf("%+.3f", f[7] - ld)) } }' "$results"
if [ -n "$OHA" ]; then
  echo
  echo "| offered req/s | round | target | achieved req/s | p50 | p99 | p99.9 | p99 added over direct | p99 added over nginx |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|"
  # Grouped by rate, then round, in the order run.
  sort -s -n -k1,1 "$fixed_results" | awk '{ f99[$1","$2","$3] = $5; row[NR] = $0 }
    END { for (i = 1; i <= NR; i++) { split(row[i], f, " ");
            d = f99[f[1]","f[2]",direct"]; n = f99[f[1]","f[2]",nginx"];
            printf "| %s | %s | %s | %.0f | %.3f | %.3f | %.3f | %s | %s |\n", f[1], f[2], f[3], f[7],
                   f[4], f[5], f[6], (f[3] == "direct" ? "-" : sprintf("%+.3f", f[5] - d)),
                   (f[3] == "direct" || f[3] == "nginx" ? "-" : sprintf("%+.3f", f[5] - n)) } }'
fi
