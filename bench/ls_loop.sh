#!/usr/bin/env bash
# The labeling loop against a real Label Studio from PyPI, on loopback (not part of cargo test):
#   bench/ls_loop.sh [path/to/lsdb]
# Installs label-studio into a venv outside the clone (~/.cache/lsdb/ls-venv), starts it on
# 127.0.0.1 with an API token and local-file serving under /tmp, runs bench/ls_loop.py,
# and stops the server. Exits non-zero when any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
LSDB="${1:-${CARGO_TARGET_DIR:-target}/debug/lsdb}"
PORT="${LS_PORT:-8089}"
source bench/ls_server.sh
start_label_studio "$PORT" loop LOCAL_FILES_SERVING_ENABLED=true LOCAL_FILES_DOCUMENT_ROOT=/tmp
python3 bench/ls_loop.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" --token "$TOKEN" \
    --document-root /tmp
