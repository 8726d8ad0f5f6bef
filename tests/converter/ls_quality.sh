#!/usr/bin/env bash
# Remakes the real Label Studio export the label-quality comparisons read (agreement between
# annotators, Cohen's kappa, Krippendorff's alpha, label issues; not part of cargo test or CI):
#   tests/converter/ls_quality.sh
# Starts Label Studio (bench/ls_server.sh: its venv in ~/.cache/lsdb/ls-venv, installed when
# missing) on 127.0.0.1 and runs tests/converter/ls_quality.py with the venv's Python. That one
# signs up three more users beside the admin (Label Studio's sign-up form with the invite
# token), makes a project of 40 image tasks through the API, posts 2 or 3 users' annotations
# on each task with each user's own API token (one user on a single task, two annotations
# cancelled) and predictions with a probability for each class, and writes the project's
# export (a snapshot with the predictions in full) to
# fixtures/label_studio/ls_<version>_quality_export.json and its label config to
# ls_<version>_quality.xml. All is drawn from random.Random(25) and each run starts from an
# empty Label Studio, so rerunning rewrites the same files (new timestamps, the same ids and
# values). The server stops and its data folder goes when the script exits.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${LS_PORT:-8097}"
source bench/ls_server.sh
start_label_studio "$PORT" quality
if ! curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; then
    echo "Label Studio did not answer on port $PORT; its log:" >&2
    tail -n 30 "$DATA/server.log" >&2
    exit 1
fi
"$LS_VENV/bin/python" tests/converter/ls_quality.py --ls-url "http://127.0.0.1:$PORT" \
    --token "$TOKEN" --out fixtures/label_studio "$@"
