#!/bin/sh
# bench/accuracy.sh - exact-match accuracy of the C engine (nmtd-translate)
# on the demo model's held-out sets (sentences and numbers never seen in
# training; tests/data/heldout-*.tsv, "english<TAB>german").
#   bench/accuracy.sh [MODEL_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/models/en-de-demo}
bin=${NMTD_TRANSLATE:-./nmtd-translate}
for set in numbers sentences; do
    file="$root/tests/data/heldout-$set.tsv"
    cut -f1 "$file" | "$bin" --model "$model" --threads 2 | paste - "$file" |
        awk -F '\t' -v set="$set" '{ n++; if ($1 == $3) ok++ }
            END { printf "%s: %d / %d exact (%.2f%%)\n", set, ok, n, 100 * ok / n }'
done
