#!/usr/bin/env bash
# Soak runs of the gateway and of signet authz (bench/soak.py; not a timed test: the figures go
# in RELIABILITY.md with this command). Both run at once, each on loopback:
#
#   bench/soak.sh                              # 600 s each: gateway at 200 req/s, authz 50 flows/s
#   SECONDS_EACH=120 GATEWAY_RATE=100 AUTHZ_RATE=20 bench/soak.sh
#
# The gateway run rolls keys every minute, reloads on SIGHUP every 30 s, takes its backend down
# 5 s of every 60 and holds 20 slow clients; the authz run signs on and redeems every flow it
# creates. Each prints a JSON summary (errors by kind, p50/p99, RSS start/warm-up/peak/end).
# Needs python3 with PyJWT[crypto] (tests/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_binary
python3 -c 'import jwt, cryptography' 2>/dev/null \
  || { echo "missing PyJWT (python3 -m pip install 'pyjwt[crypto]')"; exit 1; }
SECONDS_EACH=${SECONDS_EACH:-600}
out=${SOAK_OUT:-$(mktemp -d)}
python3 bench/soak.py gateway "$BIN" "$SECONDS_EACH" "${GATEWAY_RATE:-200}" >"$out/gateway.json" &
gw=$!
python3 bench/soak.py authz "$BIN" "$SECONDS_EACH" "${AUTHZ_RATE:-50}" >"$out/authz.json" &
az=$!
status=0
wait $gw || status=1
wait $az || status=1
cat "$out/gateway.json" "$out/authz.json"
echo "results in $out" >&2
exit $status
