# Sourced by bench/ls_loop.sh and bench/ls_storage.sh (not run on its own).
#   start_label_studio PORT NAME [VAR=VALUE ...]
# installs label-studio into a venv outside the clone ($LS_VENV, ~/.cache/lsdb/ls-venv) when
# it is missing, starts it on 127.0.0.1:PORT with the API token $TOKEN, its data in $DATA (a
# new temp folder) and the extra environment given, waits until it answers /health and prints
# its version. The EXIT trap stops every process in CLEANUP_PIDS and removes $DATA.
LS_VENV="${LS_VENV:-$HOME/.cache/lsdb/ls-venv}"
DATA="$(mktemp -d /tmp/lsdb-ls-data-XXXXXX)"
CLEANUP_PIDS=()
trap 'kill "${CLEANUP_PIDS[@]}" 2>/dev/null || true; wait "${CLEANUP_PIDS[@]}" 2>/dev/null || true; rm -rf "$DATA"' EXIT

start_label_studio() {
    local port="$1" name="$2"
    shift 2
    TOKEN="lsdb-$name-$(date +%s)"
    if [ ! -x "$LS_VENV/bin/label-studio" ]; then
        python3 -m venv "$LS_VENV"
        "$LS_VENV/bin/pip" install -q "label-studio==1.23.2" 'sentry-sdk<3'
    fi
    env LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
        LABEL_STUDIO_USERNAME="$name@example.com" LABEL_STUDIO_PASSWORD="$TOKEN" \
        LABEL_STUDIO_USER_TOKEN="$TOKEN" LABEL_STUDIO_BASE_DATA_DIR="$DATA" "$@" \
        "$LS_VENV/bin/label-studio" start --no-browser --port "$port" --internal-host 127.0.0.1 \
        --data-dir "$DATA" >"$DATA/server.log" 2>&1 &
    CLEANUP_PIDS+=($!)
    for _ in $(seq 1 120); do
        if curl -sf "http://127.0.0.1:$port/health" >/dev/null; then break; fi
        sleep 2
    done
    "$LS_VENV/bin/pip" show label-studio | sed -n 's/^Version: /Label Studio /p'
}
