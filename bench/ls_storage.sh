#!/usr/bin/env bash
# lsdb's bucket import beside Label Studio's own S3 storage, on one local S3 server (moto)
# (not part of cargo test):   bench/ls_storage.sh [path/to/lsdb]
# Label Studio refuses a storage endpoint on loopback unless SSRF_PROTECTION_ENABLED=false.
# Uses the venvs of the storage tests (moto) and of bench/ls_loop.sh (label-studio).
set -euo pipefail
cd "$(dirname "$0")/.."
LSDB="${1:-${CARGO_TARGET_DIR:-target}/debug/lsdb}"
S3_VENV="$(bash tests/storage/venv.sh)"
LS_VENV="${LS_VENV:-$HOME/.cache/lsdb/ls-venv}"
PORT="${LS_PORT:-8091}"
S3_PORT="${S3_PORT:-5021}"
TOKEN="lsdb-storage-$(date +%s)"
DATA="$(mktemp -d /tmp/lsdb-ls-data-XXXXXX)"
if [ ! -x "$LS_VENV/bin/label-studio" ]; then
    python3 -m venv "$LS_VENV"
    "$LS_VENV/bin/pip" install -q label-studio
fi
"$S3_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DATA/moto.log" 2>&1 &
MOTO=$!
LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
LABEL_STUDIO_USERNAME=storage@example.com LABEL_STUDIO_PASSWORD="$TOKEN" \
LABEL_STUDIO_USER_TOKEN="$TOKEN" LABEL_STUDIO_BASE_DATA_DIR="$DATA" \
    SSRF_PROTECTION_ENABLED=false \
    "$LS_VENV/bin/label-studio" start --no-browser --port "$PORT" --internal-host 127.0.0.1 \
    --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER $MOTO 2>/dev/null || true; wait $SERVER $MOTO 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then break; fi
    sleep 2
done
"$LS_VENV/bin/pip" show label-studio | sed -n 's/^Version: /Label Studio /p'
"$S3_VENV/bin/python" bench/ls_storage.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --s3 "http://127.0.0.1:$S3_PORT"
