#!/bin/bash
# Memory of several models in one daemon: peak RSS (VmHWM) of nmtd serving
# one model, then the same weights as three models (three directories of
# symbolic links to one model's files, declared as three pairs with
# model_languages), each translating requests from 16 clients; against the
# models' weight bytes from /metrics.  Shows that a model costs its weights
# and nothing per model beside them (the workers are shared).  Then the
# three models again with preload = no and max_loaded_models = 1: peak RSS
# near one model's, at the price of the loads (the pairs' requests come one
# pair after the other, so each model loads about once).
#
#   bench/bench_models.sh [MODEL]     (default: an opus-mt-en-de-sized random model
#                                      written by tools/make_random_model.py)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
NMTD=${NMTD:-$root/nmtd}
TMP=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"; }
trap cleanup EXIT
MODEL=${1:-}
if [ -z "$MODEL" ]; then
    MODEL=$TMP/opus
    /usr/bin/python3 "$root/tools/make_random_model.py" --preset opus-mt-en-de --out "$MODEL" > /dev/null
fi
for name in pair-a pair-b pair-c; do
    mkdir "$TMP/$name"
    for f in "$MODEL"/*; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$TMP/$name/"; done
done

run() { # LABEL ARGS...: starts nmtd, 48 requests per pair from 16 clients, prints a table row
    local label=$1
    shift
    "$NMTD" --listen-address 127.0.0.1 --port 0 --workers 2 --access-log no "$@" 2> "$TMP/log" &
    PID=$!
    local port=""
    for _ in $(seq 1 600); do
        port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$TMP/log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$TMP/log"; exit 1; }
    for p in $PAIRS; do
        printf '{"text": "The old woman reads the newspaper in the garden today.", "max_length": 24, "source": "%s", "target": "%s"}' \
            "${p%-*}" "${p#*-}" > "$TMP/body-$p"
    done
    local t0 t1
    t0=$(date +%s.%N)
    for p in $PAIRS; do
        for i in $(seq 1 48); do
            printf 'next\nurl = "http://127.0.0.1:%s/translate"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\\\n"\nsilent\n' "$port" "$TMP/body-$p"
        done
    done > "$TMP/curl.cfg"
    curl -s --no-progress-meter --parallel --parallel-max 16 -K "$TMP/curl.cfg" -w '%{http_code}\n' > "$TMP/codes"
    t1=$(date +%s.%N)
    local ok weights hwm loads
    ok=$(grep -c '^200$' "$TMP/codes" || true)
    curl -s "127.0.0.1:$port/metrics" > "$TMP/metrics"
    weights=$(awk '/^nmtd_model_weight_bytes/ {s += $2} END {printf "%.0f", s / 1048576}' "$TMP/metrics")
    loads=$(awk '/^nmtd_model_loads_total/ {s += $2} END {print s}' "$TMP/metrics")
    hwm=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$PID/status")
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    printf '| %s | %s | %s/%s | %s | %s MiB | %s MiB | %s MiB | %.1f s |\n' "$label" "$PAIRS" "$ok" \
        "$(wc -l < "$TMP/codes")" "$loads" "$weights" "$hwm" "$((hwm - weights))" "$(echo "$t1 - $t0" | bc)"
}

echo "# bench_models: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores," \
     "flags: $(grep -o -w 'avx512[a-z_0-9]*\|amx[a-z_0-9]*\|avx2\|fma' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# model: $MODEL; 2 workers x 1 BLAS thread; 48 requests per pair, 16 clients"
echo
echo "| daemon | pairs | answered | loads | weights loaded at the end (/metrics) | peak RSS | RSS - weights | time |"
echo "|---|---|---|---|---|---|---|---|"
PAIRS="en-de" run "one model" --model "$TMP/pair-a" --model-languages pair-a=en-de
PAIRS="en-de de-en en-fr" run "three models" --model "$TMP/pair-a" --model "$TMP/pair-b" --model "$TMP/pair-c" \
    --model-languages pair-a=en-de --model-languages pair-b=de-en --model-languages pair-c=en-fr
PAIRS="en-de de-en en-fr" run "three models, preload no, max_loaded_models 1" --model "$TMP/pair-a" --model "$TMP/pair-b" \
    --model "$TMP/pair-c" --model-languages pair-a=en-de --model-languages pair-b=de-en --model-languages pair-c=en-fr \
    --preload no --max-loaded-models 1
