#!/usr/bin/env bash
# Label Studio's API against `lsdb serve`, request by request (not part of cargo test):
#   bench/ls_compare.sh [path/to/lsdb] [> record.txt]
# Installs label-studio 1.23.2 into a venv outside the clone (~/.cache/lsdb/ls-venv) when it
# is missing, starts it on 127.0.0.1 with an API token (bench/ls_server.sh), and runs
# bench/ls_compare.py, which makes the same project on both, sends each request to both
# and prints `same` or the differences. The server stops when this script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
LSDB="${1:-$HOME/.cache/lsdb/target/debug/lsdb}"
PORT="${LS_PORT:-8089}"
LS_VENV="${LS_VENV:-$HOME/.cache/lsdb/ls-venv}"
if [ ! -x "$LS_VENV/bin/label-studio" ]; then
    python3 -m venv "$LS_VENV"
    "$LS_VENV/bin/pip" install -q label-studio==1.23.2 'sentry-sdk<3'
fi
# label-studio 1.23.2 asks for sentry-sdk>=2.16 and fails to start with sentry-sdk 3
# ("Unknown option 'send_default_pii'").
if ! "$LS_VENV/bin/python" -c 'import sys, sentry_sdk; sys.exit(int(sentry_sdk.VERSION.split(".")[0]) >= 3)'; then
    "$LS_VENV/bin/pip" install -q 'sentry-sdk<3'
fi
source bench/ls_server.sh
start_label_studio "$PORT" compare >&2
python3 bench/ls_compare.py --lsdb "$LSDB" --ls-url "http://127.0.0.1:$PORT" --token "$TOKEN"
