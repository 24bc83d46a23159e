#!/bin/sh
# make check: every committed seed of tests/fuzz/corpus/<target> through its
# fuzz target, once.  Built without --enable-fuzzer the targets carry
# replay.c's main; with it they are libFuzzer binaries, which run input files
# named on the command line once each (and write nothing).  Under the
# ASan/UBSan build this is where a sanitizer report on a seed, or on the
# regression seed of an old finding, shows up.
set -u
B=${NMT_BUILDDIR:-.}
S=${NMT_SRCDIR:-.}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0
for target in fuzz_api fuzz_safetensors fuzz_config fuzz_vocab fuzz_hparams fuzz_segmenter fuzz_libretranslate fuzz_html_text; do
    corpus="$S/tests/fuzz/corpus/$target"
    # seed names have no spaces (tests/fuzz/README.md)
    seeds=$(find "$corpus" -type f | LC_ALL=C sort)
    n=$(echo "$seeds" | grep -c .)
    # shellcheck disable=SC2086
    if [ "$n" -gt 0 ] && "$B/tests/fuzz/$target" $seeds > "$log" 2>&1; then
        pass=$((pass + 1))
        echo "ok - $target: $n seeds"
    else
        fail=$((fail + 1))
        echo "FAIL - $target ($n seeds); the end of its output:"
        tail -40 "$log"
    fi
done
echo "fuzz corpus replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
