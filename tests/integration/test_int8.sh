#!/bin/bash
# compute_type int8 end to end on the demo model: the held-out bars (numbers
# 100% exact, sentences >= 99.5% exact), the same tokens as float32 on >= 99%
# of held-out sentences, the portable kernel giving the AVX2 kernel's text
# line for line, and the daemon serving int8 (compute type and smaller
# weights in /v1/model and /metrics, answers equal to nmtd-translate's).
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
NMTD="$BUILD/nmtd"
BIN="$BUILD/nmtd-translate"
DEMO="$SRC/models/en-de-demo"
. "$SRC/tests/integration/lib.sh"
with_scratch

percent() { # FILE_A FILE_B: % of lines equal
    paste "$1" "$2" | awk -F '\t' '{ n++; if ($1 == $2) ok++ } END { printf "%.2f", 100 * ok / n }'
}
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

for name in numbers sentences; do
    file="$SRC/tests/data/heldout-$name.tsv"
    cut -f1 "$file" > "$TMP/$name.in"
    cut -f2 "$file" > "$TMP/$name.ref"
    "$BIN" --model "$DEMO" --threads 2 --compute-type int8 < "$TMP/$name.in" > "$TMP/$name.int8"
    "$BIN" --model "$DEMO" --threads 2 --compute-type float32 < "$TMP/$name.in" > "$TMP/$name.f32"
done
acc=$(percent "$TMP/numbers.int8" "$TMP/numbers.ref")
check "int8: held-out numbers $acc% exact (bar 100%)" '[ "$acc" = 100.00 ]'
acc=$(percent "$TMP/sentences.int8" "$TMP/sentences.ref")
check "int8: held-out sentences $acc% exact (bar 99.5%)" 'at_least "$acc" 99.5'
same=$(percent "$TMP/sentences.int8" "$TMP/sentences.f32")
check "int8: $same% of held-out sentences as float32 translates them (bar 99%)" 'at_least "$same" 99'
# a BF16 checkpoint: converted copies are freed once quantized (ASan watches)
grep -v '^#' "$SRC/tests/data/tiny-bf16.golden.tsv" | cut -f1 > "$TMP/bf16.in"
"$BIN" --model "$SRC/tests/data/models/tiny-bf16" --compute-type int8 < "$TMP/bf16.in" > "$TMP/bf16.out" 2> "$TMP/bf16-run.log"
rc=$?
check "int8 on a BF16 checkpoint: every line translated (exit $rc)" \
    '[ "$rc" -eq 0 ] && [ "$(wc -l < "$TMP/bf16.out")" = "$(wc -l < "$TMP/bf16.in")" ]'
head -300 "$TMP/sentences.in" > "$TMP/some.in"
NMTD_KERNELS=generic "$BIN" --model "$DEMO" --compute-type int8 < "$TMP/some.in" > "$TMP/some.generic"
head -300 "$TMP/sentences.int8" > "$TMP/some.int8"
check "the portable int8 kernel gives the same text as the one this CPU runs" 'cmp -s "$TMP/some.generic" "$TMP/some.int8"'
"$BIN" --model "$DEMO" --compute-type bfloat16 < /dev/null 2> "$TMP/bf16.err"
check "--compute-type bfloat16: refused, saying why (exit $?)" 'grep -q "bfloat16 is not implemented yet" "$TMP/bf16.err"'

# the daemon
start_tracked int8 --model "$DEMO" --compute-type int8 --access-log no || exit 1
S=$(sed -n 7p "$TMP/sentences.in")
want=$(printf '%s\n' "$S" | "$BIN" --model "$DEMO" --compute-type int8)
expect "daemon, compute_type int8: the same translation as nmtd-translate" 200 \
    ".translation == $(jq -n --arg t "$want" '$t')" /translate -d "$(jq -cn --arg t "$S" '{text: $t}')"
int8_bytes=$(curl -s "127.0.0.1:$PORT/v1/model" | jq .model.weight_bytes)
expect "/v1/model says int8 and which kernel" 200 \
    '.model.compute_type == "int8" and (.model.kernel | test("^int8-(avx2|generic)$"))' /v1/model
kill -TERM "$PID"
wait "$PID"
start_tracked f32 --model "$DEMO" --access-log no || exit 1
f32_bytes=$(curl -s "127.0.0.1:$PORT/v1/model" | jq .model.weight_bytes)
expect "compute_type auto is float32" 200 '.model.compute_type == "float32"' /v1/model
check "int8 weights take less than a third of float32's ($int8_bytes vs $f32_bytes bytes)" \
    '[ $((int8_bytes * 3)) -lt "$f32_bytes" ]'
kill -TERM "$PID"
wait "$PID"
"$NMTD" --model "$DEMO" --compute-type int4 --port 0 2> "$TMP/bad.log"
check "compute_type int4: refused at start (exit $?)" 'grep -q "is not auto, float32 or int8" "$TMP/bad.log"'
check "no sanitizer reports" '! grep -l "Sanitizer\|runtime error" "$TMP"/*.log'
finish
