#!/usr/bin/env bash
# Proves the embedded default: `npm start` with no configuration, on a fresh data dir, answers
# /healthz and /readyz with 200 and serves /; `npx hubkeep token create` works beside it (through the
# server's socket) and its token authenticates; SIGTERM stops it with exit 0. Run inside a network namespace with only loopback (.ci/run uses
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
ready=$(curl -fsS "http://127.0.0.1:$PORT/readyz")
echo "readyz: $ready"
[ "$ready" = '{"status":"ready","db":"ok","store":"ok"}' ]

# The README's next step, with the server running.
TOKEN=$(env -u DATABASE_URL HUBKEEP_DATA_DIR="$DATA" npx --no-install hubkeep token create --email ci@example.com --scope admin)
[[ "$TOKEN" =~ ^hk_[A-Za-z0-9_-]{43}$ ]] || { echo "token create printed: $TOKEN"; exit 1; }
me=$(curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me")
echo "me: $me"
echo "$me" | grep -q '"email":"ci@example.com"'

# SIGTERM drains and exits 0. (Signal the server process itself: npm, its parent, does not wait for
# a signalled child.)
SERVER_PID=$(pgrep -g "$PID" -f "^node scripts/start.mjs" | head -1)
kill -TERM "$SERVER_PID"
for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.5; done
rc=0
wait "$PID" || rc=$?
grep -q "SIGTERM: stopped" "$LOG" || { cat "$LOG"; echo "no clean stop"; exit 1; }
[ "$rc" = 0 ] || { echo "npm start exited $rc after SIGTERM"; exit 1; }
echo "embedded default OK"
