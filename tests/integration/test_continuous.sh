#!/bin/bash
# Integration test of continuous batching through the real daemon (loopback
# port chosen by the kernel, curl as the client):
#  - under concurrent load of mixed output lengths (max_length 2..40 and the
#    default), every answer equals nmtd-translate's offline translation of the
#    same sentence and length, on the demo model and a tiny random model, with
#    admission at every step and with admission every 3 steps;
#  - a client that disconnects from a long request: its row leaves the running
#    decode (nmtd_rows_cancelled_total) and decoding stops within a few steps
#    (nmtd_decode_steps_total stays put), while another request beside it is
#    answered in full;
#  - SIGTERM while rows are decoding: every accepted request gets its full
#    answer, exit 0.
# The long requests use a random model written here whose end-of-sequence is
# suppressed (tools/make_random_model.py --suppress-eos), so their length is
# exactly max_length.  Every daemon is stopped by PID; every wait is bounded.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
TRANSLATE="$BUILD/nmtd-translate"
. "$SRC/tests/integration/lib.sh"
with_scratch

# start_daemon NAME MODEL ARGS...: nmtd on 127.0.0.1, port 0; sets PID and PORT
start_daemon() {
    local name=$1 model=$2
    shift 2
    start_tracked "$name" --model "$model" --access-log no "$@"
}
# metric NAME: the value of an unlabelled metric of the running daemon
metric() { curl -s "127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
stop_daemon() {
    kill -TERM "$PID"
    wait "$PID"
}

# ---- mixed lengths under load = offline ----------------------------------
# lengths cycle through 2 5 9 17 40 and "" (no max_length: the default limit)
LENS=(2 5 9 17 40 "")
mixed_load() { # NAME MODEL INPUTS FLAGS...
    local name=$1 model=$2 inputs=$3
    shift 3
    mkdir -p "$TMP/$name"
    local n=0
    : > "$TMP/$name.cfg"
    while IFS= read -r line; do
        local len=${LENS[n % ${#LENS[@]}]}
        if [ -n "$len" ]; then
            jq -cn --arg t "$line" --argjson l "$len" '{text: $t, max_length: $l}'
        else
            jq -cn --arg t "$line" '{text: $t}'
        fi > "$TMP/$name/q$n.json"
        printf 'next\nurl = "http://127.0.0.1:PORT/translate"\ndata-binary = "@%s/%s/q%d.json"\noutput = "%s/%s/a%d.json"\nwrite-out = "%%{http_code}\\n"\n' \
            "$TMP" "$name" "$n" "$TMP" "$name" "$n" >> "$TMP/$name.cfg"
        n=$((n + 1))
    done < "$inputs"
    # offline: one run per length, answers put back in request order
    for k in "${!LENS[@]}"; do
        local len=${LENS[k]} args=()
        [ -n "$len" ] && args=(--max-length "$len")
        awk -v k="$k" -v m="${#LENS[@]}" '(NR - 1) % m == k' "$inputs" |
            "$TRANSLATE" --model "$model" --batch-size 8 "${args[@]}" > "$TMP/$name.off$k" 2>/dev/null
    done
    : > "$TMP/$name.expected"
    for ((i = 0; i < n; i++)); do
        sed -n "$((i / ${#LENS[@]} + 1))p" "$TMP/$name.off$((i % ${#LENS[@]}))" >> "$TMP/$name.expected"
    done
    start_daemon "$name" "$model" --workers 2 --max-batch-sentences 8 --max-wait-ms 1 "$@" || { bad "$name starts"; return; }
    sed "s/PORT/$PORT/" "$TMP/$name.cfg" > "$TMP/$name.run.cfg"
    curl -s --no-progress-meter -m 120 --parallel --parallel-max 24 -K "$TMP/$name.run.cfg" > "$TMP/$name.status"
    stop_daemon
    check "$name: $n answers, all 200" '[ "$(grep -c "^200$" "$TMP/$name.status")" = "$n" ]'
    local same=0
    for ((i = 0; i < n; i++)); do
        [ "$(jq -r .translation "$TMP/$name/a$i.json" 2>/dev/null)" = "$(sed -n "$((i + 1))p" "$TMP/$name.expected")" ] &&
            same=$((same + 1))
    done
    check "$name: every answer equals the offline translation ($same/$n)" '[ "$same" = "$n" ]'
}

grep -v '^#' "$SRC/tests/data/en-de-demo.golden.tsv" | cut -f1 | head -120 > "$TMP/demo.in"
mixed_load demo "$SRC/models/en-de-demo" "$TMP/demo.in" --scheduling continuous
mixed_load demo-interval3 "$SRC/models/en-de-demo" "$TMP/demo.in" --scheduling continuous \
    --admit-interval-steps 3 --admit-min-rows 2
# (the command line trims what the daemon keeps: spaces around a line)
grep -v '^ \| $' "$SRC/tests/data/tiny-inputs.txt" > "$TMP/tiny.in"
mixed_load tiny "$SRC/tests/data/models/tiny-swish" "$TMP/tiny.in" --scheduling continuous

# ---- a model whose sentences never end by themselves ---------------------
SLOW="$TMP/slow-model"
if ! /usr/bin/python3 "$SRC/tools/make_random_model.py" --preset tiny --d-model 256 --heads 4 --ffn 1024 \
    --layers 2 --vocab-size 4000 --max-pos 2048 --max-length 2048 --suppress-eos --spm-normalization identity \
    --seed 5 --out "$SLOW" > "$TMP/make-model.log" 2>&1; then
    cat "$TMP/make-model.log"
    bad "tools/make_random_model.py writes the long-sentence model"
    finish
    exit
fi
SENT="the old man walked slowly along the river"

# ---- a disconnected client's long request stops decoding -----------------
start_daemon cancel "$SLOW" --workers 1 --max-wait-ms 1 --scheduling continuous --max-length-limit 2048 --request-timeout-ms 600000 || exit 1
# a companion request that goes on decoding after the one whose client leaves
curl -s -m 300 -o "$TMP/companion.json" -w '%{http_code}' \
    -d "{\"text\": \"a small green garden\", \"max_length\": 600}" "127.0.0.1:$PORT/translate" > "$TMP/companion.status" &
companion=$!
# the client leaves once its row is decoding (polled, not a fixed delay: on a
# fast CPU this model runs the 2000 steps in under a second).  Its sentence is
# in once the queue has taken both; a few steps later it has joined the decode
# (admission runs at every step).  Decoding alone is not enough: the
# companion's steps can start before the leaver's request has even arrived.
curl -s -m 300 -o /dev/null -d "{\"text\": \"$SENT\", \"max_length\": 2000}" "127.0.0.1:$PORT/translate" &
leaver=$!
for _ in $(seq 1 1000); do
    [ "$(metric nmtd_sentences_in_total)" = 2 ] && break
    sleep 0.01
done
joined=$(( $(metric nmtd_decode_steps_total) + 3 ))
for _ in $(seq 1 400); do
    s=$(metric nmtd_decode_steps_total)
    [ "${s:-0}" -ge "$joined" ] && break
    sleep 0.01
done
kill "$leaver"
wait "$leaver" 2>/dev/null
for _ in $(seq 1 100); do
    [ "$(metric nmtd_rows_cancelled_total)" = 1 ] && break
    sleep 0.1
done
wait "$companion"
steps_a=$(metric nmtd_decode_steps_total)
sleep 1
steps_b=$(metric nmtd_decode_steps_total)
check "disconnect: one row cancelled" '[ "$(metric nmtd_rows_cancelled_total)" = 1 ]'
check "disconnect: decoding stopped ($steps_a steps, then $steps_b one second later; 2000 asked)" \
    '[ -n "$steps_a" ] && [ "$steps_a" = "$steps_b" ] && [ "$steps_a" -lt 2000 ]'
check "disconnect: the companion request answered in full" \
    '[ "$(cat "$TMP/companion.status")" = 200 ] && [ "$(jq -r .translation "$TMP/companion.json")" = "$(echo "a small green garden" | "$TRANSLATE" --model "$SLOW" --max-length 600 2>/dev/null)" ]'
check "disconnect: the daemon is still ready" '[ "$(curl -s -o /dev/null -w "%{http_code}" 127.0.0.1:$PORT/ready)" = 200 ]'
stop_daemon
check "disconnect: exit 0 on SIGTERM" '[ $? = 0 ]'

# ---- SIGTERM while rows are decoding: every accepted request answered -----
start_daemon drain "$SLOW" --workers 2 --max-wait-ms 1 --scheduling continuous --max-length-limit 2048 --request-timeout-ms 600000 || exit 1
drain_pids=()
for i in 0 1 2 3 4 5; do
    curl -s -m 300 -o "$TMP/drain$i.json" -w '%{http_code}' \
        -d "{\"text\": \"$SENT number $i\", \"max_length\": $((1200 + 100 * i))}" "127.0.0.1:$PORT/translate" \
        > "$TMP/drain$i.status" &
    drain_pids+=($!)
done
# SIGTERM once all six are in the queue and decoding has begun (a request
# still connecting when SIGTERM comes would be refused, not drained)
for _ in $(seq 1 1500); do
    s=$(metric nmtd_decode_steps_total)
    [ "$(metric nmtd_sentences_in_total)" = 6 ] && [ "${s:-0}" -ge 1 ] && break
    sleep 0.01
done
steps_at_term=$(metric nmtd_decode_steps_total)
kill -TERM "$PID"
wait "${drain_pids[@]}"
wait "$PID"
rc=$?
check "drain: SIGTERM came while rows were decoding ($steps_at_term steps run of at least 1200)" \
    '[ "${steps_at_term:-0}" -ge 1 ] && [ "${steps_at_term:-0}" -lt 1200 ]'
full=0
for i in 0 1 2 3 4 5; do
    want=$(echo "$SENT number $i" | "$TRANSLATE" --model "$SLOW" --max-length $((1200 + 100 * i)) 2>/dev/null)
    [ "$(cat "$TMP/drain$i.status")" = 200 ] && [ "$(jq -r .translation "$TMP/drain$i.json")" = "$want" ] &&
        full=$((full + 1))
done
check "drain: all 6 running requests answered 200 with their full translation ($full/6)" '[ "$full" = 6 ]'
check "drain: exit 0" '[ "$rc" = 0 ]'

# built with a sanitizer, the daemons' logs carry any report it made
check "no sanitizer reports" '! grep -l "Sanitizer\|runtime error" "$TMP"/*.log'
finish
