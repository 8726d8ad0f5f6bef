#!/usr/bin/env bash
# The labeling loop against a real Label Studio from PyPI, on loopback (not part of cargo test):
#   bench/ls_loop.sh [path/to/lsdb]
# Installs label-studio into a venv outside the clone (~/.cache/lsdb/ls-venv), starts it on
# 127.0.0.1 with an API token and local-file serving under /tmp, runs bench/ls_loop.py,
# and stops the server. Exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
LSDB="${1:-${CARGO_TARGET_DIR:-target}/debug/lsdb}"
VENV="${LS_VENV:-$HOME/.cache/lsdb/ls-venv}"
PORT="${LS_PORT:-8089}"
TOKEN="lsdb-loop-$(date +%s)"
DATA="$(mktemp -d /tmp/lsdb-ls-data-XXXXXX)"
if [ ! -x "$VENV/bin/label-studio" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q label-studio
fi
LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
LABEL_STUDIO_USERNAME=loop@example.com LABEL_STUDIO_PASSWORD="$TOKEN" \
LABEL_STUDIO_USER_TOKEN="$TOKEN" \
LOCAL_FILES_SERVING_ENABLED=true LOCAL_FILES_DOCUMENT_ROOT=/tmp \
LABEL_STUDIO_BASE_DATA_DIR="$DATA" \
    "$VENV/bin/label-studio" start --no-browser --port "$PORT" --internal-host 127.0.0.1 \
    --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do
    if curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then break; fi
    sleep 2
done
"$VENV/bin/pip" show label-studio | sed -n 's/^Version: /Label Studio /p'
python3 bench/ls_loop.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" --token "$TOKEN" \
    --document-root /tmp
