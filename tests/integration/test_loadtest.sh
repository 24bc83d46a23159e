#!/bin/bash
# clients/loadtest against the real daemon on a loopback port: every request
# answered 200 with well-formed JSON, the report lines present, and a clear
# refusal of bad arguments.  Bounded: 300 requests, 60 s.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
TMP=$(mktemp -d)
PID=""
trap '[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
. "$SRC/tests/integration/lib.sh"

"$BUILD/nmtd" --model "$SRC/models/en-de-demo" --port 0 --access-log no 2> "$TMP/nmtd.log" &
PID=$!
PORT=""
for _ in $(seq 1 100); do
    PORT=$(listening_port "$TMP/nmtd.log"); [ -n "$PORT" ] && break; sleep 0.05
done
"$SRC/clients/loadtest" -u "http://127.0.0.1:$PORT" -n 300 -c 32 -s 2 -t 60 > "$TMP/out" 2> "$TMP/err"; rc=$?
cat "$TMP/out"
check "loadtest exits 0 when every answer is a 200" '[ $rc -eq 0 ]'
check "300 requests, 600 sentences reported" 'grep -q "^requests: 300 of 300 in .* sentences/s" "$TMP/out"'
check "latency percentiles reported" 'grep -qE "^latency: p50 [0-9.]+ ms, p90 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms" "$TMP/out"'
check "status counts: all 200" 'grep -q "^status: 200=300$" "$TMP/out"'
check "no malformed JSON" 'grep -q "^malformed JSON answers: 0$" "$TMP/out"'
"$SRC/clients/loadtest" -n 0 > /dev/null 2> "$TMP/bad"; rc=$?
check "bad arguments refused (exit $rc)" '[ $rc -eq 2 ] && grep -q "positive integer" "$TMP/bad"'
kill -TERM "$PID"; wait "$PID"; PID=""
# against a stopped server every request fails: non-zero exit, counted as no-answer
"$SRC/clients/loadtest" -u "http://127.0.0.1:$PORT" -n 5 -c 2 -t 30 > "$TMP/out2" 2>/dev/null; rc=$?
check "a dead server: non-zero exit, no-answer counted" '[ $rc -ne 0 ] && grep -q "no-answer=5" "$TMP/out2"'
finish
