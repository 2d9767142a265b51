# Shared by the gateway benchmarks (source it): the upstream issuer, the bearer token every
# request carries, and the gateway's configuration sections, so every script measures the same
# workload.

# bench_need "PACKAGES" TOOL...: exits with the apt-get line when a tool is missing.
bench_need() {
  local packages=$1
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y $packages)"; exit 1; }
  done
}

# bench_binary: sets $BIN, the release build of this checkout, or SIGNET_BIN to measure another
# build (an A/B run against another commit).
bench_binary() {
  if [ -n "${SIGNET_BIN:-}" ]; then
    BIN=$SIGNET_BIN
  else
    cargo build --release --quiet --bin signet
    BIN="$(pwd)/${CARGO_TARGET_DIR:-target}/release/signet"
    case "${CARGO_TARGET_DIR:-}" in /*) BIN="$CARGO_TARGET_DIR/release/signet" ;; esac
  fi
}

# bench_issuer DIR ALG: writes DIR/idp-key.json and DIR/idp-jwks.json; sets $token (2 h).
bench_issuer() {
  "$BIN" keys generate --alg "$2" >"$1/idp-key.json"
  "$BIN" keys public "$1/idp-key.json" | jq '{keys: [.]}' >"$1/idp-jwks.json"
  token=$("$BIN" sign --key "$1/idp-key.json" --iss https://idp.example --aud gateway --sub user-42 \
    --expires-in 2h -c email=alice@example.com -c 'address={"city":"Lyon","street":"1 rue X"}' \
    -c 'groups=["admin","ops"]' -c tenant=acme)
}

# bench_gateway_sections CACHE BACKEND: [auth_token], [api_session], the identity mapping and the
# applications "orders" (/api: api session, mapping) and "plain" (/plain: session none).
bench_gateway_sections() {
  cat <<TOML
[auth_token]
issuer = "signet-gateway"
signing_algorithm = "ES256"
keyset_file = "gateway-keys.json"
[api_session]
issuer = "https://idp.example"
jwks = "idp-jwks.json"
audience = "gateway"
[[identity_mapping]]
name = "backend-jwt"
header_name = "X-Identity-JWT"
audience = "orders-api"
cache_jwt = $1
lifetime_seconds = 300
attribute_mappings = [
  { user_attribute_name = "sub", jwt_claim_name = "sub", subject = true },
  { user_attribute_name = "email", jwt_claim_name = "email" },
  { user_attribute_name = "address.city", jwt_claim_name = "location.city" },
  { user_attribute_name = "groups", jwt_claim_name = "groups" },
  { user_attribute_name = "tenant", jwt_claim_name = "org" },
]
[[application]]
name = "orders"
context_root = "/api"
backend = "$2"
session = "api"
identity_mapping = "backend-jwt"
[[application]]
name = "plain"
context_root = "/plain"
backend = "$2"
session = "none"
TOML
}
