#!/bin/sh
# tests/fuzz/run.sh BUILD-DIR SECONDS [TARGET...]
#
# Runs each libFuzzer target of BUILD-DIR (a tree configured with
# CC=clang CXX=clang++ ./configure --enable-fuzzer, then `make fuzz-targets`)
# for SECONDS, one after the other, starting from the committed seeds of
# tests/fuzz/corpus/<target> (read only: new inputs go to a scratch corpus),
# with the dictionary tests/fuzz/dict/<target>.dict and an input size limit
# suited to each.  Targets: all of them unless named.
#
# Environment:
#   NMT_FUZZ_RUNS=N   also stop a target after N executions (whichever first)
#   NMT_FUZZ_WORK=DIR keep the scratch corpora, logs and findings in DIR
#                     (default: a temporary directory, removed at the end
#                     unless there was a finding)
#
# Prints one line per target with its executions and rate; on a finding, the
# reproducer's path, its first bytes and the end of the report, then exits 1
# after the remaining targets ran.  Replay a reproducer with
# BUILD-DIR/tests/fuzz/<target> FILE.
set -u
[ $# -ge 2 ] || { echo "usage: $0 BUILD-DIR SECONDS [TARGET...]" >&2; exit 2; }
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
targets=${*:-fuzz_api fuzz_safetensors fuzz_config fuzz_vocab fuzz_hparams fuzz_segmenter fuzz_libretranslate fuzz_html_text}
work=${NMT_FUZZ_WORK:-}
keep=1
[ -n "$work" ] || { work=$(mktemp -d); keep=0; }

# the largest input each target gets, in bytes: bodies of a few sentences,
# synthetic safetensors headers, config files, a small vocab.json, config.json
# plus generation_config.json
max_len() {
    case $1 in
    fuzz_api) echo 4096 ;;
    fuzz_safetensors) echo 4096 ;;
    fuzz_config) echo 8192 ;;
    fuzz_vocab) echo 8192 ;;
    fuzz_hparams) echo 4096 ;;
    *) echo 4096 ;;
    esac
}

found=0
for t in $targets; do
    bin="$build/tests/fuzz/$t"
    if [ ! -x "$bin" ]; then
        echo "FAIL - $t: $bin is not built (make fuzz-targets in a --enable-fuzzer tree)"
        found=1
        continue
    fi
    dir="$work/$t"
    mkdir -p "$dir/corpus" "$dir/findings"
    runs=""
    [ -n "${NMT_FUZZ_RUNS:-}" ] && runs="-runs=$NMT_FUZZ_RUNS"
    # shellcheck disable=SC2086
    "$bin" "$dir/corpus" "$src/tests/fuzz/corpus/$t" \
        -max_total_time="$secs" $runs -max_len="$(max_len "$t")" \
        -dict="$src/tests/fuzz/dict/$t.dict" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/findings/" -print_final_stats=1 > "$dir/log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log")
    seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$dir/log")
    corpus=$(find "$dir/corpus" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "ok - $t: ${execs:-?} executions in ${seconds:-?} s (${rate:-?}/s), $corpus new corpus inputs"
    else
        found=1
        echo "FAIL - $t: exit $rc after ${execs:-?} executions; findings in $dir/findings:"
        for f in "$dir"/findings/*; do
            [ -f "$f" ] || continue
            echo "  $f ($(wc -c < "$f") bytes):"
            od -A d -c "$f" | head -8 | sed 's/^/    /'
        done
        grep -E "ERROR|SUMMARY|runtime error|fuzz check failed|^    #[0-9]" "$dir/log" | head -25 | sed 's/^/  /'
    fi
done
if [ "$found" -eq 0 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$work"
elif [ "$found" -ne 0 ]; then
    echo "fuzz: logs and findings kept in $work"
fi
exit "$found"
