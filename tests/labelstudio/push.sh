#!/usr/bin/env bash
# `lsdb push` against Label Studio 1.23.2 (run by .ci/run):
#   tests/labelstudio/push.sh LSDB
# Starts Label Studio (bench/ls_server.sh: its venv in ~/.cache/lsdb/ls-venv, installed when
# missing) on 127.0.0.1 with a legacy token and local-file serving rooted at a temp folder,
# and a local S3 (moto), and runs tests/labelstudio/push.py there. The server and its data go when the script exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
LSDB="$(realpath "$1")"
PORT="${LS_PORT:-8098}"
WORK="$(mktemp -d /tmp/lsdb-push-XXXXXX)"
source bench/ls_server.sh
trap 'kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; wait "${CLEANUP_PIDS[@]}" 2>/dev/null || true; rm -rf "$DATA" "$WORK"' EXIT
# A local S3 (moto, from the storage tests' venv, whose Python runs push.py for boto3) for
# bucket media; Label Studio refuses a storage endpoint on loopback unless
# SSRF_PROTECTION_ENABLED=false.
S3_VENV="$(bash tests/storage/venv.sh)"
S3_PORT="${S3_PORT:-5098}"
"$S3_VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
start_label_studio "$PORT" push LOCAL_FILES_SERVING_ENABLED=true LOCAL_FILES_DOCUMENT_ROOT="$WORK" \
    SSRF_PROTECTION_ENABLED=false
CLEANUP_PIDS+=("$MOTO_PID")
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "Label Studio did not answer on port $PORT; its log:" >&2
    tail -n 30 "$DATA/server.log" >&2
    exit 1
fi
"$S3_VENV/bin/python" tests/labelstudio/push.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --work "$WORK" --s3 "http://127.0.0.1:$S3_PORT"
