#!/usr/bin/env bash
# Runs e2e/tus-js against `storage serve` on embedded defaults (a managed
# Postgres and the file backend in a fresh data directory) on loopback:
# builds the binary, installs the pinned clients when node_modules is
# missing, starts the server, runs the node tests (or, with BENCH=1,
# bench.mjs or $BENCH_SCRIPT), and stops the server. Needs go, node, npm
# and the PostgreSQL server binaries (scripts/test installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/storage" ./cmd/storage
if [ ! -d e2e/tus-js/node_modules/tus-js-client ]; then
    (cd e2e/tus-js && npm ci --no-audit --no-fund)
fi

STORAGE_DATA_DIR=$work/data SERVER_HOST=127.0.0.1 SERVER_PORT=0 LOG_LEVEL=warn \
    UPLOAD_FILE_SIZE_LIMIT=1073741824 "$work/storage" serve >"$work/serve.out" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 1 300); do
    grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.1
done
url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/serve.out" | head -1)
[ -n "$url" ] || { echo "serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
service=$(sed -n 's/^SERVICE_KEY=//p' "$work/serve.out")
s3=$(grep '^S3 access key' "$work/serve.out")
export STORAGE_URL=$url SERVICE_KEY=$service S3_ENDPOINT=$url/s3 \
    S3_ACCESS_KEY_ID=$(awk '{print $(NF-2)}' <<<"$s3") S3_SECRET_ACCESS_KEY=$(awk '{print $NF}' <<<"$s3") \
    SERVER_PID=$pid WORK=$work
cd "$root/e2e/tus-js"
if [ "${BENCH:-}" = 1 ]; then
    node "${BENCH_SCRIPT:-bench.mjs}"
else
    node --test --test-reporter=spec tus.test.mjs
fi
