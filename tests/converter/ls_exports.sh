#!/usr/bin/env bash
# Remakes the real Label Studio exports the training-format comparisons read (not part of
# cargo test or CI):
#   tests/converter/ls_exports.sh [CASE ...]
# Starts Label Studio (bench/ls_server.sh: its venv in ~/.cache/lsdb/ls-venv, installed when
# missing) on 127.0.0.1 with local-file serving rooted at fixtures/, and runs
# tests/converter/ls_exports.py with the venv's Python. That one makes a project per case
# (bbox, polygons, keypoints, ner, brush, asr; all when none is named) through the API and
# writes fixtures/label_studio/ls_<version>_<case>_export.json and ls_<version>_<case>.xml,
# plus the media under fixtures/media/ when missing. Each run starts from an empty Label
# Studio, so rerunning rewrites the same files (new timestamps, the same ids). The server
# stops and its data folder goes when the script exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${LS_PORT:-8093}"
ROOT_DIR="$PWD/fixtures"
source bench/ls_server.sh
start_label_studio "$PORT" exports LOCAL_FILES_SERVING_ENABLED=true \
    LOCAL_FILES_DOCUMENT_ROOT="$ROOT_DIR"
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "Label Studio did not answer on port $PORT; its log:" >&2
    tail -n 30 "$DATA/server.log" >&2
    exit 1
fi
"$LS_VENV/bin/python" tests/converter/ls_exports.py --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --out fixtures/label_studio --media fixtures/media \
    --document-root "$ROOT_DIR" "$@"
