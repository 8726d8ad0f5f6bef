#!/usr/bin/env bash
# The reference libraries tests/quality/compare.py checks lsdb's quality views against, in a
# venv outside the clone ($HOME/.cache/lsdb/quality-venv), installed once; prints its python.
set -euo pipefail
VENV="${LSDB_QUALITY_VENV:-$HOME/.cache/lsdb/quality-venv}"
if ! "$VENV/bin/python" -c "import sklearn, krippendorff, cleanlab" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "scikit-learn==1.9.1" "krippendorff==0.9.0" "cleanlab==2.9.0"
fi
echo "$VENV/bin/python"
