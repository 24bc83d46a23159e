#!/bin/bash
# Adversarial integration test of the nmtd daemon (issue: reliability).  The
# real binary on a loopback port; raw-socket clients from abuse.py:
#   - clients that reset mid-request (before the body ends, queued, decoding,
#     while the answer is written) beside good clients, which all get 200;
#   - the gauges return to zero once every client has left;
#   - 1,100 slow-header connections, and 2,000 half-body-then-close clients:
#     a good request is still answered 200 in under 1 s;
#   - NUL bytes and strict JSON; ambiguous HTTP framing (one error, close);
#   - a 20 MB body receives its 413;
#   - SIGHUP with 20 requests in flight: alive, 20/20 answered;
#   - SIGTERM with 20 requests in flight: 20/20 answered, exit 0;
#   - no sanitizer report in the daemon's log (built with ASan/UBSan or
#     TSan, these runs are where the races show).
# Everything talks to 127.0.0.1, is bounded in count and time, and every
# daemon started is stopped by its PID.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
MODEL=${NMTD_TEST_MODEL:-$SRC/models/en-de-demo}
ABUSE="/usr/bin/python3 $SRC/tests/integration/abuse.py"
RESET_SECONDS=${NMTD_ABUSE_SECONDS:-10}
TMP=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
    [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"
if [ ! -x /usr/bin/python3 ]; then echo "SKIP: /usr/bin/python3 missing"; exit 77; fi

# runs one abuse.py scenario; its ok/FAIL lines count here
scenario() {
    local out
    out=$(timeout 300 $ABUSE "$PORT" "$@" 2>&1)
    echo "$out"
    pass=$((pass + $(grep -c '^ok - ' <<< "$out")))
    fail=$((fail + $(grep -c '^FAIL - ' <<< "$out")))
}

metric() { curl -s -m 10 "127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"; }

# the daemon under test; a small connection_limit keeps the slow-client runs
# short, the body limit is the default
"$NMTD" --model "$MODEL" --listen-address 127.0.0.1 --port 0 --workers 2 --max-wait-ms 5 \
    --connection-limit 1024 --request-read-timeout-s 10 --shutdown-grace-ms 30000 2> "$TMP/nmtd.log" &
PID=$!
PORT=""
for _ in $(seq 1 600); do
    PORT=$(listening_port "$TMP/nmtd.log")
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then echo "the daemon did not start:"; cat "$TMP/nmtd.log"; exit 1; fi

scenario text
scenario framing
scenario bigbody 20
scenario resets "$RESET_SECONDS"
# every client has gone: the gauges come back to zero
for _ in $(seq 1 100); do
    [ "$(metric nmtd_inflight_requests)" = 0 ] && [ "$(metric nmtd_queue_depth_sentences)" = 0 ] && break
    sleep 0.1
done
check "after the resets, nmtd_inflight_requests is 0" '[ "$(metric nmtd_inflight_requests)" = 0 ]'
check "after the resets, nmtd_queue_depth_sentences is 0" '[ "$(metric nmtd_queue_depth_sentences)" = 0 ]'
check "client_gone rejections were counted" '[ "$(metric "nmtd_rejections_total{reason=\"client_gone\"}")" -gt 0 ]'
scenario slowloris 1100
scenario halfbody 2000
sleep 1
check "slow and half-sent connections were cut or released" \
    '[ $(( $(metric "nmtd_connections_cut_total{reason=\"evicted\"}") + $(metric "nmtd_connections_cut_total{reason=\"peer_closed\"}") )) -gt 0 ]'
for _ in $(seq 1 50); do
    [ "$(metric nmtd_open_connections)" -le 1 ] && break
    sleep 0.2
done
check "open connections back to 1 (this scrape) once the clients left" '[ "$(metric nmtd_open_connections)" -le 1 ]'

# SIGHUP with 20 requests in flight: nothing lost, still serving
$ABUSE "$PORT" inflight 20 "$TMP/hup.txt" &
CLIENTS=$!
sleep 0.3
kill -HUP "$PID"
wait "$CLIENTS"
check "SIGHUP: the daemon is alive" 'kill -0 "$PID"'
check "SIGHUP: 20/20 requests in flight answered 200" '[ "$(grep -c "^200$" "$TMP/hup.txt")" = 20 ]'
check "SIGHUP: the reload is logged" 'wait_log "$TMP/nmtd.log" "SIGHUP: configuration reloaded"'

# SIGTERM with 20 requests in flight: all answered, exit 0
$ABUSE "$PORT" inflight 20 "$TMP/term.txt" &
CLIENTS=$!
sleep 0.3
kill -TERM "$PID"
wait "$CLIENTS"
wait "$PID"
rc=$?
PID=""
check "SIGTERM: 20/20 requests in flight answered 200" '[ "$(grep -c "^200$" "$TMP/term.txt")" = 20 ]'
check "SIGTERM: exit status 0 (got $rc)" '[ "$rc" = 0 ]'
check "no sanitizer report in the daemon's log" \
    '! grep -E "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/nmtd.log"'

finish
