#!/usr/bin/env bash
# Builds the fuzz targets and runs each for SECONDS (default 20) on its committed corpus,
# without growing it (new inputs go to a scratch directory). Exits non-zero on the first crash,
# leaving the input in fuzz/artifacts/. Usage: fuzz/run.sh [SECONDS] [TARGET...]
# The targets need libFuzzer's nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take
# them (see fuzz/README.md).
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --debug-assertions 2>&1 | tail -1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
mkdir -p artifacts
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  log=$(mktemp)
  if ! "$bin/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="artifacts/$t-" "$scratch" "corpus/$t" </dev/null >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t FAILED (input in fuzz/artifacts/)" >&2
    exit 1
  fi
  stats=$(grep -E "^#[0-9]+.*DONE" "$log" | tail -1)
  echo "fuzz $t: ${seconds}s, ${stats}"
  rm -rf "$scratch" "$log"
done
