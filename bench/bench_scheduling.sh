#!/bin/bash
# bench/bench_scheduling.sh - static against continuous batching through the
# daemon, in one run: short-request latency under a mixed load, and tokens per
# second at saturation.
#
#   bench/bench_scheduling.sh [MODEL_DIR]
#
# The model should never end a sentence by itself, so that a request's
# max_length fixes its output length exactly; the default is one with the
# opus-mt-en-de shapes written by
#   tools/make_random_model.py --preset opus-mt-en-de --suppress-eos --out DIR
# (made in $BENCH_DIR/opus-noeos on first use, ~300 MB, a few seconds).
#
# 1. Short capacity: SHORT_CAP_N short requests (SHORT_TOKENS each) from 64
#    clients, continuous scheduling, alone: requests per second.  The mixed
#    load's short stream runs at SHORT_LOAD (default 0.5) of that, unless
#    SHORT_RATE (requests per minute) is given.
# 2. Mixed load, once per mode: LONG_CLIENTS clients each send long requests
#    (LONG_TOKENS) back to back the whole time; after WARM_S seconds a stream
#    of short requests arrives at a fixed rate for SHORT_SECONDS (default 60),
#    one curl each (an open loop: arrivals do not wait for answers).  Reported: the short requests' latency
#    p50/p90/p99 (curl's time_total) and the tokens of every request answered
#    while the short stream ran, per second.  When the last short answer is in,
#    the long clients are stopped (their requests in flight are not counted).
# 3. Saturation, once per mode: SAT_N requests from 64 clients, output lengths
#    cycling through 4 8 16 32 64 96, all sent at once; tokens per second
#    until the last answer, peak RSS of the daemon, and how many answers equal
#    nmtd-translate's offline translation of the same sentence and length.
#
# Modes (MODES, default "static continuous"): static and continuous are
# ./nmtd with --scheduling; "base" is BASE_NMTD (a build of an earlier commit,
# e.g. the last before continuous batching), run with the same flags but no
# --scheduling.  A mode may carry more flags after commas, e.g.
# "continuous,--admit-min-rows=4,--admit-interval-steps=4".  Every mode runs
# WORKERS workers (default 2) of one OpenBLAS thread, max_batch_sentences
# BATCH (default 32), max_wait_ms 5.  REPS (default 1)
# repeats 2 and 3, the modes interleaved.  Talks only to 127.0.0.1 on ports
# the kernel picks; every daemon and client it starts is stopped by PID.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=${BENCH_DIR:-/tmp/nmtd-bench-scheduling}
model=${1:-$bench_dir/opus-noeos}
nmtd=${NMTD:-$root/nmtd}
translate=${NMTD_TRANSLATE:-$root/nmtd-translate}
modes=${MODES:-static continuous}
workers=${WORKERS:-2}
batch=${BATCH:-32}
short_tokens=${SHORT_TOKENS:-4}
long_tokens=${LONG_TOKENS:-96}
long_clients=${LONG_CLIENTS:-4}
short_seconds=${SHORT_SECONDS:-60}
short_cap_n=${SHORT_CAP_N:-256}
short_load=${SHORT_LOAD:-0.5}
warm_s=${WARM_S:-3}
sat_n=${SAT_N:-384}
reps=${REPS:-1}
tmp=$(mktemp -d)
daemon_pid="" long_pid=""
stop_all() {
    [ -n "$long_pid" ] && kill "$long_pid" 2>/dev/null
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap stop_all EXIT

if [ ! -f "$model/config.json" ]; then
    [ -z "${1:-}" ] || { echo "bench_scheduling: no model in $model" >&2; exit 1; }
    mkdir -p "$bench_dir"
    /usr/bin/python3 "$root/tools/make_random_model.py" --preset opus-mt-en-de --suppress-eos \
        --out "$model" --force >&2
fi

# sentences: 12..24 words, one sentence each (no inner punctuation), fixed seed
awk -v n=$((sat_n + short_cap_n + 400 + 5000)) 'BEGIN {
    split("the a old young man woman house river boat city market train letter bread milk coffee " \
          "teacher child friend garden window morning evening walked looked bought wrote found " \
          "carried opened closed slowly quickly never always every small green long quiet near " \
          "under over before after with from into across behind beside", w, " ")
    nw = length(w); srand(7)
    for (i = 0; i < n; i++) {
        k = 12 + int(rand() * 13); s = ""
        for (j = 0; j < k; j++) s = s (j ? " " : "") w[1 + int(rand() * nw)]
        print toupper(substr(s, 1, 1)) substr(s, 2) "."
    }
}' > "$tmp/sentences.txt"

now() { date +%s.%N; }

# start_daemon MODE[,FLAG...]: sets daemon_pid and port
start_daemon() {
    local bin=$nmtd sched=() extra=()
    IFS=, read -r -a extra <<< "$1"
    case ${extra[0]} in
    base) bin=${BASE_NMTD:?MODES has base: set BASE_NMTD to an earlier build of nmtd} ;;
    continuous) sched=(--scheduling continuous) ;;
    static) sched=(--scheduling static) ;;
    *) echo "bench_scheduling: unknown mode $1" >&2; exit 1 ;;
    esac
    sched+=("${extra[@]:1}")
    "$bin" --model "$model" --listen-address 127.0.0.1 --port 0 --workers "$workers" --blas-threads 1 \
        --max-batch-sentences "$batch" --max-wait-ms 5 --request-timeout-ms 600000 --queue-capacity 100000 \
        --access-log no "${sched[@]}" 2> "$tmp/nmtd.log" &
    daemon_pid=$!
    port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/nmtd.log")
        [ -n "$port" ] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    cat "$tmp/nmtd.log" >&2
    exit 1
}
stop_daemon() {
    rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$daemon_pid/status")
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
    daemon_pid=""
}

# curl_config NAME FIRST COUNT TOKENS...: a curl -K file of COUNT requests for
# sentences FIRST.. with max_length cycling through TOKENS; each answer saved
curl_config() {
    local name=$1 first=$2 count=$3
    shift 3
    mkdir -p "$tmp/$name"
    awk -v f="$first" -v n="$count" 'NR >= f && NR < f + n' "$tmp/sentences.txt" |
        awk -v l="$*" 'BEGIN { k = split(l, len, " ") } { print len[(NR - 1) % k + 1] "\t" $0 }' |
        jq -Rc 'split("\t") | {text: .[1], max_length: (.[0] | tonumber)}' |
        awk -v d="$tmp/$name" '{ f = d "/q" (NR - 1) ".json"; print > f; close(f)
            printf "next\nurl = \"http://127.0.0.1:PORT/translate\"\ndata-binary = \"@%s/q%d.json\"\n", d, NR - 1
            printf "output = \"%s/a%d.json\"\nwrite-out = \"%%{http_code} %%{time_total}\\n\"\n", d, NR - 1 }' \
        > "$tmp/$name.cfg"
}
# run_curl NAME CLIENTS: runs NAME's requests against $port, at most CLIENTS
# at once; one line "STATUS SECONDS" per answer in $tmp/NAME.out
run_curl() {
    sed "s/PORT/$port/" "$tmp/$1.cfg" > "$tmp/$1.run.cfg"
    curl -s --no-progress-meter -m 900 --parallel --parallel-max "$2" -K "$tmp/$1.run.cfg" > "$tmp/$1.out" || true
}
# run_stream NAME PER_MINUTE: NAME's requests, one curl each, started at a
# fixed rate whether or not earlier ones were answered (an open loop: curl's
# own --rate does nothing with --parallel); waits for the last answer
run_stream() {
    local n interval_us start_us due_us now_us i pids=()
    n=$(ls "$tmp/$1" | grep -c '^q')
    interval_us=$((60000000 / $2))
    : > "$tmp/$1.out"
    start_us=${EPOCHREALTIME/./}
    for ((i = 0; i < n; i++)); do
        due_us=$((start_us + i * interval_us))
        now_us=${EPOCHREALTIME/./}
        [ "$due_us" -gt "$now_us" ] && sleep "$(printf '%d.%06d' $(((due_us - now_us) / 1000000)) $(((due_us - now_us) % 1000000)))"
        curl -s -m 900 -o "$tmp/$1/a$i.json" -w '%{http_code} %{time_total}\n' --data-binary "@$tmp/$1/q$i.json" \
            "http://127.0.0.1:$port/translate" >> "$tmp/$1.out" &
        pids+=($!)
    done
    wait "${pids[@]}" || true
}
# percentile P FILE: nearest-rank percentile of the numbers in FILE
percentile() { sort -g "$2" | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'; }
ok_count() { grep -c '^200 ' "$1" || true; }
# answered NAME: how many of NAME's answers are in (curl writes its status
# lines only at exit when they go to a file, the answers at once)
answered() { grep -l '"translation"' "$tmp/$1"/a*.json 2>/dev/null | wc -l; }

first_short_cap=1
first_sat=$((first_short_cap + short_cap_n))
first_long=$((first_sat + sat_n))
first_short=$((first_long + 400))
curl_config cap "$first_short_cap" "$short_cap_n" "$short_tokens"
curl_config long "$first_long" 400 "$long_tokens"
curl_config sat "$first_sat" "$sat_n" 4 8 16 32 64 96

# offline answers for the saturation requests, one run per output length
for len in 4 8 16 32 64 96; do
    awk -v f="$first_sat" -v n="$sat_n" 'NR >= f && NR < f + n' "$tmp/sentences.txt" |
        awk 'BEGIN { split("4 8 16 32 64 96", l, " ") } { print (l[(NR - 1) % 6 + 1]) "\t" $0 }' |
        awk -F'\t' -v len="$len" '$1 == len { print $2 }' > "$tmp/offline-$len.in"
    "$translate" --model "$model" --batch-size "$batch" --workers "$workers" --threads "$workers" \
        --max-length "$len" < "$tmp/offline-$len.in" > "$tmp/offline-$len.out" 2>/dev/null
done
awk -v f="$first_sat" -v n="$sat_n" 'NR >= f && NR < f + n' "$tmp/sentences.txt" |
    awk 'BEGIN { split("4 8 16 32 64 96", l, " ") } { print l[(NR - 1) % 6 + 1] }' > "$tmp/sat.lens"
: > "$tmp/sat.expected"
declare -A next_line
while read -r len; do
    next_line[$len]=$((${next_line[$len]:-0} + 1))
    sed -n "${next_line[$len]}p" "$tmp/offline-$len.out" >> "$tmp/sat.expected"
done < "$tmp/sat.lens"

# 1. short capacity, continuous, alone
if [ -n "${SHORT_RATE:-}" ]; then
    rate_pm=$SHORT_RATE
    cap="(given)"
else
    start_daemon continuous
    t0=$(now)
    run_curl cap 64
    t1=$(now)
    stop_daemon
    cap=$(awk -v n="$(ok_count "$tmp/cap.out")" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
    rate_pm=$(awk -v c="$cap" -v f="$short_load" 'BEGIN { r = int(c * f * 60 + 0.5); print (r < 1 ? 1 : r) }')
fi
short_n=$((rate_pm * short_seconds / 60))
[ "$short_n" -gt 5000 ] && short_n=5000
[ "$short_n" -lt 10 ] && short_n=10
curl_config short "$first_short" "$short_n" "$short_tokens"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
flags=$(grep -o -w 'avx2\|fma\|avx512[a-z_0-9]*\|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "machine: $cpu, $(nproc) cores, flags: $flags"
echo "model: $model; workers $workers x 1 thread, max_batch_sentences $batch, max_wait_ms 5"
echo "short capacity alone (continuous, 64 clients, $short_cap_n requests of $short_tokens tokens): $cap req/s;" \
    "short stream: $rate_pm per minute"
echo

mixed_rows="" sat_rows=""
for rep in $(seq 1 "$reps"); do
    for mode in $modes; do
        # 2. mixed load
        start_daemon "$mode"
        sed "s/PORT/$port/" "$tmp/long.cfg" > "$tmp/long.run.cfg"
        rm -f "$tmp"/long/a*.json
        curl -s --no-progress-meter -m 900 --parallel --parallel-max "$long_clients" \
            -K "$tmp/long.run.cfg" > "$tmp/long.out" 2>/dev/null &
        long_pid=$!
        sleep "$warm_s"
        longs_before=$(answered long)
        t0=$(now)
        run_stream short "$rate_pm"
        t1=$(now)
        longs_after=$(answered long)
        kill "$long_pid" 2>/dev/null || true
        wait "$long_pid" 2>/dev/null || true
        long_pid=""
        stop_daemon
        short_ok=$(ok_count "$tmp/short.out")
        awk '$1 == 200 { print $2 }' "$tmp/short.out" > "$tmp/short.lat"
        p50=$(percentile 50 "$tmp/short.lat") p90=$(percentile 90 "$tmp/short.lat") p99=$(percentile 99 "$tmp/short.lat")
        tps=$(awk -v s="$short_ok" -v st="$short_tokens" -v l=$((longs_after - longs_before)) -v lt="$long_tokens" \
            -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (s * st + l * lt) / (b - a) }')
        mixed_rows+=$(printf '| %d | %s | %.3f | %.3f | %.3f | %d/%d | %d | %s | %.1f |' "$rep" "$mode" "$p50" "$p90" "$p99" \
            "$short_ok" "$short_n" $((longs_after - longs_before)) "$tps" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")$'\n'

        # 3. saturation
        start_daemon "$mode"
        t0=$(now)
        rm -f "$tmp"/sat/a*.json
        run_curl sat 64
        t1=$(now)
        stop_daemon
        ok=$(ok_count "$tmp/sat.out")
        same=0
        for ((i = 0; i < sat_n; i++)); do
            [ "$(jq -r .translation "$tmp/sat/a$i.json" 2>/dev/null)" = "$(sed -n "$((i + 1))p" "$tmp/sat.expected")" ] &&
                same=$((same + 1))
        done
        tokens=$(awk '{ s += $1 } END { print s }' "$tmp/sat.lens")
        sat_rows+=$(printf '| %d | %s | %d/%d | %d | %.0f | %d | %d/%d |' "$rep" "$mode" "$ok" "$sat_n" "$tokens" \
            "$(awk -v t="$tokens" -v a="$t0" -v b="$t1" 'BEGIN { print t / (b - a) }')" $((rss_kb / 1024)) "$same" "$sat_n")$'\n'
    done
done

echo "Mixed load: $long_clients clients sending ${long_tokens}-token requests back to back;" \
    "$short_n ${short_tokens}-token requests arriving at $rate_pm per minute"
echo
echo "| rep | mode | short p50 s | short p90 s | short p99 s | short 200s | long answered | tokens/s | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s' "$mixed_rows"
echo
echo "Saturation: $sat_n requests, outputs of 4 8 16 32 64 96 tokens in turn, 64 clients"
echo
echo "| rep | mode | 200s | tokens | tokens/s | peak RSS MiB | same as offline |"
echo "|---|---|---|---|---|---|---|"
printf '%s' "$sat_rows"
