#!/bin/bash
# bench/bench_compare.sh - two nmtd-translate builds side by side: the same
# model, sentences and settings, runs interleaved (A B A B ...) so that the
# noise of shared cores falls on both alike; reports the median target
# tokens/s of each, the ratio B / A, and whether their outputs (ids and text)
# are byte-identical.  For a change that must not alter results or speed
# (a refactoring), or one that must speed up without altering results.
#
#   bench/bench_compare.sh OLD_BINARY NEW_BINARY MODEL_DIR SENTENCES_FILE
#
# Build the old one from a worktree, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && autoreconf -fi &&
#     ./configure -q && make -j2 nmtd-translate)
# and use the model and sentences that bench/bench_engine.sh writes
# (BENCH_DIR=/tmp/nb BENCH_SKIP=nmtd,reference,sgemm bench/bench_engine.sh).
#
# Environment: COMPARE_REPS (default 5), COMPARE_CONFIGS (default
# "32:2 1:2": batch:threads pairs), COMPARE_OUT_TOKENS (default 32: output
# held at that length with --min-length/--max-length), COMPARE_B1_LINES
# (default 32: sentences used at batch 1).
set -u
[ $# -eq 4 ] || { sed -n '2,20p' "$0" >&2; exit 2; }
old=$1 new=$2 model=$3 sentences=$4
reps=${COMPARE_REPS:-5}
configs=${COMPARE_CONFIGS:-32:2 1:2}
out_tokens=${COMPARE_OUT_TOKENS:-32}
b1_lines=${COMPARE_B1_LINES:-32}
work=$(mktemp -d "${TMPDIR:-/tmp}/nmtd-compare.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else printf "%.1f\n", (v[NR/2]+v[NR/2+1])/2}'; }

echo "| batch | threads | A tok/s (median of $reps) | B tok/s | B / A | outputs identical |"
echo "|---|---|---|---|---|---|"
status=0
for cfg in $configs; do
    b=${cfg%%:*} t=${cfg##*:}
    input=$sentences
    if [ "$b" -eq 1 ]; then
        head -n "$b1_lines" "$sentences" > "$work/b1.txt"
        input=$work/b1.txt
    fi
    : > "$work/a.tps"; : > "$work/b.tps"
    for r in $(seq "$reps"); do
        for side in a b; do
            bin=$old; [ $side = b ] && bin=$new
            "$bin" --model "$model" --ids --batch-size "$b" --threads "$t" --max-length "$out_tokens" \
                --min-length "$out_tokens" --bench < "$input" > "$work/$side.out" 2> "$work/$side.err" ||
                { echo "bench_compare: $bin failed:" >&2; tail -3 "$work/$side.err" >&2; exit 1; }
            sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' "$work/$side.err" | tail -1 >> "$work/$side.tps"
        done
        same=yes
        cmp -s "$work/a.out" "$work/b.out" || { same=NO; status=1; }
    done
    ma=$(median < "$work/a.tps") mb=$(median < "$work/b.tps")
    ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}')
    echo "| $b | $t | $ma | $mb | $ratio | $same |"
done
exit $status
