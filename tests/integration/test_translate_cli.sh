#!/bin/sh
# Integration test of nmtd-translate: the real binary on the demo model and
# the committed random models, checked against the reference's goldens, plus
# its contract for empty lines, over-long lines, bad flags and bad models.
set -u
BUILD=${NMT_BUILDDIR:-.}
SRC=${NMT_SRCDIR:-.}
BIN="$BUILD/nmtd-translate"
DEMO="$SRC/models/en-de-demo"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$SRC/tests/integration/lib.sh"

# 1. golden translations, in order, through the CLI (2 workers)
golden="$SRC/tests/data/en-de-demo.golden.tsv"
grep -v '^#' "$golden" | cut -f1 > "$TMP/in.txt"
grep -v '^#' "$golden" | cut -f4 > "$TMP/want.txt"
if "$BIN" --model "$DEMO" --threads 2 --batch-size 16 < "$TMP/in.txt" > "$TMP/got.txt" 2> "$TMP/err.txt" &&
   cmp -s "$TMP/got.txt" "$TMP/want.txt"; then
    ok "demo model: $(wc -l < "$TMP/in.txt") golden translations"
else
    bad "demo model golden translations differ: $(diff "$TMP/got.txt" "$TMP/want.txt" | head -5)"
fi

# 2. --ids prints source and output ids as the reference does
grep -v '^#' "$golden" | head -50 | cut -f2-4 > "$TMP/want_ids.txt"
head -50 "$TMP/in.txt" | "$BIN" --model "$DEMO" --ids > "$TMP/got_ids.txt" 2>/dev/null
if cmp -s "$TMP/got_ids.txt" "$TMP/want_ids.txt"; then ok "--ids matches reference ids"; else bad "--ids differs"; fi

# 3. empty line -> empty line, in place
printf 'one\n\ntwo\n' | "$BIN" --model "$DEMO" > "$TMP/empty.txt"
if [ "$(sed -n 2p "$TMP/empty.txt")" = "" ] && [ "$(wc -l < "$TMP/empty.txt")" -eq 3 ] &&
   [ "$(sed -n 1p "$TMP/empty.txt")" = "$(echo one | "$BIN" --model "$DEMO")" ]; then
    ok "empty line gives an empty line"
else
    bad "empty line handling: $(cat "$TMP/empty.txt")"
fi

# 4. a line over the position limit: error naming the line, exit 1, others translated
long=$(awk 'BEGIN { for (i = 0; i < 600; i++) printf "one "; }')
printf 'two\n%s\nthree\n' "$long" | "$BIN" --model "$DEMO" > "$TMP/long.txt" 2> "$TMP/long.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "line 2:" "$TMP/long.err" && grep -q "max_position_embeddings" "$TMP/long.err" &&
   [ "$(wc -l < "$TMP/long.txt")" -eq 3 ] && [ -n "$(sed -n 3p "$TMP/long.txt")" ]; then
    ok "over-long line refused with its line number"
else
    bad "over-long line: rc=$rc $(cat "$TMP/long.err")"
fi

# 5. --help, --version, bad flags
"$BIN" --help | grep -q -- "--max-length" && ok "--help" || bad "--help"
"$BIN" --version | grep -q "^nmtd-translate [0-9]" && ok "--version" || bad "--version"
"$BIN" --model "$DEMO" --batch-size 0 </dev/null 2>/dev/null; [ $? -eq 2 ] && ok "bad flag exits 2" || bad "bad flag"

# 6. bad model directories: clear message, non-zero exit
"$BIN" --model "$TMP/nowhere" </dev/null 2> "$TMP/e1"; rc=$?
[ $rc -ne 0 ] && grep -q "config.json" "$TMP/e1" && ok "missing model dir" || bad "missing model dir: $(cat "$TMP/e1")"
cp -r "$DEMO" "$TMP/broken"
head -c 1000 "$DEMO/model.safetensors" > "$TMP/broken/model.safetensors"
echo hi | "$BIN" --model "$TMP/broken" 2> "$TMP/e2"; rc=$?
[ $rc -ne 0 ] && grep -q "model.safetensors" "$TMP/e2" && ok "truncated weights" || bad "truncated weights: $(cat "$TMP/e2")"

# 7. the random models in every dtype and convention decode as the reference does
for m in tiny-swish tiny-relu-eos tiny-bf16; do
    g="$SRC/tests/data/$m.golden.tsv"
    grep -v '^#' "$g" | cut -f1 | "$BIN" --model "$SRC/tests/data/models/$m" > "$TMP/$m.txt" 2>/dev/null
    if grep -v '^#' "$g" | cut -f4 | cmp -s - "$TMP/$m.txt"; then ok "$m goldens"; else bad "$m goldens differ"; fi
done

# 8. accuracy of the C engine on the held-out sets (never seen in training)
for set in numbers:99.5 sentences:99.0; do
    name=${set%%:*} bar=${set#*:}
    file="$SRC/tests/data/heldout-$name.tsv"
    acc=$(cut -f1 "$file" | "$BIN" --model "$DEMO" --threads 2 | paste - "$file" |
          awk -F '\t' '{ n++; if ($1 == $3) ok++ } END { printf "%.2f", 100 * ok / n }')
    if awk -v a="$acc" -v b="$bar" 'BEGIN { exit !(a >= b) }'; then
        ok "held-out $name: $acc% exact (bar $bar%)"
    else
        bad "held-out $name: $acc% exact, below $bar%"
    fi
done

# --split: a line is a paragraph; each of its sentences is translated alone
# and the gaps stay (golden sentences, three per line, mixed gaps)
grep -v '^#' "$golden" | cut -f1,4 | grep -E '^[A-Z][^	]*[.!?]	' | head -30 > "$TMP/sent.tsv"
awk -F '\t' 'BEGIN { g[0] = " "; g[1] = "\t"; g[2] = "   " }
    { i = (NR - 1) % 3; src = src $1; dst = dst $2
      if (i < 2) { src = src g[i]; dst = dst g[i] } else { print src > "'"$TMP"'/para_in.txt"; print dst > "'"$TMP"'/para_want.txt"; src = ""; dst = "" } }' "$TMP/sent.tsv"
"$BIN" --model "$DEMO" --split --threads 2 < "$TMP/para_in.txt" > "$TMP/para_got.txt" 2> "$TMP/para_err.txt"
if cmp -s "$TMP/para_got.txt" "$TMP/para_want.txt"; then
    ok "--split: 10 paragraphs of 3 sentences = the sentences' translations in the same gaps"
else
    bad "--split differs: $(diff "$TMP/para_got.txt" "$TMP/para_want.txt" | head -5)"
fi
printf '  \n' | "$BIN" --model "$DEMO" --split > "$TMP/ws.txt"
if [ "$(cat "$TMP/ws.txt")" = "  " ]; then ok "--split: whitespace comes back as it was"; else bad "--split whitespace: '$(cat "$TMP/ws.txt")'"; fi

finish
