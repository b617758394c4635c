#!/usr/bin/env bash
# Proves the embedded default: `npm start` with no configuration, on a fresh data dir, answers
# /healthz with 200 and serves /. Run inside a network namespace with only loopback (.ci/run uses
# `unshare --net`), so any download attempt at start-up would fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
ip link set lo up 2>/dev/null || true
DATA=$(mktemp -d /tmp/hubkeep-embedded.XXXXXX)
PORT=${PORT:-3917}
LOG="$DATA.log"
env -u DATABASE_URL -u BLOB_STORE_URL -u S3_ENDPOINT -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u S3_REGION -u S3_FORCE_PATH_STYLE \
  HUBKEEP_DATA_DIR="$DATA" PORT="$PORT" setsid npm start > "$LOG" 2>&1 &
PID=$!
stop() {
  local rc=$?
  kill -TERM -- "-$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$DATA" "$LOG"
  exit "$rc"
}
trap stop EXIT
body=
for _ in $(seq 1 180); do
  body=$(curl -fsS "http://127.0.0.1:$PORT/healthz" 2>/dev/null) && break
  kill -0 "$PID" 2>/dev/null || break
  sleep 1
done
cat "$LOG"
echo "healthz: ${body:-<no answer>}"
[ "$body" = '{"status":"ok","db":"ok","store":"ok"}' ]
curl -fsS "http://127.0.0.1:$PORT/" | grep -q "Model catalogue"
echo "embedded default OK"
