#!/bin/bash
# bench/bench_engine.sh - greedy decoding speed of nmtd-translate against the
# PyTorch reference (tools/reference.py, KV cache), in the same run, on a
# random-weight model with the exact shapes of Helsinki-NLP/opus-mt-en-de
# (vocab 58101, d_model 512, 6+6 layers, 8 heads, FFN 2048, swish).
#
#   bench/bench_engine.sh                 (from the top of the source tree)
#
# What it does:
#  (a) writes the model with tools/make_random_model.py --preset opus-mt-en-de
#      --omit-lm-head (~296 MB fp32, like the real checkpoint: one copy of the
#      tied embedding) into $BENCH_DIR (default: a temporary directory, removed
#      at the end; a model already in $BENCH_DIR is reused);
#  (b) generates 256 deterministic English-ish source sentences of exactly
#      20 source ids each (19 SentencePiece pieces + </s>, checked with
#      source.spm and vocab.json);
#  (c) for batch 1 and 32, threads 1 and 2, runs
#        $NMTD_TRANSLATE --model DIR --batch-size B --threads T --max-length 32 --min-length 32 --bench
#        tools/reference.py --model DIR --batch-size B --threads T --max-length 32 --min-length 32 --bench
#      one after the other (output held at 32 tokens: </s> is suppressed until
#      then, so random weights cannot stop early); batch 1 uses only the first
#      32 sentences to stay short; every run is under `timeout $BENCH_TIMEOUT`;
#  (d) prints a markdown table: target tokens/s and sentences/s of each, the
#      ratio nmtd / reference, peak RSS of each (from /usr/bin/time -v
#      "Maximum resident set size"; apt-get install time if it is missing,
#      else the peak_rss_mb of the --bench line), whether the outputs are
#      identical, and the fp32 weight size;
#  (e) compiles bench/sgemm_peak.c and measures cblas_sgemm (and sgemv for
#      M = 1) GFLOP/s on the decode shapes at 1 and 2 OpenBLAS threads, then
#      sets the GFLOP/s that nmtd achieved against the BLAS-bound ceiling.
#
# Environment:
#   NMTD_TRANSLATE  nmtd-translate binary (default ./nmtd-translate)
#   REFERENCE       reference script (default tools/reference.py)
#   BENCH_DIR       work directory, kept if given (default: mktemp -d, removed)
#   BENCH_TIMEOUT   seconds per configuration and program (default 900)
#   BENCH_BATCHES   default "1 32";  BENCH_THREADS  default "1 2"
#   BENCH_SENTENCES default 256;     BENCH_BATCH1_SENTENCES default 32
#   BENCH_OUT_TOKENS default 32 (--max-length and --min-length)
#   BENCH_COMPUTE   nmtd's compute types, default "float32 int8 bfloat16" (float32 is the one
#                   compared with the reference; the others get their own table
#                   against float32 in the same run)
#   BENCH_SKIP      comma list of parts to skip: nmtd,reference,sgemm,gemm (gemm:
#                   bench/gemm_bench, the int8 product and its instruction ceiling)
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
nmtd=${NMTD_TRANSLATE:-./nmtd-translate}
reference=${REFERENCE:-$root/tools/reference.py}
timeout_s=${BENCH_TIMEOUT:-900}
batches=${BENCH_BATCHES:-1 32}
threads_list=${BENCH_THREADS:-1 2}
n_sent=${BENCH_SENTENCES:-256}
n_sent_b1=${BENCH_BATCH1_SENTENCES:-32}
out_tokens=${BENCH_OUT_TOKENS:-32}
skip=",${BENCH_SKIP:-},"

if [ -n "${BENCH_DIR:-}" ]; then
    work=$BENCH_DIR
    mkdir -p "$work" || exit 1
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/nmtd-bench.XXXXXX") || exit 1
    trap 'rm -rf "$work"' EXIT
fi
model=$work/opus-mt-en-de-random
res=$work/results
rm -rf "$res"
mkdir -p "$res"

log() { printf 'bench: %s\n' "$*" >&2; }

# ---- (a) the model -------------------------------------------------------
if [ -f "$model/model.safetensors" ] && [ -f "$model/config.json" ]; then
    log "reusing the model in $model"
else
    log "writing the random opus-mt-en-de-shaped model to $model"
    "$py" "$root/tools/make_random_model.py" --preset opus-mt-en-de --omit-lm-head \
        --seed 1 --force --out "$model" || { log "make_random_model.py failed"; exit 1; }
fi

# ---- (b) the sentences ---------------------------------------------------
MODEL=$model N=$n_sent ROOT=$root "$py" - >"$work/sentences.txt" <<'EOF' || { log "sentence generation failed"; exit 1; }
import json, os, sys
import numpy as np
import sentencepiece as spm
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tools"))
from make_random_model import EN_WORDS
m = os.environ["MODEL"]
sp = spm.SentencePieceProcessor(model_file=os.path.join(m, "source.spm"))
vocab = json.load(open(os.path.join(m, "vocab.json"), encoding="utf-8"))
words = [w for w in EN_WORDS if w.isalpha()]
rng = np.random.default_rng(2024)
target = 20  # source ids including </s>
out = []
while len(out) < int(os.environ["N"]):
    ws = []
    while True:
        ws.append(words[int(rng.integers(0, len(words)))])
        s = " ".join(ws)
        s = s[:1].upper() + s[1:] + "."
        n = len(sp.encode(s, out_type=str)) + 1
        if n >= target:
            break
    if n == target:
        out.append(s)
unk = sum(1 for s in out for p in sp.encode(s, out_type=str) if p not in vocab)
print("\n".join(out))
print("bench: %d sentences, %d source ids each (incl. </s>), %d unknown pieces"
      % (len(out), target, unk), file=sys.stderr)
EOF
head -n "$n_sent_b1" "$work/sentences.txt" >"$work/sentences_b1.txt"

have_time=0
if [ -x /usr/bin/time ] && /usr/bin/time -v true >/dev/null 2>&1; then
    have_time=1
else
    log "/usr/bin/time -v is missing (Debian: apt-get install time); peak RSS comes from the --bench lines"
fi

# run NAME PREFIX CMD...: runs CMD under timeout (+ time -v), stdin from $input,
# records $res/NAME.{out,err,rc,rss}
run() {
    local name=$1; shift
    local rc
    cut -d' ' -f1 /proc/loadavg >"$res/$name.load" 2>/dev/null
    if [ $have_time = 1 ]; then
        timeout "$timeout_s" /usr/bin/time -v -o "$res/$name.time" "$@" <"$input" >"$res/$name.out" 2>"$res/$name.err"
        rc=$?
        sed -n 's/.*Maximum resident set size (kbytes): *//p' "$res/$name.time" >"$res/$name.rss_kb" 2>/dev/null
    else
        timeout "$timeout_s" "$@" <"$input" >"$res/$name.out" 2>"$res/$name.err"
        rc=$?
    fi
    echo $rc >"$res/$name.rc"
    if [ $rc = 124 ]; then
        log "$name: timed out after ${timeout_s}s"
    elif [ $rc != 0 ]; then
        log "$name: exit status $rc; stderr tail:"
        tail -n 5 "$res/$name.err" >&2
    fi
}

# ---- (c) the runs --------------------------------------------------------
nmtd_ok=1
case $skip in *,nmtd,*) nmtd_ok=0; log "skipping nmtd (BENCH_SKIP)";; esac
if [ $nmtd_ok = 1 ] && ! { [ -x "$nmtd" ] || command -v "$nmtd" >/dev/null 2>&1; }; then
    log "nmtd-translate not found at '$nmtd' (build it, or set NMTD_TRANSLATE); measuring the reference only"
    nmtd_ok=0
fi
ref_ok=1
case $skip in *,reference,*) ref_ok=0; log "skipping the reference (BENCH_SKIP)";; esac
if [ $ref_ok = 1 ] && [ ! -f "$reference" ]; then
    log "reference not found at '$reference' (set REFERENCE); measuring nmtd only"
    ref_ok=0
fi

for b in $batches; do
    if [ "$b" = 1 ]; then input=$work/sentences_b1.txt; else input=$work/sentences.txt; fi
    for t in $threads_list; do
        common="--model $model --batch-size $b --threads $t --max-length $out_tokens --min-length $out_tokens --bench"
        if [ $nmtd_ok = 1 ]; then
            log "nmtd-translate batch $b threads $t ($(wc -l <"$input") sentences)"
            # shellcheck disable=SC2086
            run "nmtd_b${b}_t${t}" "$nmtd" $common
            for ct in ${BENCH_COMPUTE:-float32 int8 bfloat16}; do
                [ "$ct" = float32 ] && continue
                log "nmtd-translate --compute-type $ct batch $b threads $t"
                # shellcheck disable=SC2086
                run "nmtd_${ct}_b${b}_t${t}" "$nmtd" $common --compute-type "$ct"
            done
        fi
        if [ $ref_ok = 1 ]; then
            log "reference batch $b threads $t ($(wc -l <"$input") sentences)"
            # shellcheck disable=SC2086
            run "ref_b${b}_t${t}" "$py" "$reference" $common
        fi
    done
done

# ---- (e) sgemm ceiling ---------------------------------------------------
case $skip in
*,sgemm,*) log "skipping sgemm_peak (BENCH_SKIP)";;
*)
    blas_flags=$(pkg-config --cflags --libs openblas 2>/dev/null || echo -lopenblas)
    # shellcheck disable=SC2086
    if ${CC:-cc} -O2 -o "$work/sgemm_peak" "$root/bench/sgemm_peak.c" $blas_flags; then
        vocab=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vocab_size"])' "$model/config.json")
        log "measuring cblas_sgemm on the decode shapes (load $(cut -d' ' -f1 /proc/loadavg))"
        "$work/sgemm_peak" --threads "$(echo $threads_list | tr ' ' ',')" --vocab "$vocab" >"$res/sgemm.txt" \
            || log "sgemm_peak failed"
    else
        log "could not compile bench/sgemm_peak.c (needs libopenblas-dev)"
    fi;;
esac

# ---- (e') int8 product ceiling (bench/gemm_bench, built by make) ----------
case $skip in
*,gemm,*) ;;
*)
    if [ -x "$root/bench/gemm_bench" ]; then
        log "measuring the products and their instruction ceilings (bench/gemm_bench)"
        "$root/bench/gemm_bench" 0.3 >"$res/gemm_bench.txt" 2>&1 || log "gemm_bench failed"
    else
        log "bench/gemm_bench not built (make): no int8 ceiling"
    fi;;
esac

# ---- (d) the report ------------------------------------------------------
COMPUTE="${BENCH_COMPUTE:-float32 int8 bfloat16}" MODEL=$model RES=$res BATCHES="$batches" THREADS="$threads_list" NMTD="$nmtd" \
N_SENT=$n_sent N_SENT_B1=$n_sent_b1 OUT_TOKENS=$out_tokens "$py" - <<'EOF'
import json, os, platform, re, subprocess
res, model = os.environ["RES"], os.environ["MODEL"]
cfg = json.load(open(os.path.join(model, "config.json")))

def read(p):
    try:
        with open(p, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None

def bench_line(name, prefix):
    err = read(os.path.join(res, name + ".err"))
    if err is None:
        return None
    rc = (read(os.path.join(res, name + ".rc")) or "").strip()
    for line in err.splitlines():
        if line.startswith(prefix + ":"):
            kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
            kv["rc"] = rc
            kv["load"] = (read(os.path.join(res, name + ".load")) or "?").strip()
            rss = (read(os.path.join(res, name + ".rss_kb")) or "").strip()
            kv["rss_mb"] = "%.0f" % (int(rss) / 1024) if rss.isdigit() else kv.get("peak_rss_mb", "?")
            return kv
    return {"rc": rc, "failed": "timeout" if rc == "124" else "exit %s" % rc}

# fp32 weight size (unique tensors) from the safetensors header
import struct
with open(os.path.join(model, "model.safetensors"), "rb") as f:
    (hl,) = struct.unpack("<Q", f.read(8))
    hdr = json.loads(f.read(hl))
n_params = 0
for k, v in hdr.items():
    if k == "__metadata__" or k in ("lm_head.weight", "model.encoder.embed_tokens.weight",
                                    "model.decoder.embed_tokens.weight"):
        continue
    n = 1
    for s in v["shape"]:
        n *= s
    n_params += n
w_mb = n_params * 4 / 2**20

d, V, F = cfg["d_model"], cfg["vocab_size"], cfg["decoder_ffn_dim"]
Ld, Le, Fe = cfg["decoder_layers"], cfg["encoder_layers"], cfg["encoder_ffn_dim"]
step_flops = Ld * (2 * 4 * d * d + 2 * 2 * d * d + 2 * 2 * d * F) + 2 * d * V  # per sentence per step
enc_flops = Le * (2 * 4 * d * d + 2 * 2 * d * Fe) + Ld * 2 * 2 * d * d          # per source token (+ cross K/V)

cpu = "?"
for line in (read("/proc/cpuinfo") or "").splitlines():
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
print()
print("## nmtd-translate vs PyTorch reference, greedy, random opus-mt-en-de shapes")
print()
print("Machine: %s, %d cores, %s. Load average at the end: %s. \"load\" = 1-minute load average "
      "just before each run: anything well above 0 means another process shared the cores and the "
      "figures are low." % (cpu, os.cpu_count(), platform.platform(), (read("/proc/loadavg") or "?").split()[0]))
print("Model: vocab %d, d_model %d, %d+%d layers, %d heads, FFN %d, %s; %.1f M parameters = "
      "**%.0f MiB of fp32 weights**." % (V, d, Le, Ld, cfg["encoder_attention_heads"], F,
                                         cfg["activation_function"], n_params / 1e6, w_mb))
print("Input: %s sentences of 20 source ids (batch 1: the first %s only); output held at %s tokens "
      "(--max-length %s --min-length %s)." % (os.environ["N_SENT"], os.environ["N_SENT_B1"],
                                              os.environ["OUT_TOKENS"], os.environ["OUT_TOKENS"],
                                              os.environ["OUT_TOKENS"]))
print("Peak RSS: /usr/bin/time -v (whole process, loading included).")
print()
print("| batch | threads | nmtd tok/s | reference tok/s | nmtd / reference | nmtd sent/s | reference sent/s "
      "| nmtd peak RSS MiB | reference peak RSS MiB | nmtd RSS / weights | same output | load (nmtd, ref) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
achieved = {}
for b in os.environ["BATCHES"].split():
    for t in os.environ["THREADS"].split():
        n = bench_line("nmtd_b%s_t%s" % (b, t), "nmtd")
        r = bench_line("ref_b%s_t%s" % (b, t), "reference")
        def cell(x, key):
            if x is None:
                return "–"
            if "failed" in x:
                return x["failed"]
            return x.get(key, "?")
        ratio = "–"
        try:
            ratio = "%.2f" % (float(n["tokens_per_s"]) / float(r["tokens_per_s"]))
        except (TypeError, KeyError, ValueError, ZeroDivisionError):
            pass
        rss_ratio = "–"
        try:
            rss_ratio = "%.2f" % (float(n["rss_mb"]) / w_mb)
        except (TypeError, KeyError, ValueError):
            pass
        same = "–"
        no = read(os.path.join(res, "nmtd_b%s_t%s.out" % (b, t)))
        ro = read(os.path.join(res, "ref_b%s_t%s.out" % (b, t)))
        if no is not None and ro is not None and n and r and "failed" not in n and "failed" not in r:
            nl, rl = no.splitlines(), ro.splitlines()
            diff = sum(1 for x, y in zip(nl, rl) if x != y) + abs(len(nl) - len(rl))
            same = "yes" if diff == 0 else "%d lines differ" % diff
        load = "%s, %s" % ((read(os.path.join(res, "nmtd_b%s_t%s.load" % (b, t))) or "–").strip(),
                           (read(os.path.join(res, "ref_b%s_t%s.load" % (b, t))) or "–").strip())
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            b, t, cell(n, "tokens_per_s"), cell(r, "tokens_per_s"), ratio,
            cell(n, "sentences_per_s"), cell(r, "sentences_per_s"),
            cell(n, "rss_mb"), cell(r, "rss_mb"), rss_ratio, same, load))
        for who, x in (("nmtd", n), ("reference", r)):
            try:
                achieved[(who, b, t)] = (float(x["tokens_per_s"]), float(x["sentences_per_s"]))
            except (TypeError, KeyError, ValueError):
                pass

others = [c for c in os.environ.get("COMPUTE", "").split() if c != "float32"]
if others:
    flags = sorted(set(re.findall(r"\b(avx512[a-z_0-9]*|amx[a-z_0-9]*|avx2|fma)\b", read("/proc/cpuinfo") or "")))
    print()
    print("### Compute types against float32 (same run; CPU flags: %s)" % " ".join(flags))
    print()
    gb = read(os.path.join(res, "gemm_bench.txt")) or ""
    m = re.search(r"int8 \(([a-z0-9_]+)\) ([0-9.]+) GOP/s, bf16 \(([a-z0-9_]+)\) ([0-9.]+) GFLOP/s", gb)
    int8_kernel, int8_peak = (m.group(1), float(m.group(2))) if m else ("?", None)
    bf16_kernel, bf16_peak = (m.group(3), float(m.group(4))) if m else ("?", None)
    if int8_peak:
        print("Ceilings (bench/gemm_bench: independent chains of each kernel's instructions on one core): "
              "int8 (%s) %.1f GOP/s, bfloat16 (%s) %.1f GFLOP/s; \"decode GOP/s\" = "
              "tok/s x %.1f MOP per step (decoder products and output layer)."
              % (int8_kernel, int8_peak, bf16_kernel, bf16_peak or 0, step_flops / 1e6))
        print()
    peaks = {"int8": int8_peak, "bfloat16": bf16_peak}
    print("| batch | threads | compute type | tok/s | / float32 | decode GOP/s | % of ceiling (threads x its path's) "
          "| peak RSS MiB | / float32 RSS | same text as float32 | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for b in os.environ["BATCHES"].split():
        for t in os.environ["THREADS"].split():
            f = bench_line("nmtd_b%s_t%s" % (b, t), "nmtd")
            fo = read(os.path.join(res, "nmtd_b%s_t%s.out" % (b, t)))
            for ct in others:
                name = "nmtd_%s_b%s_t%s" % (ct, b, t)
                x = bench_line(name, "nmtd")
                xo = read(os.path.join(res, name + ".out"))
                def ratio(key):
                    try:
                        return "%.2f" % (float(x[key]) / float(f[key]))
                    except (TypeError, KeyError, ValueError, ZeroDivisionError):
                        return "–"
                same = "–"
                if fo is not None and xo is not None:
                    a, c = fo.splitlines(), xo.splitlines()
                    same = "%d/%d lines" % (sum(1 for p, q in zip(a, c) if p == q), len(a))
                if x is None or "failed" in x:
                    print("| %s | %s | %s | %s | | | | | | | |" % (b, t, ct, (x or {}).get("failed", "–")))
                    continue
                gops = pct = "–"
                try:
                    g = float(x["tokens_per_s"]) * step_flops / 1e9
                    gops = "%.1f" % g
                    if peaks.get(ct):
                        pct = "%.0f%%" % (100 * g / (peaks[ct] * int(t)))
                except (KeyError, ValueError):
                    pass
                print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    b, t, ct, x.get("tokens_per_s", "?"), ratio("tokens_per_s"), gops, pct, x.get("rss_mb", "?"),
                    ratio("rss_mb"), same, (read(os.path.join(res, name + ".load")) or "–").strip()))

sg = read(os.path.join(res, "sgemm.txt"))
if sg:
    rates = {}
    cfgline = ""
    for line in sg.splitlines():
        if line.startswith("#"):
            cfgline = line[1:].strip()
            continue
        p = line.split("\t")
        if len(p) == 6 and p[0].isdigit():
            rates[(int(p[0]), p[1], int(p[2]), int(p[3]), int(p[4]))] = float(p[5])
    print()
    print("### cblas_sgemm on the decode shapes (bench/sgemm_peak.c; %s)" % cfgline)
    print()
    print("y = x · Wᵀ, x [M, K], W [N, K] row-major; GFLOP/s. M = 1 also as cblas_sgemv.")
    print()
    ths = sorted({k[0] for k in rates})
    print("| op | M | K | N | " + " | ".join("%d thread%s" % (t, "s" if t > 1 else "") for t in ths) + " |")
    print("|---|---|---|---|" + "---|" * len(ths))
    for key in sorted({k[1:] for k in rates}, key=lambda k: (k[1], k[0] == "sgemv", k[2], k[3])):
        print("| %s | %d | %d | %d | " % key + " | ".join("%.1f" % rates.get((t,) + key, float("nan")) for t in ths) + " |")
    # BLAS-bound ceiling of one decode step for a batch of M sentences
    def step_seconds(M, t):
        shapes = [(d, d, 4 + 2), (d, F, 1), (F, d, 1)]  # (K, N, count per layer): self q,k,v,o + cross q,o; fc1; fc2
        total = 0.0
        for K, N, c in shapes:
            r = max(rates.get((t, "sgemm", M, K, N), 0), rates.get((t, "sgemv", M, K, N), 0) if M == 1 else 0)
            if not r:
                return None
            total += Ld * c * 2 * M * K * N / (r * 1e9)
        r = max(rates.get((t, "sgemm", M, d, V), 0), rates.get((t, "sgemv", M, d, V), 0) if M == 1 else 0)
        if not r:
            return None
        return total + 2 * M * d * V / (r * 1e9)
    print()
    print("### Achieved vs possible")
    print()
    print("One greedy step costs %.1f MFLOP per sentence in the decoder GEMMs and the output projection "
          "(the encoder adds %.1f MFLOP per source token). \"GEMM ceiling\" = tokens/s if every decode step "
          "ran only its GEMMs at the rates above (best of sgemm/sgemv for M = 1)." % (step_flops / 1e6, enc_flops / 1e6))
    print()
    print("| batch | threads | GEMM ceiling tok/s | nmtd tok/s | nmtd decode GFLOP/s | nmtd % of ceiling | reference decode GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    for b in os.environ["BATCHES"].split():
        for t in os.environ["THREADS"].split():
            s = step_seconds(int(b), int(t))
            ceil = int(b) / s if s else None
            n = achieved.get(("nmtd", b, t))
            r = achieved.get(("reference", b, t))
            print("| %s | %s | %s | %s | %s | %s | %s |" % (
                b, t, "%.0f" % ceil if ceil else "–", "%.1f" % n[0] if n else "–",
                "%.1f" % (n[0] * step_flops / 1e9) if n else "–",
                "%.0f%%" % (100 * n[0] / ceil) if n and ceil else "–",
                "%.1f" % (r[0] * step_flops / 1e9) if r else "–"))
print()
EOF
