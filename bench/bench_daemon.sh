#!/bin/bash
# bench/bench_daemon.sh - sentences per second through the daemon under
# concurrent clients, against nmtd-translate offline on the same sentences,
# model, batch size and workers, in the same run.
#
#   bench/bench_daemon.sh [MODEL_DIR] [INPUT_FILE]
#
# Defaults: the demo model and the first 2000 held-out inputs from
# tests/data/heldout-*.tsv.  Environment: N (requests, default 2000),
# CONCURRENCY (default 64), WORKERS (default 2), BATCH (default 32),
# MAX_WAIT_MS (default 5), COMPUTE_TYPE (default auto; both sides), NMTD and
# NMTD_TRANSLATE (binaries, default ./).
# Talks only to 127.0.0.1 on a port the kernel picks; stops the daemon it
# starts.  One sentence per request: the hardest case for the batcher.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-$root/models/en-de-demo}
n=${N:-2000}
conc=${CONCURRENCY:-64}
workers=${WORKERS:-2}
batch=${BATCH:-32}
wait_ms=${MAX_WAIT_MS:-5}
nmtd=${NMTD:-./nmtd}
translate=${NMTD_TRANSLATE:-./nmtd-translate}
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

if [ $# -ge 2 ]; then
    head -n "$n" "$2" > "$tmp/in.txt"
else
    cat "$root"/tests/data/heldout-sentences.tsv "$root"/tests/data/heldout-numbers.tsv | cut -f1 |
        awk 'NR % 2 == 1' | head -n "$n" > "$tmp/in.txt"
fi
n=$(wc -l < "$tmp/in.txt")

now() { date +%s.%N; }

# offline (its own --bench timing: decoding only, loading excluded, like the daemon's)
"$translate" --model "$model" --batch-size "$batch" --threads "$workers" --workers "$workers" --bench \
    --compute-type "${COMPUTE_TYPE:-auto}" \
    < "$tmp/in.txt" > "$tmp/offline.txt" 2> "$tmp/offline.err"
offline=$(sed -n 's/.*sentences_per_s=\([0-9.]*\).*/\1/p' "$tmp/offline.err")

# daemon
"$nmtd" --model "$model" --port 0 --workers "$workers" --max-batch-sentences "$batch" --max-wait-ms "$wait_ms" \
    --compute-type "${COMPUTE_TYPE:-auto}" \
    --access-log no 2> "$tmp/nmtd.log" &
pid=$!
port=""
for _ in $(seq 1 300); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/nmtd.log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/nmtd.log"; exit 1; }
: > "$tmp/curl.cfg"
i=0
while IFS= read -r line; do
    i=$((i + 1))
    jq -cn --arg t "$line" '{text: $t}' > "$tmp/r$i.json"
    printf 'next\nurl = "http://127.0.0.1:%s/translate"\ndata-binary = "@%s/r%d.json"\noutput = "%s/o%d.json"\nwrite-out = "%%{http_code}\\n"\n' \
        "$port" "$tmp" "$i" "$tmp" "$i" >> "$tmp/curl.cfg"
done < "$tmp/in.txt"
t0=$(now)
curl -s --no-progress-meter -m 600 --parallel --parallel-max "$conc" -K "$tmp/curl.cfg" > "$tmp/status.txt"
t1=$(now)
online=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { print n / (b - a) }')
ok=$(grep -c '^200$' "$tmp/status.txt" || true)
same=0
for j in $(seq 1 "$n"); do
    [ "$(jq -r .translation "$tmp/o$j.json" 2>/dev/null)" = "$(sed -n "${j}p" "$tmp/offline.txt")" ] && same=$((same + 1))
done
batches=$(curl -s "127.0.0.1:$port/metrics" | sed -n 's/^nmtd_batch_sentences_count //p')
kill -TERM "$pid"; wait "$pid" || true; pid=""
printf '| sentences | workers | batch | concurrency | offline sent/s | daemon sent/s | daemon / offline | 200s | same as offline | batches |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
printf '| %d | %d | %d | %d | %.0f | %.0f | %.2f | %d | %d | %s |\n' "$n" "$workers" "$batch" "$conc" "$offline" \
    "$online" "$(awk -v a="$online" -v b="$offline" 'BEGIN { print a / b }')" "$ok" "$same" "${batches:-?}"
