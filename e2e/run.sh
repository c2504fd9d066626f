#!/usr/bin/env bash
# Browser end-to-end journey. Usage: e2e/run.sh   (XINJIAN_BIN=/path/to/xinjian to choose
# the binary; default ../target/debug/xinjian, or $CARGO_TARGET_DIR/debug/xinjian).
set -euo pipefail

# A relative XINJIAN_BIN means relative to the caller's directory, not to e2e/.
if [[ -n "${XINJIAN_BIN:-}" && "${XINJIAN_BIN}" != /* ]]; then
  XINJIAN_BIN="$PWD/$XINJIAN_BIN"
fi
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ -z "${XINJIAN_BIN:-}" && -n "${CARGO_TARGET_DIR:-}" ]]; then
  XINJIAN_BIN="$CARGO_TARGET_DIR/debug/xinjian"
fi
export XINJIAN_BIN="${XINJIAN_BIN:-$PWD/../target/debug/xinjian}"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "e2e: Chromium not found at $CHROMIUM." >&2
  echo "     Install it with: apt-get install -y chromium fonts-noto-cjk" >&2
  exit 1
fi
export CHROMIUM
if [[ ! -x "$XINJIAN_BIN" ]]; then
  echo "e2e: xinjian binary not found at $XINJIAN_BIN." >&2
  echo "     Build it with: (cd .. && cargo build -p xinjian), or set XINJIAN_BIN." >&2
  exit 1
fi

if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

npm test
