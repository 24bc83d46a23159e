#!/bin/sh
# Regenerate the committed random-weight test models in tests/data/models/
# (deterministic: fixed seeds, fixed tokenizer corpus; byte-identical output
# on the same numpy / sentencepiece versions).
#
#   tools/make_test_models.sh [OUTDIR]        (default: tests/data/models)
#
#   tiny-swish     F32, swish, eos 0 / unk 1 / pad 299, vocab 300, d_model 32,
#                  2+2 layers, 4 heads, FFN 64, 64 positions, max_length 64;
#                  lm_head.weight omitted (tied), final_logits_bias non-zero.
#   tiny-relu-eos  F16, relu, eos 211 (middle of the vocabulary) / unk 3 /
#                  pad 399 (last), vocab 400, d_model 48, 16 heads (head_dim 3),
#                  FFN 64, 2+2 layers, 128 positions, max_length 40;
#                  final_logits_bias omitted, lm_head.weight present (tied copy),
#                  language tokens >>fra<< (id 0) and >>deu<< (id 1).
#   tiny-bf16      BF16, gelu, eos 0 / unk 1 / pad 299, vocab 300, tiny dims;
#                  every optional tensor present: lm_head.weight,
#                  model.{encoder,decoder}.embed_tokens.weight, final_logits_bias.
#   tiny-de-en     as tiny-swish (seed 14), declared German -> English.
#   tiny-en-roa    as tiny-swish (seed 15), declared English -> "roa" with the
#                  target tokens >>fra<<, >>spa<<, >>ita<< (a multilingual
#                  target model, as opus-mt-en-roa).
# SentencePiece models use the "identity" normalization to keep each
# directory small (nmt_nfkc would add ~237 KB per .spm).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$(cd "$here/.." && pwd)/tests/data/models}
gen="/usr/bin/python3 $here/make_random_model.py --force --spm-normalization identity"

$gen --preset tiny --seed 11 --dtype F32 --omit-lm-head \
     --out "$out/tiny-swish"
$gen --preset tc-big-like --seed 12 --dtype F16 \
     --d-model 48 --heads 16 --ffn 64 --layers 2 --vocab-size 400 \
     --eos-id 211 --unk-id 3 --max-pos 128 --max-length 40 \
     --omit-final-logits-bias --lang-tokens '>>fra<<,>>deu<<' \
     --out "$out/tiny-relu-eos"
$gen --preset tiny --seed 13 --dtype BF16 --activation gelu --save-embed-tokens \
     --out "$out/tiny-bf16"
$gen --preset tiny --seed 14 --dtype F32 --omit-lm-head --source-lang de --target-lang en \
     --out "$out/tiny-de-en"
$gen --preset tiny --seed 15 --dtype F32 --omit-lm-head --source-lang en --target-lang roa \
     --lang-tokens '>>fra<<,>>spa<<,>>ita<<' --out "$out/tiny-en-roa"
du -sk "$out"/tiny-swish "$out"/tiny-relu-eos "$out"/tiny-bf16 "$out"/tiny-de-en "$out"/tiny-en-roa
