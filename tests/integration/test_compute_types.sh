#!/bin/bash
# compute_type int8 and bfloat16 end to end on the demo model: for each, the
# held-out bars (numbers 100% exact, sentences >= 99.5% exact), the same
# tokens as float32 on >= 99% of held-out sentences, a BF16 checkpoint
# converted and translated, the portable kernel giving the text of the one
# this CPU runs line for line; and the daemon serving each (compute type,
# kernel and smaller weights in /v1/model, answers equal to nmtd-translate's);
# compute_type auto (int8 where int8 has a vector kernel, else float32, and
# the log says why), the float32 default and model_compute_types.
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
held_out_bars() { # LABEL SUFFIX: the bars of $TMP/{numbers,sentences}.SUFFIX
    local acc same
    acc=$(percent "$TMP/numbers.$2" "$TMP/numbers.ref")
    check "$1: held-out numbers $acc% exact (bar 100%)" '[ "$acc" = 100.00 ]'
    acc=$(percent "$TMP/sentences.$2" "$TMP/sentences.ref")
    check "$1: held-out sentences $acc% exact (bar 99.5%)" 'at_least "$acc" 99.5'
    same=$(percent "$TMP/sentences.$2" "$TMP/sentences.float32")
    check "$1: $same% of held-out sentences as float32 translates them (bar 99%)" 'at_least "$same" 99'
}

for name in numbers sentences; do
    file="$SRC/tests/data/heldout-$name.tsv"
    cut -f1 "$file" > "$TMP/$name.in"
    cut -f2 "$file" > "$TMP/$name.ref"
    "$BIN" --model "$DEMO" --threads 2 --compute-type float32 < "$TMP/$name.in" > "$TMP/$name.float32"
done
grep -v '^#' "$SRC/tests/data/tiny-bf16.golden.tsv" | cut -f1 > "$TMP/bf16.in"
head -300 "$TMP/sentences.in" > "$TMP/some.in"

for ct in int8 bfloat16; do
    for name in numbers sentences; do
        "$BIN" --model "$DEMO" --threads 2 --compute-type $ct < "$TMP/$name.in" > "$TMP/$name.$ct"
    done
    held_out_bars $ct $ct
    # a BF16 checkpoint: converted copies are freed once converted (ASan watches)
    "$BIN" --model "$SRC/tests/data/models/tiny-bf16" --compute-type $ct < "$TMP/bf16.in" > "$TMP/bf16.$ct" \
        2> "$TMP/bf16-$ct-run.log"
    rc=$?
    check "$ct on a BF16 checkpoint: every line translated (exit $rc)" \
        '[ "$rc" -eq 0 ] && [ "$(wc -l < "$TMP/bf16.$ct")" = "$(wc -l < "$TMP/bf16.in")" ]'
    NMTD_KERNELS=generic "$BIN" --model "$DEMO" --compute-type $ct < "$TMP/some.in" > "$TMP/some.generic"
    head -300 "$TMP/sentences.$ct" > "$TMP/some.$ct"
    check "the portable $ct kernel gives the same text as the one this CPU runs" \
        'cmp -s "$TMP/some.generic" "$TMP/some.$ct"'
done
# int8's narrow weight format (+-32: the AVX2 kernel's, four products in
# int16) keeps the same bars; on a CPU with AVX-512 VNNI the runs above
# took the wide one (+-127)
NMTD_KERNELS=avx2 "$BIN" --model "$DEMO" --compute-type int8 --log-level info < /dev/null 2> "$TMP/narrow.log"
if grep -q "kernel int8-avx2, weights +-32)" "$TMP/narrow.log"; then
    for name in numbers sentences; do
        NMTD_KERNELS=avx2 "$BIN" --model "$DEMO" --threads 2 --compute-type int8 < "$TMP/$name.in" > "$TMP/$name.narrow"
    done
    held_out_bars "int8 on AVX2 (weights +-32)" narrow
else
    echo "# no AVX2 on this CPU: int8's narrow format is not run end to end here"
fi

# A BF16 checkpoint loads without a whole fp32 copy: int8, bfloat16 and the
# packed float32 kernel widen its linear layers a block of rows at a time
# and read its embeddings row by row, so its peak memory is the same
# model's from an F32 file, not that plus the fp32 weights (92 MB here; it
# was 142 against 36 MB with int8).  Not float32: OpenBLAS needs the fp32
# matrices whole, and wherever the packed kernel runs the output screen
# does too, which keeps the output layer's fp32 rows in memory (an F32
# file's in the file).
for dt in BF16 F32; do
    /usr/bin/python3 "$SRC/tools/make_random_model.py" --preset tiny --d-model 512 --heads 8 --ffn 2048 \
        --layers 2 --vocab-size 16000 --dtype $dt --seed 3 --out "$TMP/mid-$dt" > "$TMP/mid-$dt.log" 2>&1 ||
        cat "$TMP/mid-$dt.log"
done
# Under AddressSanitizer, freed blocks (the widening buffer's) stay resident
# in its quarantine (256 MB by default): on a Zen 5 that alone put int8
# from BF16 at 73 MB against 63 from F32 (61 / 55 without it), so the
# sanitizer keeps none here (ASAN_OPTIONS is ignored by a plain build).
peak() { # MODEL COMPUTE_TYPE: peak RSS in MB loading it and translating one line
    echo "hello world" | ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
        "$BIN" --model "$1" --compute-type "$2" --bench 2>&1 >/dev/null |
        sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p'
}
for ct in int8 bfloat16; do
    from_bf16=$(peak "$TMP/mid-BF16" $ct) from_f32=$(peak "$TMP/mid-F32" $ct)
    check "$ct from a BF16 file: peak $from_bf16 MB, from the same model in F32 $from_f32 MB (bar +10 MB)" \
        '[ -n "$from_bf16" ] && [ -n "$from_f32" ] && [ "$from_bf16" -le $((from_f32 + 10)) ]'
done
# ... and gives what the same values give from an F32 file (the BF16 one
# widened exactly): the right rows, widened right, block by block
cp -r "$TMP/mid-BF16" "$TMP/mid-wide"
/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import marian_format as mf
mf.save_safetensors(sys.argv[2], mf.load_safetensors(sys.argv[2]), "F32")' "$SRC/tools" "$TMP/mid-wide/model.safetensors"
head -20 "$TMP/sentences.in" > "$TMP/mid.in"
for ct in float32 int8 bfloat16; do
    "$BIN" --model "$TMP/mid-BF16" --compute-type $ct --ids < "$TMP/mid.in" > "$TMP/mid-bf16.$ct"
    "$BIN" --model "$TMP/mid-wide" --compute-type $ct --ids < "$TMP/mid.in" > "$TMP/mid-wide.$ct"
    check "$ct from a BF16 file: the same ids as from its values widened to F32, on 20 lines" \
        '[ "$(wc -l < "$TMP/mid-bf16.$ct")" = 20 ] && cmp -s "$TMP/mid-bf16.$ct" "$TMP/mid-wide.$ct"'
done

# the daemon
S=$(sed -n 7p "$TMP/sentences.in")
declare -A bytes
for ct in int8 bfloat16; do
    start_tracked $ct --model "$DEMO" --compute-type $ct --access-log no || exit 1
    want=$(printf '%s\n' "$S" | "$BIN" --model "$DEMO" --compute-type $ct)
    expect "daemon, compute_type $ct: the same translation as nmtd-translate" 200 \
        ".translation == $(jq -n --arg t "$want" '$t')" /translate -d "$(jq -cn --arg t "$S" '{text: $t}')"
    bytes[$ct]=$(curl -s "127.0.0.1:$PORT/v1/model" | jq .model.weight_bytes)
    kernel=${ct/bfloat16/bf16}
    expect "/v1/model says $ct and which kernel" 200 \
        ".model.compute_type == \"$ct\" and (.model.kernel | test(\"^$kernel-(amx|avx512_vnni|avx512_bf16|avx512|avx2|generic)\$\"))" /v1/model
    kill -TERM "$PID"
    wait "$PID"
done
start_tracked f32 --model "$DEMO" --access-log no || exit 1
f32_bytes=$(curl -s "127.0.0.1:$PORT/v1/model" | jq .model.weight_bytes)
expect "compute_type by default is float32, on the packed kernel where the CPU has one" 200 \
    '.model.compute_type == "float32" and (.model.kernel | test("^(avx512-packed|avx2-packed|openblas)$"))' /v1/model
check "int8 weights take less than a third of float32's (${bytes[int8]} vs $f32_bytes bytes)" \
    '[ $((bytes[int8] * 3)) -lt "$f32_bytes" ]'
check "bfloat16 weights take less than 55% of float32's (${bytes[bfloat16]} vs $f32_bytes bytes)" \
    '[ $((bytes[bfloat16] * 100)) -lt $((f32_bytes * 55)) ]'
kill -TERM "$PID"
wait "$PID"
NMTD_KERNELS=generic start_tracked generic --model "$DEMO" --access-log no --compute-type auto --log-level info || exit 1
expect "NMTD_KERNELS=generic, compute_type auto: float32 on OpenBLAS" 200 \
    '.model.compute_type == "float32" and .model.kernel == "openblas"' /v1/model
check "NMTD_KERNELS=generic: the log says why auto is float32" \
    'grep -q "model en-de-demo: compute_type auto is float32: int8 and bfloat16 have only the portable generic kernels" "$TMP/generic.log"'
kill -TERM "$PID"
wait "$PID"
# auto: int8 wherever int8 has a vector kernel (AVX2 and up), else float32; the log says which and why
if grep -qw avx2 /proc/cpuinfo; then want_auto=int8; else want_auto=float32; fi
start_tracked auto --model "$DEMO" --access-log no --compute-type auto --log-level info || exit 1
expect "compute_type auto on this CPU: $want_auto" 200 ".model.compute_type == \"$want_auto\"" /v1/model
check "the log says what auto picked and why" \
    'grep -Eq "model en-de-demo: compute_type auto is $want_auto: (int8 has the (amx|avx512_vnni|avx2) kernel here|int8 and bfloat16 have only the portable)" "$TMP/auto.log"'
kill -TERM "$PID"
wait "$PID"
"$BIN" --model "$DEMO" --compute-type auto --log-level info < "$TMP/some.in" > "$TMP/some.auto" 2> "$TMP/auto-cli.log"
"$BIN" --model "$DEMO" --compute-type $want_auto < "$TMP/some.in" > "$TMP/some.want_auto"
check "nmtd-translate --compute-type auto: $want_auto's text on 300 lines, and says why" \
    'grep -q "compute_type auto: $want_auto (" "$TMP/auto-cli.log" && cmp -s "$TMP/some.auto" "$TMP/some.want_auto"'
# model_compute_types: one model's type instead of compute_type
start_tracked per-model --model "$DEMO" --access-log no --compute-type float32 \
    --model-compute-types en-de-demo=bfloat16 || exit 1
expect "model_compute_types en-de-demo=bfloat16 overrides compute_type float32" 200 \
    '.model.compute_type == "bfloat16"' /v1/model
kill -TERM "$PID"
wait "$PID"
"$NMTD" --model "$DEMO" --model-compute-types other-model=int8 --port 0 2> "$TMP/bad-named.log"
rc=$?
check "model_compute_types naming no served model: refused at start (exit $rc)" \
    '[ "$rc" -ne 0 ] && grep -q "model_compute_types .other-model=int8. names no served model" "$TMP/bad-named.log"'
"$NMTD" --model "$DEMO" --model-compute-types en-de-demo=int4 --port 0 2> "$TMP/bad-named-type.log"
rc=$?
check "model_compute_types en-de-demo=int4: refused (exit $rc)" \
    '[ "$rc" -ne 0 ] && grep -q "is not NAME=TYPE with TYPE auto, float32, int8 or bfloat16" "$TMP/bad-named-type.log"'
"$NMTD" --model "$DEMO" --compute-type int4 --port 0 2> "$TMP/bad.log"
check "compute_type int4: refused at start (exit $?)" 'grep -q "is not auto, float32, int8 or bfloat16" "$TMP/bad.log"'
"$BIN" --model "$DEMO" --compute-type fp16 < /dev/null 2> "$TMP/bad-cli.log"
check "nmtd-translate --compute-type fp16: refused (exit $?)" \
    'grep -q "must be auto, float32, int8 or bfloat16" "$TMP/bad-cli.log"'
# NMTD_KERNELS stops the choice at its tier, whatever this CPU has above it
for ct in int8 bfloat16; do
    short=${ct/bfloat16/bf16}
    NMTD_KERNELS=avx512 "$BIN" --model "$DEMO" --compute-type $ct --log-level info < /dev/null 2> "$TMP/tier-avx512-$ct.log"
    check "NMTD_KERNELS=avx512: $ct on an AVX-512 kernel or below, not AMX" \
        'grep -Eq "kernel $short-(avx512_vnni|avx512_bf16|avx512|avx2|generic)" "$TMP/tier-avx512-$ct.log"'
    NMTD_KERNELS=avx2 "$BIN" --model "$DEMO" --compute-type $ct --log-level info < /dev/null 2> "$TMP/tier-avx2-$ct.log"
    check "NMTD_KERNELS=avx2: $ct on the AVX2 kernel or below" \
        'grep -Eq "kernel $short-(avx2|generic)" "$TMP/tier-avx2-$ct.log"'
done
# bfloat16 on AVX512_BF16 (AMX held back): the kernel that the measured rate of
# VDPBF16PS picks, and the log says so
if grep -qw avx512_bf16 /proc/cpuinfo; then
    check "NMTD_KERNELS=avx512 on AVX512_BF16: bfloat16's kernel follows the measured VDPBF16PS rate ($(grep -o 'VDPBF16PS does [0-9.]*x' "$TMP/tier-avx512-bfloat16.log"))" \
        'grep -Eq "VDPBF16PS does [0-9.]+x the multiply-adds of VFMADD231PS on this core: kernel (avx512_bf16|avx512) " "$TMP/tier-avx512-bfloat16.log" &&
         rate=$(grep -o "VDPBF16PS does [0-9.]*" "$TMP/tier-avx512-bfloat16.log" | grep -o "[0-9.]*$") &&
         if awk -v r="$rate" "BEGIN { exit !(r >= 1.25) }"; then grep -q "kernel bf16-avx512_bf16" "$TMP/tier-avx512-bfloat16.log"
         else grep -q "kernel bf16-avx512," "$TMP/tier-avx512-bfloat16.log"; fi'
fi
check "int8 says its weight format: +-127 on AMX or VNNI, +-32 on AVX2" \
    'grep -Eq "kernel int8-(amx|avx512_vnni), weights \+-127\)|kernel int8-avx2, weights \+-32\)|kernel int8-generic, weights" \
        "$TMP/tier-avx512-int8.log" && grep -Eq "kernel int8-avx2, weights \+-32\)|kernel int8-generic, weights" \
        "$TMP/tier-avx2-int8.log"'
NMTD_KERNELS=amx "$BIN" --model "$DEMO" < /dev/null 2> "$TMP/bad-kernels.log"
rc=$?
check "NMTD_KERNELS=amx (not a choice): nmtd-translate refuses it (exit $rc)" \
    '[ "$rc" -ne 0 ] && grep -q "NMTD_KERNELS=amx: must be avx512, avx2 or generic" "$TMP/bad-kernels.log"'
NMTD_KERNELS=Generic "$NMTD" --model "$DEMO" --port 0 2> "$TMP/bad-kernels-daemon.log"
rc=$?
check "NMTD_KERNELS=Generic: the daemon refuses to start (exit $rc)" \
    '[ "$rc" -ne 0 ] && grep -q "NMTD_KERNELS=Generic: must be avx512, avx2 or generic" "$TMP/bad-kernels-daemon.log"'
check "no sanitizer reports" '! grep -l "Sanitizer\|runtime error" "$TMP"/*.log'
finish
