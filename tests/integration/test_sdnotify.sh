#!/bin/bash
# systemd notify protocol: nmtd run with NOTIFY_SOCKET pointing at a datagram
# socket this test owns.  READY=1 must come only once the port answers,
# WATCHDOG=1 at about half of WATCHDOG_USEC, STOPPING=1 on SIGTERM.  Loopback
# only; every process started is stopped by PID; bounded in time.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
TMP=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done; rm -rf "$TMP"' EXIT
. "$SRC/tests/integration/lib.sh"

"$BUILD/tests/integration/notify_listen" "$TMP/notify.sock" 20 > "$TMP/messages" &
LPID=$!; PIDS+=("$LPID")
for _ in $(seq 1 100); do grep -q LISTENING "$TMP/messages" && break; sleep 0.05; done

NOTIFY_SOCKET="$TMP/notify.sock" WATCHDOG_USEC=400000 \
    "$BUILD/nmtd" --model "$SRC/models/en-de-demo" --port 0 2> "$TMP/nmtd.log" &
NPID=$!; PIDS+=("$NPID")
for _ in $(seq 1 200); do grep -q "READY=1" "$TMP/messages" && break; sleep 0.05; done
PORT=$(listening_port "$TMP/nmtd.log")
# READY=1 is sent after the port listens: the moment it arrives, /ready answers
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "127.0.0.1:$PORT/ready")
check "READY=1 arrives, and the port answers at once ($code)" 'grep -q "READY=1" "$TMP/messages" && [ "$code" = 200 ]'
check "STATUS=loading came before READY=1" '[ "$(grep -n "STATUS=loading" "$TMP/messages" | cut -d: -f1)" -lt "$(grep -n "READY=1" "$TMP/messages" | cut -d: -f1)" ]'
check "READY carries a STATUS naming the model" 'grep "READY=1" "$TMP/messages" | grep -q "STATUS=serving en-de-demo"'
sleep 1.5
pings=$(grep -c "WATCHDOG=1" "$TMP/messages")
# 1.5 s at a 0.2 s period: about 7; allow slack for a loaded machine, not for silence
check "WATCHDOG=1 about every WATCHDOG_USEC/2 ($pings pings in 1.5 s)" '[ "$pings" -ge 4 ] && [ "$pings" -le 12 ]'
kill -TERM "$NPID"; wait "$NPID"; rc=$?
sleep 0.2
check "STOPPING=1 on SIGTERM" 'grep -q "STOPPING=1" "$TMP/messages"'
check "exit status 0" '[ $rc -eq 0 ]'
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
finish
