#!/usr/bin/env bash
# lsdb's bucket import beside Label Studio's own S3 storage, on one local S3 server (moto)
# (not part of cargo test):   bench/ls_storage.sh [path/to/lsdb]
# Label Studio refuses a storage endpoint on loopback unless SSRF_PROTECTION_ENABLED=false.
# Uses the venvs of the storage tests (moto) and of bench/ls_loop.sh (label-studio).
set -euo pipefail
cd "$(dirname "$0")/.."
LSDB="${1:-${CARGO_TARGET_DIR:-target}/debug/lsdb}"
S3_VENV="$(bash tests/storage/venv.sh)"
PORT="${LS_PORT:-8091}"
S3_PORT="${S3_PORT:-5021}"
source bench/ls_server.sh
"$S3_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DATA/moto.log" 2>&1 &
CLEANUP_PIDS+=($!)
start_label_studio "$PORT" storage SSRF_PROTECTION_ENABLED=false
"$S3_VENV/bin/python" bench/ls_storage.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --s3 "http://127.0.0.1:$S3_PORT"
