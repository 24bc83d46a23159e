#!/usr/bin/python3
"""Write a random-weight Hugging Face Marian (OPUS-MT layout) model directory.

The directory has config.json, generation_config.json, model.safetensors,
source.spm, target.spm, vocab.json and tokenizer_config.json, exactly like a
Helsinki-NLP/opus-mt-* checkpoint, so an engine can load it unchanged.
Everything is deterministic from --seed (the tokenizers are trained on a
fixed generated English-ish / German-ish corpus, the same for every seed).

Presets (every field can be overridden by a flag):
  tiny           d_model 32, 2+2 layers, 4 heads, FFN 64, vocab 300, 64 positions,
                 swish, eos 0, unk 1, pad 299 (= decoder start)
  opus-mt-en-de  the exact shapes/ids of Helsinki-NLP/opus-mt-en-de: vocab 58101,
                 d_model 512, 6+6 layers, 8 heads, FFN 2048, swish, eos 0, unk 1,
                 pad 58100, 512 positions, max_length 512 (~300 MB fp32)
  tc-big-like    a scaled-down opus-mt-tc-big: relu, 16 heads (head_dim 4),
                 d_model 64, FFN 256, 2+2 layers, vocab 500, eos 271 (middle of the
                 vocabulary), unk 3, pad 499 (last), 128 positions
  tc-big         full opus-mt-tc-big-fr-en shapes: relu, d_model 1024, 16 heads,
                 FFN 4096, 6+6 layers, vocab 53017, eos 43311, unk 1, pad 53016,
                 1024 positions (~1 GB fp32; slow)

Vocabulary: vocab.json maps pieces to ids. The special pieces sit at the ids
the config names ("</s>" at eos, "<unk>" at unk, "<pad>" at pad); then the
--lang-tokens, then the pieces of source.spm, then those of target.spm not
already present, then fillers "<extra_N>" up to vocab_size, so the ids cover
0..vocab_size-1 exactly.

Weights: normal noise scaled so that greedy decoding is not degenerate:
linear weights std 1/sqrt(fan_in) (q/k x2 for sharper attention, out_proj/fc2
x1.5), embeddings std 1.5/sqrt(d_model) (logit std ~1.5; the </s> row x1.3
so sentences end at varied lengths), layer-norm weights 1 + N(0, 0.1), biases
N(0, 0.05) except fc2 biases, which cancel the mean of the activation,
final_logits_bias N(0, 0.2) (omit with --omit-final-logits-bias).
--suppress-eos sets final_logits_bias at </s> to -10000: greedy decoding then
never ends a sentence, and every output is exactly max_length tokens long
(for benchmarks and tests that need outputs of a chosen length).
lm_head.weight is written as a copy of model.shared.weight unless
--omit-lm-head; model.{encoder,decoder}.embed_tokens.weight only with
--save-embed-tokens. No embed_positions tensors are written (like HF).

Examples:
  tools/make_random_model.py --preset tiny --out /tmp/tiny
  tools/make_random_model.py --preset opus-mt-en-de --out /tmp/en-de-random
  tools/make_random_model.py --preset tc-big-like --dtype F16 \
      --lang-tokens '>>fra<<,>>deu<<' --omit-final-logits-bias --out /tmp/tcb
"""

import argparse
import io
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_format  # noqa: E402

PRESETS = {
    "tiny": dict(d_model=32, layers=2, heads=4, ffn=64, vocab_size=300,
                 max_pos=64, max_length=64, activation="swish",
                 eos_id=0, unk_id=1, pad_id=None),
    "opus-mt-en-de": dict(d_model=512, layers=6, heads=8, ffn=2048,
                          vocab_size=58101, max_pos=512, max_length=512,
                          activation="swish", eos_id=0, unk_id=1, pad_id=None),
    "tc-big-like": dict(d_model=64, layers=2, heads=16, ffn=256, vocab_size=500,
                        max_pos=128, max_length=128, activation="relu",
                        eos_id=271, unk_id=3, pad_id=None),
    "tc-big": dict(d_model=1024, layers=6, heads=16, ffn=4096, vocab_size=53017,
                   max_pos=1024, max_length=512, activation="relu",
                   eos_id=43311, unk_id=1, pad_id=None),
}

EN_WORDS = """the a an this that these those my your his her our their one two three four five six seven
eight nine ten hundred thousand man woman child children people friend teacher doctor city house home
school garden street car train bus book letter table window door water bread coffee tea milk apple dog
cat bird horse tree flower river mountain sea sun moon rain snow weather morning evening night day week
year time today tomorrow yesterday is are was were be been have has had do does did will would can could
should must may might go goes went come comes came see sees saw read reads write writes wrote eat eats
drink drinks buy buys sell sells give gives take takes make makes find finds know knows think thinks
want wants like likes love loves help helps work works play plays live lives open opens close closes
big small old new young good bad long short happy sad warm cold hot red blue green white black
beautiful quickly slowly very often never always here there now again not and or but because when if
with without in on at under over from to for of about after before near between I you he she it we they
me him us them who what where why how yes no please thank thanks hello goodbye music language world
question answer story number morning family country government company market price problem idea""".split()

DE_WORDS = """der die das ein eine einen dieser diese dieses mein dein sein ihr unser euer zwei drei vier fünf
sechs sieben acht neun zehn hundert tausend Mann Frau Kind Kinder Leute Freund Lehrer Arzt Stadt Haus
Hause Schule Garten Straße Auto Zug Bus Buch Brief Tisch Fenster Tür Wasser Brot Kaffee Tee Milch Apfel
Hund Katze Vogel Pferd Baum Blume Fluss Berg Meer Sonne Mond Regen Schnee Wetter Morgen Abend Nacht Tag
Woche Jahr Zeit heute morgen gestern ist sind war waren sein haben hat hatte tun tut tat wird würde kann
könnte sollte muss mag gehen geht ging kommen kommt kam sehen sieht sah lesen liest las schreiben
schreibt schrieb essen isst aß trinken trinkt kaufen kauft verkaufen verkauft geben gibt nehmen nimmt
machen macht finden findet wissen weiß denken denkt wollen will mögen lieben liebt helfen hilft arbeiten
arbeitet spielen spielt leben lebt öffnen öffnet schließen schließt groß klein alt neu jung gut schlecht
lang kurz glücklich traurig warm kalt heiß rot blau grün weiß schwarz schön schnell langsam sehr oft nie
immer hier dort jetzt wieder nicht und oder aber weil wenn ob mit ohne in auf an unter über von zu für
nach vor bei zwischen ich du er sie es wir ihr mich dich ihn uns euch wer was wo warum wie ja nein bitte
danke hallo Musik Sprache Welt Frage Antwort Geschichte Nummer Familie Land Regierung Firma Markt Preis
Problem Idee Mädchen Größe Übung fröhlich""".split()

# Weight scales, tuned on the tiny presets so that greedy decoding of a random
# model is not degenerate (varied tokens, sentences that end at varied lengths)
# and yet well conditioned: float32 and float64 forwards differ by ~5e-6 in the
# logits (max ~1e-4), far below typical top-2 gaps. Larger QK_GAIN gives more
# varied output but a chaotic model (QK_GAIN 10: logit differences up to 0.5,
# so two correct fp32 engines would disagree on ~5% of sentences).
QK_GAIN = 2.0    # q_proj/k_proj std x this: attention that depends on the input (more: chaotic)
OUT_GAIN = 1.5   # out_proj/fc2 std x this: sub-layers outweigh the residual
EOS_GAIN = 1.3   # the </s> embedding row x this: some sentences end early
FLB_STD = 0.2    # final_logits_bias std
EMB_GAIN = 1.5   # shared embedding std x sqrt(d_model)

PUNCT = [".", ".", ".", "!", "?", ","]


def gen_corpus(words, n, rng):
    """Deterministic pseudo-sentences from a word list."""
    lines = []
    for _ in range(n):
        k = int(rng.integers(3, 16))
        ws = [words[int(i)] for i in rng.integers(0, len(words), k)]
        ws[0] = ws[0][:1].upper() + ws[0][1:]
        s = " ".join(ws)
        if rng.random() < 0.15:
            s += " " + str(int(rng.integers(0, 2000)))
        s += PUNCT[int(rng.integers(0, len(PUNCT)))]
        lines.append(s)
    return lines


def train_spm(lines, vocab_size, path, model_type="unigram", normalization="nmt_nfkc"):
    """Train a SentencePiece model on `lines` and write it to `path`."""
    import sentencepiece as spm
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf,
        vocab_size=vocab_size, model_type=model_type,
        character_coverage=1.0, max_sentencepiece_length=8,
        byte_fallback=False, hard_vocab_limit=False,
        shuffle_input_sentence=False, num_threads=1,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        normalization_rule_name=normalization,
        minloglevel=2)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_file=path)
    return sp


def spm_pieces(sp):
    """Normal pieces of a SentencePiece model, in id order."""
    out = []
    for i in range(sp.get_piece_size()):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        out.append(sp.id_to_piece(i))
    return out


def build_vocab(vocab_size, eos_id, unk_id, pad_id, lang_tokens, src_pieces, tgt_pieces):
    specials = {eos_id: "</s>", unk_id: "<unk>", pad_id: "<pad>"}
    if len(specials) != 3:
        raise SystemExit("error: eos, unk and pad ids must differ (eos=%d unk=%d pad=%d)"
                         % (eos_id, unk_id, pad_id))
    for i in specials:
        if not 0 <= i < vocab_size:
            raise SystemExit("error: special id %d outside the vocabulary [0, %d)" % (i, vocab_size))
    seen = set(specials.values())
    ordered = []
    for p in list(lang_tokens) + list(src_pieces) + list(tgt_pieces):
        if p not in seen:
            seen.add(p)
            ordered.append(p)
    free = [i for i in range(vocab_size) if i not in specials]
    if len(ordered) > len(free):
        raise SystemExit("error: %d pieces + 3 specials do not fit in vocab_size %d; "
                         "use a smaller --spm-size" % (len(ordered), vocab_size))
    vocab = {p: i for i, p in specials.items()}
    n_extra = 0
    for k, i in enumerate(free):
        if k < len(ordered):
            vocab[ordered[k]] = i
        else:
            name = "<extra_%d>" % n_extra
            while name in vocab:
                n_extra += 1
                name = "<extra_%d>" % n_extra
            vocab[name] = i
            n_extra += 1
    return dict(sorted(vocab.items(), key=lambda kv: kv[1])), len(ordered)


def _act(name):
    """numpy version of an activation (gelu via the tanh form: only used to
    estimate a mean); None when unknown."""
    if name in ("swish", "silu"):
        return lambda x: x / (1.0 + np.exp(-x))
    if name == "relu":
        return lambda x: np.maximum(x, 0.0)
    if name.startswith("gelu"):
        return lambda x: 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))
    return None


def center_ffn(tensors, config, rng, samples=256):
    """Set each fc2 bias to -fc2.weight @ E[act(fc1(x))] (+ small noise), with
    x ~ N(0, 1) standing in for a layer-normed input. Without it the positive
    mean of relu/swish/gelu puts the same vector into every position, and
    greedy decoding of a random model repeats one token."""
    act = _act(config["activation_function"])
    if act is None:
        return
    x = rng.standard_normal((samples, config["d_model"]), dtype=np.float32)
    for name in [n for n in tensors if n.endswith(".fc1.weight")]:
        pre = name[:-len("fc1.weight")]
        h = act(x @ tensors[name].T + tensors[pre + "fc1.bias"])
        mean = h.mean(axis=0)
        tensors[pre + "fc2.bias"] -= tensors[pre + "fc2.weight"] @ mean


def random_tensors(config, rng, lm_head, final_logits_bias, embed_tokens, suppress_eos=False):
    """Random float32 weights for every tensor of the model."""
    shapes = marian_format.marian_tensor_shapes(config, lm_head=False,
                                                final_logits_bias=final_logits_bias)
    d = config["d_model"]
    out = {}
    for name, shape in shapes.items():
        if name == "model.shared.weight":
            std, mean = EMB_GAIN / np.sqrt(d), 0.0
        elif name == "final_logits_bias":
            std, mean = FLB_STD, 0.0
        elif "layer_norm" in name:
            std, mean = (0.1, 1.0) if name.endswith(".weight") else (0.05, 0.0)
        elif name.endswith(".bias"):
            std, mean = 0.05, 0.0
        else:  # linear weight [out, in]
            std, mean = 1.0 / np.sqrt(shape[1]), 0.0
            if ".q_proj." in name or ".k_proj." in name:
                std *= QK_GAIN  # keep attention from being uniform
            elif ".out_proj." in name or ".fc2." in name:
                std *= OUT_GAIN  # sub-layers outweigh the residual: no copy-the-input fixed point
        a = rng.standard_normal(shape, dtype=np.float32)
        a *= np.float32(std)
        if mean:
            a += np.float32(mean)
        out[name] = a
    center_ffn(out, config, rng)
    # a longer </s> row: random models then end sentences at varied lengths
    out["model.shared.weight"][config["eos_token_id"]] *= np.float32(EOS_GAIN)
    if suppress_eos:
        out["final_logits_bias"][0, config["eos_token_id"]] = np.float32(-10000.0)
    shared = out["model.shared.weight"]
    if lm_head:
        out["lm_head.weight"] = shared
    if embed_tokens:
        out["model.encoder.embed_tokens.weight"] = shared
        out["model.decoder.embed_tokens.weight"] = shared
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--d-model", type=int)
    ap.add_argument("--layers", type=int, help="encoder and decoder layers")
    ap.add_argument("--enc-layers", type=int)
    ap.add_argument("--dec-layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--ffn", type=int)
    ap.add_argument("--vocab-size", type=int)
    ap.add_argument("--activation", help="swish | silu | relu | gelu | gelu_new ...")
    ap.add_argument("--eos-id", type=int)
    ap.add_argument("--unk-id", type=int)
    ap.add_argument("--pad-id", type=int, help="default: vocab_size - 1 (also decoder start)")
    ap.add_argument("--max-pos", type=int, help="max_position_embeddings")
    ap.add_argument("--max-length", type=int, help="config/generation max_length")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    ap.add_argument("--omit-lm-head", action="store_true")
    ap.add_argument("--omit-final-logits-bias", action="store_true")
    ap.add_argument("--suppress-eos", action="store_true",
                    help="final_logits_bias -10000 at </s>: outputs always max_length tokens long")
    ap.add_argument("--save-embed-tokens", action="store_true",
                    help="also write model.{encoder,decoder}.embed_tokens.weight")
    ap.add_argument("--lang-tokens", default="", help="comma-separated, e.g. '>>fra<<,>>deu<<'")
    ap.add_argument("--source-lang", default="en", help="tokenizer_config.json's source_lang")
    ap.add_argument("--target-lang", default="de", help="tokenizer_config.json's target_lang")
    ap.add_argument("--spm-size", type=int, help="pieces per SentencePiece model (default from vocab)")
    ap.add_argument("--spm-type", choices=["unigram", "bpe"], default="unigram")
    ap.add_argument("--spm-normalization", default="nmt_nfkc",
                    help="SentencePiece normalization rule: nmt_nfkc (default, like OPUS-MT; adds "
                         "~237 KB per .spm) or identity (small files, for committed test models)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    args = ap.parse_args(argv)

    p = dict(PRESETS[args.preset])
    for key, val in (("d_model", args.d_model), ("heads", args.heads), ("ffn", args.ffn),
                     ("vocab_size", args.vocab_size), ("activation", args.activation),
                     ("eos_id", args.eos_id), ("unk_id", args.unk_id), ("pad_id", args.pad_id),
                     ("max_pos", args.max_pos), ("max_length", args.max_length)):
        if val is not None:
            p[key] = val
    enc_layers = args.enc_layers or args.layers or p["layers"]
    dec_layers = args.dec_layers or args.layers or p["layers"]
    V = p["vocab_size"]
    pad_id = V - 1 if p["pad_id"] is None else p["pad_id"]
    if p["d_model"] % p["heads"]:
        raise SystemExit("error: d_model %d is not divisible by heads %d" % (p["d_model"], p["heads"]))
    if p["d_model"] % 2:
        raise SystemExit("error: d_model must be even (sinusoidal positions)")
    if args.suppress_eos and args.omit_final_logits_bias:
        raise SystemExit("error: --suppress-eos needs final_logits_bias (drop --omit-final-logits-bias)")
    if os.path.isdir(args.out) and os.listdir(args.out) and not args.force:
        raise SystemExit("error: %s exists and is not empty (use --force)" % args.out)

    t0 = time.time()
    lang_tokens = [t.strip() for t in args.lang_tokens.split(",") if t.strip()]
    n_free = V - 3 - len(lang_tokens)
    spm_size = args.spm_size or max(60, min(1000, (n_free * 9) // 20))
    os.makedirs(args.out, exist_ok=True)

    crng = np.random.default_rng(20240601)  # corpus: fixed, independent of --seed
    src_lines = gen_corpus(EN_WORDS, 6000, crng)
    tgt_lines = gen_corpus(DE_WORDS, 6000, crng)
    with tempfile.TemporaryDirectory() as td:
        src_sp = train_spm(src_lines, spm_size, os.path.join(td, "source.spm"), args.spm_type,
                           args.spm_normalization)
        tgt_sp = train_spm(tgt_lines, spm_size, os.path.join(td, "target.spm"), args.spm_type,
                           args.spm_normalization)
        src_pieces, tgt_pieces = spm_pieces(src_sp), spm_pieces(tgt_sp)
        vocab, n_real = build_vocab(V, p["eos_id"], p["unk_id"], pad_id, lang_tokens,
                                    src_pieces, tgt_pieces)
        config = marian_format.marian_config(
            d_model=p["d_model"], enc_layers=enc_layers, dec_layers=dec_layers,
            heads=p["heads"], ffn=p["ffn"], vocab_size=V, max_pos=p["max_pos"],
            activation=p["activation"], pad_id=pad_id, eos_id=p["eos_id"],
            decoder_start_id=pad_id, max_length=p["max_length"],
            name_or_path="random-%s-seed%d" % (args.preset, args.seed))
        rng = np.random.default_rng(args.seed)
        tensors = random_tensors(config, rng, lm_head=not args.omit_lm_head,
                                 final_logits_bias=not args.omit_final_logits_bias,
                                 embed_tokens=args.save_embed_tokens,
                                 suppress_eos=args.suppress_eos)
        marian_format.write_model_dir(
            args.out, config, tensors, os.path.join(td, "source.spm"),
            os.path.join(td, "target.spm"), vocab, dtype=args.dtype,
            source_lang=args.source_lang, target_lang=args.target_lang,
            metadata={"generator": "tools/make_random_model.py",
                      "preset": args.preset, "seed": str(args.seed)})
    n_params = sum(int(np.prod(t.shape)) for n, t in tensors.items()
                   if n not in ("lm_head.weight", "model.encoder.embed_tokens.weight",
                                "model.decoder.embed_tokens.weight"))
    print("wrote %s: preset %s, d_model %d, layers %d+%d, heads %d, ffn %d, vocab %d "
          "(%d source + %d target pieces -> %d real, %d lang tokens), eos %d unk %d pad %d, "
          "%s, %s, %d parameters (%.1f MB fp32), %d tensors, %.1fs"
          % (args.out, args.preset, p["d_model"], enc_layers, dec_layers, p["heads"], p["ffn"], V,
             len(src_pieces), len(tgt_pieces), n_real, len(lang_tokens), p["eos_id"], p["unk_id"],
             pad_id, p["activation"], args.dtype, n_params, n_params * 4 / 1e6, len(tensors),
             time.time() - t0), file=sys.stderr)


if __name__ == "__main__":
    main()
