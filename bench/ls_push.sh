#!/usr/bin/env bash
# lsdb push and pull at 100,000 tasks against a local Label Studio 1.23.2 (not part of CI):
#   cargo build --release && bash bench/ls_push.sh [N]
# Starts Label Studio (bench/ls_server.sh) and runs bench/ls_push.py with the release lsdb.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
PORT="${LS_PORT:-8096}"
WORK="$(mktemp -d /tmp/lsdb-ls-push-XXXXXX)"
source bench/ls_server.sh
trap 'kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; wait "${CLEANUP_PIDS[@]}" 2>/dev/null || true; rm -rf "$DATA" "$WORK"' EXIT
start_label_studio "$PORT" bench
TARGET="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
python3 bench/ls_push.py --lsdb "$TARGET/release/lsdb" --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --work "$WORK" --tasks "$N"
