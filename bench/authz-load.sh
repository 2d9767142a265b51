#!/usr/bin/env bash
# Load test for `signet authz` (not a timed test; results go in BENCHMARKS.md).
#
# Builds the release binary, starts `signet authz` on loopback with the default max_flows
# (100000), and floods GET /env-1/as/authorize (response_mode=pi.flow, an HS256 request object
# carrying the seed's transaction) with a small Rust load generator
# (crates/authz/examples/authz_load.rs: exactly N requests over keep-alive connections),
# STEP requests at a time up to TOTAL. Every request creates a flow. After each step it prints
# the step's requests/s and the server's resident memory (VmRSS from /proc/PID/status): memory
# plateaus once max_flows is reached (the least recently used flow is evicted).
#
#   bench/authz-load.sh                          # 1,000,000 flows, RSS every 100,000
#   TOTAL=200000 STEP=50000 bench/authz-load.sh
#
# Only loopback traffic; each step stops after its request count.
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL=${TOTAL:-1000000}
STEP=${STEP:-100000}
CONNECTIONS=${CONNECTIONS:-64}
CLIENT_THREADS=${CLIENT_THREADS:-1}

cargo build --release --quiet --bin signet
cargo build --release --quiet -p authz --example authz_load
BIN="${CARGO_TARGET_DIR:-target}/release/signet"
LOAD="${CARGO_TARGET_DIR:-target}/release/examples/authz_load"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

SECRET="load-test-secret-long-enough-for-hs256"
cat >"$work/authz.toml" <<TOML
[[environment]]
id = "env-1"
[[environment.application]]
client_id = "app-1"
client_secret = "$SECRET"
redirect_uris = ["https://app.example/cb"]
[[environment.user]]
id = "user-1"
username = "charlie"
password = "pw"
devices = [{ id = "dev-1", type = "SMS", phone = "+15550100" }]
[[environment.template]]
name = "transaction"
delivery = "SMS"
body = "Approve this transfer of \${sum} \${currency} to \${recipient}, by entering this OTP: \${OTP}"
TOML

env -u SIGNET_NOW "$BIN" authz --config "$work/authz.toml" --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
base=$(sed -n 's/^signet authz listening on //p' "$work/server.out")
[ -n "$base" ] || { echo "the server did not start:"; cat "$work/server.err"; exit 1; }

request=$(env -u SIGNET_NOW "$BIN" request-object --env env-1 --client-id app-1 --secret "$SECRET" \
  --template transaction --var sum=1,000,000 --var currency=USD --var "recipient=Charlie Parker" \
  --context alert.color=red --expires-in 2h)
url="$base/env-1/as/authorize?client_id=app-1&response_type=code&response_mode=pi.flow&state=s&request=$request"

rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$server_pid/status"; }
echo "signet authz at $base (pid $server_pid), RSS at start: $(rss)"
echo "request URL: ${#url} bytes; $CONNECTIONS connections, $CLIENT_THREADS client thread(s); $(nproc) CPUs shared by client and server"

sent=0
while [ "$sent" -lt "$TOTAL" ]; do
  n=$STEP
  [ $((sent + n)) -gt "$TOTAL" ] && n=$((TOTAL - sent))
  line=$("$LOAD" "$url" "$n" "$CONNECTIONS" "$CLIENT_THREADS")
  sent=$((sent + n))
  rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$line")
  bad=$(sed -n 's/.*non200=\([0-9]*\).*/\1/p' <<<"$line")
  printf "after %8d flows: %6s requests/s, non-200: %s, server RSS %s\n" "$sent" "$rps" "$bad" "$(rss)"
done
echo "peak RSS: $(awk '/^VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$server_pid/status")"
