#!/usr/bin/env bash
# `lsdb push` against Label Studio 1.23.2 (run by .ci/run):
#   tests/labelstudio/push.sh LSDB
# Starts Label Studio (bench/ls_server.sh: its venv in ~/.cache/lsdb/ls-venv, installed when
# missing) on 127.0.0.1 with a legacy token and local-file serving rooted at a temp folder,
# and runs tests/labelstudio/push.py there. The server and its data go when the script exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
LSDB="$(realpath "$1")"
PORT="${LS_PORT:-8098}"
WORK="$(mktemp -d /tmp/lsdb-push-XXXXXX)"
source bench/ls_server.sh
trap 'kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; wait "${CLEANUP_PIDS[@]}" 2>/dev/null || true; rm -rf "$DATA" "$WORK"' EXIT
start_label_studio "$PORT" push LOCAL_FILES_SERVING_ENABLED=true LOCAL_FILES_DOCUMENT_ROOT="$WORK"
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "Label Studio did not answer on port $PORT; its log:" >&2
    tail -n 30 "$DATA/server.log" >&2
    exit 1
fi
python3 tests/labelstudio/push.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --work "$WORK"
