#!/bin/bash
# Integration test of the nmtd daemon: the real binary on a loopback port
# chosen by the kernel, talked to with curl.  Checks translations against the
# PyTorch reference's goldens, every error status with its JSON body, 200
# concurrent requests, batching under load (/metrics), a full queue, a
# timeout, and SIGTERM with requests in flight (all answered, exit 0).
# Every daemon it starts is stopped by PID; every loop is bounded.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
MODEL=${NMTD_TEST_MODEL:-$SRC/models/en-de-demo}
GOLDEN=${NMTD_TEST_GOLDEN:-$SRC/tests/data/en-de-demo.golden.tsv}
TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] && echo "kept $TMP" || rm -rf "$TMP"
}
trap cleanup EXIT
. "$SRC/tests/integration/lib.sh"

# start_daemon NAME ARGS...: starts nmtd on 127.0.0.1, port 0; sets PID and PORT
start_daemon() {
    local name=$1
    shift
    "$NMTD" --model "$MODEL" --listen-address 127.0.0.1 --port 0 "$@" 2> "$TMP/$name.log" &
    PID=$!
    PIDS+=("$PID")
    PORT=""
    for _ in $(seq 1 300); do
        PORT=$(listening_port "$TMP/$name.log")
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "daemon $name did not start:"; cat "$TMP/$name.log"
    return 1
}

# post BODY [PATH]: prints "STATUS BODY"
post() {
    curl -s -m 60 -o "$TMP/body" -w '%{http_code}' -d "$1" "http://127.0.0.1:$PORT${2:-/translate}"
    printf ' '
    cat "$TMP/body"
}

grep -v '^#' "$GOLDEN" | head -300 > "$TMP/golden.tsv"
cut -f1 "$TMP/golden.tsv" > "$TMP/inputs.txt"
cut -f4 "$TMP/golden.tsv" > "$TMP/wanted.txt"
first_in=$(sed -n 1p "$TMP/inputs.txt")
first_out=$(sed -n 1p "$TMP/wanted.txt")

# ---- main daemon -------------------------------------------------------
start_daemon main --workers 2 --max-wait-ms 20 --max-body-bytes 100000 --max-chars-per-text 5000 \
    --max-segments-per-request 50 || exit 1
MAIN_PID=$PID
check "/health 200" '[ "$(curl -s -o /dev/null -w "%{http_code}" 127.0.0.1:$PORT/health)" = 200 ]'
check "/ready 200" '[ "$(curl -s -o /dev/null -w "%{http_code}" 127.0.0.1:$PORT/ready)" = 200 ]'
check "/v1/model names the model" 'curl -s 127.0.0.1:$PORT/v1/model | jq -e ".model.name == \"$(basename "$MODEL")\"" >/dev/null'

# single sentence, bare curl -d (no Content-Type of JSON)
body=$(jq -cn --arg t "$first_in" '{text: $t}')
got=$(curl -s -d "$body" "127.0.0.1:$PORT/translate" | jq -r .translation)
check "single translation equals the reference" '[ "$got" = "$first_out" ]'

# a list of 40 sentences, in order
jq -R . < <(head -40 "$TMP/inputs.txt") | jq -cs '{text: .}' > "$TMP/list.json"
curl -s --data-binary @"$TMP/list.json" "127.0.0.1:$PORT/translate" | jq -r '.translations[]' > "$TMP/list_out.txt"
check "list of 40 translated in order" 'head -40 "$TMP/wanted.txt" | cmp -s - "$TMP/list_out.txt"'
check "empty string translates to empty string" '[ "$(post "{\"text\": [\"\", \"$first_in\"]}")" = "200 {\"translations\":[\"\",\"$first_out\"]}" ]'

# errors: status + JSON error code
expect() { # NAME STATUS CODE BODY [PATH] [METHOD]
    local name=$1 status=$2 code=$3 data=$4 path=${5:-/translate} method=${6:-POST}
    local out
    if [ "$method" = POST ]; then
        out=$(curl -s -m 30 -o "$TMP/err" -w '%{http_code}' -X POST --data-binary "$data" "127.0.0.1:$PORT$path")
    else
        out=$(curl -s -m 30 -o "$TMP/err" -w '%{http_code}' -X "$method" "127.0.0.1:$PORT$path")
    fi
    if [ "$out" = "$status" ] && [ "$(jq -r .error.code "$TMP/err" 2>/dev/null)" = "$code" ] &&
       [ -n "$(jq -r .error.message "$TMP/err")" ]; then
        ok "$name -> $status $code"
    else
        bad "$name: got $out $(cat "$TMP/err")"
    fi
}
expect "malformed JSON" 400 invalid_json '{"text": "abc'
expect "text missing" 400 invalid_request '{"txt": "abc"}'
expect "text of the wrong type" 400 invalid_request '{"text": 42}'
expect "list with a number" 400 invalid_request '{"text": ["a", 1]}'
expect "invalid UTF-8" 400 invalid_utf8 "$(printf '{"text": "\xff\xfe"}')"
long=$(awk 'BEGIN { for (i = 0; i < 700; i++) printf "one "; }')
units_before=$(curl -s "127.0.0.1:$PORT/metrics" | sed -n 's/^nmtd_sentences_in_total //p')
got=$(post "{\"text\": \"$long\", \"split\": false}")
units_after=$(curl -s "127.0.0.1:$PORT/metrics" | sed -n 's/^nmtd_sentences_in_total //p')
check "a text over the position limit is wrapped into pieces and translated, not refused" \
    '[ "${got%% *}" = 200 ] && [ -n "$(jq -r .translation <<< "${got#* }")" ] && [ $((units_after - units_before)) -ge 2 ]'
expect "text over max_chars_per_text" 400 text_too_long "{\"text\": \"$long$long\"}"
many=$(awk 'BEGIN { for (i = 0; i < 51; i++) printf "One. "; }')
expect "more segments than max_segments_per_request" 400 too_many_segments "{\"text\": [\"Two.\", \"$many\"]}"
expect "split not a boolean" 400 invalid_split '{"text": "one", "split": "no"}'

# a paragraph of held-out sentences with mixed gaps: exactly their one-by-one
# translations (the reference's goldens) in the same gaps
grep -v '^#' "$GOLDEN" | cut -f1,4 | grep -E '^[A-Z][^	]*[.!?]	' | head -6 > "$TMP/para.tsv"
jq -Rn '[inputs | split("\t")] as $s | ["  ", " ", "\n", "\n\n", "\t", "\r\n", " \n "] as $g |
        {text: ($g[0] + ([range(0; $s | length) | $s[.][0] + $g[. + 1]] | join(""))),
         want: ($g[0] + ([range(0; $s | length) | $s[.][1] + $g[. + 1]] | join("")))}' < "$TMP/para.tsv" > "$TMP/para.json"
jq -c '{text: .text}' "$TMP/para.json" > "$TMP/para_req.json"
curl -s --data-binary @"$TMP/para_req.json" "127.0.0.1:$PORT/translate" | jq -r .translation > "$TMP/para_got.txt"
jq -r .want "$TMP/para.json" > "$TMP/para_want.txt"
check "a paragraph with mixed gaps = its sentences' translations in the same gaps" 'cmp -s "$TMP/para_got.txt" "$TMP/para_want.txt"'
check "whitespace alone comes back as it was" '[ "$(post "{\"text\": \" \\n\\t \"}")" = "200 {\"translation\":\" \\n\\t \"}" ]'

expect "max_length out of range" 400 invalid_max_length '{"text": "one", "max_length": 0}'
expect "unknown path" 404 not_found '{}' /nowhere
expect "wrong method" 405 method_not_allowed '' /translate GET
check "405 carries Allow: POST" 'curl -s -i 127.0.0.1:$PORT/translate | grep -qi "^Allow: POST"'
head -c 150000 /dev/zero | tr '\0' 'a' | sed 's/^/{"text": "/; s/$/"}/' > "$TMP/big.json"
expect "body over max_body_bytes" 413 body_too_large "@$TMP/big.json"

# 200 concurrent requests, each checked against the reference
: > "$TMP/parallel.cfg"
for i in $(seq 1 200); do
    line=$(sed -n "${i}p" "$TMP/inputs.txt")
    jq -cn --arg t "$line" '{text: $t}' > "$TMP/req$i.json"
    printf 'next\nurl = "http://127.0.0.1:%s/translate"\ndata-binary = "@%s/req%d.json"\noutput = "%s/resp%d.json"\n' \
        "$PORT" "$TMP" "$i" "$TMP" "$i" >> "$TMP/parallel.cfg"
done
curl -s --no-progress-meter -m 120 --parallel --parallel-max 200 -K "$TMP/parallel.cfg"
wrong=0
for i in $(seq 1 200); do
    [ "$(jq -r .translation "$TMP/resp$i.json" 2>/dev/null)" = "$(sed -n "${i}p" "$TMP/wanted.txt")" ] || wrong=$((wrong + 1))
done
check "200 concurrent requests all answered correctly ($wrong wrong)" '[ $wrong -eq 0 ]'
curl -s "127.0.0.1:$PORT/metrics" > "$TMP/metrics.txt"
ones=$(sed -n 's/^nmtd_batch_sentences_bucket{le="1"} //p' "$TMP/metrics.txt")
batches=$(sed -n 's/^nmtd_batch_sentences_count //p' "$TMP/metrics.txt")
check "/metrics shows batches of more than one sentence ($ones of $batches had one)" '[ "${batches:-0}" -gt "${ones:-0}" ]'
check "/metrics counts the 400s" 'grep -q "^nmtd_requests_total{status=\"400\"} [1-9]" "$TMP/metrics.txt"'
check "access log has no request text" '! grep -q "$first_in" "$TMP/main.log"'
kill -TERM "$MAIN_PID"; wait "$MAIN_PID"; rc=$?
check "SIGTERM on an idle daemon exits 0" '[ $rc -eq 0 ]'

# ---- a queue that fills: 4 sentences wait (a batch starts only after 10 s) ----
start_daemon queue --workers 1 --queue-capacity 4 --max-wait-ms 10000 --max-batch-sentences 100 || exit 1
jq -cn --arg t "$first_in" '{text: [$t, $t, $t, $t]}' > "$TMP/four.json"
curl -s -m 60 -o "$TMP/four_out.json" -w '%{http_code}' --data-binary @"$TMP/four.json" "127.0.0.1:$PORT/translate" > "$TMP/four_status" &
CURL_PID=$!
for _ in $(seq 1 100); do grep -q '^nmtd_queue_depth_sentences 4' <(curl -s "127.0.0.1:$PORT/metrics") && break; sleep 0.1; done
expect "full queue" 503 queue_full "{\"text\": \"$first_in\"}"
check "503 carries Retry-After" 'curl -s -i -d "{\"text\": \"one\"}" 127.0.0.1:$PORT/translate | grep -qi "^Retry-After: [0-9]"'
# SIGTERM while that request is accepted and waiting: it is answered, exit 0
kill -TERM "$PID"
wait "$CURL_PID"
wait "$PID"; rc=$?
check "SIGTERM answers the waiting request (200)" '[ "$(cat "$TMP/four_status")" = 200 ] && [ "$(jq -r ".translations[3]" "$TMP/four_out.json")" = "$first_out" ]'
check "SIGTERM with a request in flight exits 0" '[ $rc -eq 0 ]'

# ---- SIGTERM under load: every accepted request answered -----------------
# batches start only after 2 s, so accepted requests pile up in the queue
start_daemon load --workers 2 --max-wait-ms 2000 --max-batch-sentences 100 || exit 1
: > "$TMP/load.cfg"
for i in $(seq 1 60); do
    printf 'next\nurl = "http://127.0.0.1:%s/translate"\ndata-binary = "@%s/req%d.json"\noutput = "%s/load%d.json"\nwrite-out = "%%{http_code}\\n"\n' \
        "$PORT" "$TMP" "$i" "$TMP" "$i" >> "$TMP/load.cfg"
done
curl -s --no-progress-meter -m 120 --parallel --parallel-max 60 -K "$TMP/load.cfg" > "$TMP/load_status" &
CURL_PID=$!
inflight=0
for _ in $(seq 1 150); do
    inflight=$(sed -n 's/^nmtd_inflight_requests //p' <(curl -s "127.0.0.1:$PORT/metrics"))
    [ "${inflight:-0}" -ge 30 ] && break
    sleep 0.02
done
kill -TERM "$PID"
wait "$CURL_PID"
wait "$PID"; rc=$?
answered=$(grep -c '^200$' "$TMP/load_status")
others=$(grep -v '^200$' "$TMP/load_status" | sort | uniq -c | tr '\n' ' ')
wrong=0
for i in $(seq 1 60); do
    if grep -q '"translation"' "$TMP/load$i.json" 2>/dev/null; then
        [ "$(jq -r .translation "$TMP/load$i.json")" = "$(sed -n "${i}p" "$TMP/wanted.txt")" ] || wrong=$((wrong + 1))
    fi
done
# accepted requests are answered (200); those that came after the drain began
# get 503 shutting_down or find the port closed (000); nothing else
check "SIGTERM with $inflight requests in flight: all answered ($answered x 200, $wrong wrong; others: ${others:-none})" \
    '[ "$answered" -ge "${inflight:-0}" ] && [ "$answered" -gt 0 ] && [ $wrong -eq 0 ] && ! grep -qvE "^(200|503|000)$" "$TMP/load_status"'
check "SIGTERM under load exits 0" '[ $rc -eq 0 ]'

# ---- timeout: a request may wait 1 ms, a batch starts after 500 ms -------
start_daemon timeout --workers 1 --request-timeout-ms 1 --max-wait-ms 500 --max-batch-sentences 100 || exit 1
expect "request past request_timeout_ms" 504 timeout "{\"text\": \"$first_in\"}"
kill -TERM "$PID"; wait "$PID"

# ---- start-up errors: clear message, non-zero exit ------------------------
"$NMTD" --model "$TMP/nowhere" --port 0 2> "$TMP/e1"; rc=$?
check "missing model: exit $rc with a message" '[ $rc -ne 0 ] && grep -q "config.json" "$TMP/e1"'
printf 'port = 8080\nmax_batch = 3\n' > "$TMP/bad.conf"
"$NMTD" --config "$TMP/bad.conf" --check-config 2> "$TMP/e2"; rc=$?
check "unknown config key: file:line" '[ $rc -eq 2 ] && grep -q "bad.conf:2" "$TMP/e2"'
check "--check-config on the shipped conf" '"$NMTD" --config "$SRC/conf/nmtd.conf" --model "$MODEL" --check-config >/dev/null 2>&1'
check "--version" '"$NMTD" --version | grep -q "^nmtd [0-9]"'

# built with a sanitizer, the daemons' logs carry any report it made
check "no sanitizer report in the daemons' logs" \
    '! grep -lE "ThreadSanitizer|AddressSanitizer|LeakSanitizer|runtime error:" "$TMP"/*.log'

finish
