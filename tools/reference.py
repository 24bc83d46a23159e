#!/usr/bin/python3
"""PyTorch reference for Hugging Face Marian (OPUS-MT layout) models: tokenization, forward pass and
batched greedy decoding with a KV cache, exactly as tools/CONTRACT.md specifies. The C engine
(nmtd) is checked against it token for token (golden fixtures under tests/data/).

Every convention is read from the model directory (config.json, generation_config.json, vocab.json,
tokenizer_config.json, model.safetensors or pytorch_model.bin, source.spm, target.spm): dims,
activation (swish/silu, relu, gelu, gelu_new), eos / pad / decoder start ids, scale_embedding,
F32/F16/BF16 tensors, optional lm_head.weight / final_logits_bias, leading `>>xxx<<` tokens.
It is an independent implementation: it does not import the training code.

Debian 12 packages: python3-torch python3-sentencepiece python3-numpy.

Usage:
  tools/reference.py --model DIR [--batch-size 32] [--threads 1] [--max-length N] [--min-length N]
                     [--ids] [--bench] [--golden OUT.tsv]  < input.txt
Reads one sentence per line from stdin and prints one translation per line, in order (an empty
line gives an empty line). --ids prints `src_ids<TAB>out_ids<TAB>translation`. --bench prints a
timing line on stderr. --golden writes `input<TAB>src_ids<TAB>out_ids<TAB>translation` lines
(empty input lines are skipped there).
"""
import argparse
import json
import math
import os
import resource
import sys
import time


def _early_threads(argv):
    """--threads N, read before torch is imported: Debian's torch does its matrix products in
    OpenBLAS (pthreads), whose thread count must be set through the environment."""
    for i, x in enumerate(argv):
        if x == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if x.startswith("--threads="):
            return x.split("=", 1)[1]
    return "1"


if __name__ == "__main__":
    # Measured on the 2-core machine (demo model, batch 32, --threads 2): with libgomp's default
    # (active, spinning) wait policy torch's OpenMP threads and OpenBLAS's pthreads fight for the
    # cores and throughput collapses ~9x (177 vs 1556 target tokens/s). Both can be overridden
    # from the environment.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", _early_threads(sys.argv[1:]))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import sentencepiece as spm  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_format  # noqa: E402  (safetensors reading only)


class ModelError(Exception):
    pass


def _json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


ACTIVATIONS = {
    "swish": F.silu, "silu": F.silu, "relu": F.relu,
    "gelu": F.gelu, "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
}


class Reference:
    def __init__(self, model_dir):
        self.dir = model_dir
        cfg = _json(os.path.join(model_dir, "config.json"))
        self.cfg = cfg
        gen_path = os.path.join(model_dir, "generation_config.json")
        self.gen = _json(gen_path) if os.path.exists(gen_path) else {}
        if cfg.get("share_encoder_decoder_embeddings", True) is False:
            raise ModelError("share_encoder_decoder_embeddings is false (separate source/target vocabularies, "
                             "target_vocab.json): not supported by this reference")
        if cfg.get("normalize_before", False):
            raise ModelError("normalize_before is true (pre-norm): not a Marian model, not supported")
        if cfg.get("normalize_embedding", False) or cfg.get("add_final_layer_norm", False):
            raise ModelError("layernorm_embedding / final layer norm (mBART-style) not supported")
        act = cfg.get("activation_function", "swish")
        if act not in ACTIVATIONS:
            raise ModelError("activation_function %r not supported" % act)
        self.act = ACTIVATIONS[act]
        self.d = int(cfg["d_model"])
        self.E = int(cfg["encoder_layers"])
        self.D = int(cfg["decoder_layers"])
        self.eh = int(cfg["encoder_attention_heads"])
        self.dh = int(cfg["decoder_attention_heads"])
        self.V = int(cfg["vocab_size"])
        if int(cfg.get("decoder_vocab_size") or self.V) != self.V:
            raise ModelError("decoder_vocab_size %s != vocab_size %d: separate vocabularies not supported"
                             % (cfg.get("decoder_vocab_size"), self.V))
        self.max_pos = int(cfg["max_position_embeddings"])
        self.pad = int(cfg["pad_token_id"])
        self.eos = int(cfg["eos_token_id"])
        ds = cfg.get("decoder_start_token_id")
        self.start = self.pad if ds is None else int(ds)
        self.scale = math.sqrt(self.d) if cfg.get("scale_embedding", False) else 1.0
        self.max_length = int(self.gen.get("max_length", cfg.get("max_length", self.max_pos)) or self.max_pos)

        # tokenizers
        self.vocab = _json(os.path.join(model_dir, "vocab.json"))
        self.inv = {i: p for p, i in self.vocab.items()}
        tok_cfg_path = os.path.join(model_dir, "tokenizer_config.json")
        tok_cfg = _json(tok_cfg_path) if os.path.exists(tok_cfg_path) else {}
        if tok_cfg.get("separate_vocabs"):
            raise ModelError("tokenizer_config.json separate_vocabs is true: not supported")
        unk_tok = tok_cfg.get("unk_token") or "<unk>"
        if isinstance(unk_tok, dict):
            unk_tok = unk_tok.get("content", "<unk>")
        if unk_tok not in self.vocab:
            raise ModelError("vocab.json has no unk token %r" % unk_tok)
        self.unk = self.vocab[unk_tok]
        if len(self.vocab) != self.V or sorted(self.vocab.values()) != list(range(self.V)):
            raise ModelError("vocab.json must map exactly the ids 0..%d" % (self.V - 1))
        self.src_sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "source.spm"))
        self.tgt_sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "target.spm"))

        # weights
        st = os.path.join(model_dir, "model.safetensors")
        if os.path.exists(st):
            raw = marian_format.load_safetensors(st)
            W = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in raw.items()}
        elif os.path.exists(os.path.join(model_dir, "pytorch_model.bin")):
            sd = torch.load(os.path.join(model_dir, "pytorch_model.bin"), map_location="cpu")
            W = {k: v.float() for k, v in sd.items()}
        else:
            raise ModelError("no model.safetensors (or pytorch_model.bin) in %s" % model_dir)
        self.W = W
        d, V = self.d, self.V

        def get(name, shape):
            if name not in W:
                raise ModelError("missing tensor %s" % name)
            t = W[name]
            if tuple(t.shape) != tuple(shape):
                raise ModelError("tensor %s has shape %s, expected %s" % (name, tuple(t.shape), tuple(shape)))
            return t.contiguous()

        for alt in ("model.shared.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
            if alt in W:
                self.emb = get(alt, (V, d))
                break
        else:
            raise ModelError("missing tensor model.shared.weight")
        self.lm_head = get("lm_head.weight", (V, d)) if "lm_head.weight" in W else self.emb
        self.flb = get("final_logits_bias", (1, V)).reshape(V) if "final_logits_bias" in W else torch.zeros(V)

        def attn(p):
            return {n: (get("%s.%s_proj.weight" % (p, n), (d, d)), get("%s.%s_proj.bias" % (p, n), (d,)))
                    for n in ("q", "k", "v", "out")}

        def ln(p):
            return (get(p + ".weight", (d,)), get(p + ".bias", (d,)))

        def ffn(p, f):
            return (get(p + ".fc1.weight", (f, d)), get(p + ".fc1.bias", (f,)),
                    get(p + ".fc2.weight", (d, f)), get(p + ".fc2.bias", (d,)))

        ef, df = int(cfg["encoder_ffn_dim"]), int(cfg["decoder_ffn_dim"])
        self.enc = []
        for i in range(self.E):
            p = "model.encoder.layers.%d" % i
            self.enc.append(dict(sa=attn(p + ".self_attn"), sa_ln=ln(p + ".self_attn_layer_norm"),
                                 ffn=ffn(p, ef), ffn_ln=ln(p + ".final_layer_norm")))
        self.dec = []
        for i in range(self.D):
            p = "model.decoder.layers.%d" % i
            self.dec.append(dict(sa=attn(p + ".self_attn"), sa_ln=ln(p + ".self_attn_layer_norm"),
                                 ca=attn(p + ".encoder_attn"), ca_ln=ln(p + ".encoder_attn_layer_norm"),
                                 ffn=ffn(p, df), ffn_ln=ln(p + ".final_layer_norm")))
        # Marian sinusoidal positions: first half sin, second half cos, positions from 0
        pos = np.arange(self.max_pos, dtype=np.float64)[:, None]
        i = np.arange(d // 2, dtype=np.float64)[None, :]
        ang = pos / np.power(10000.0, 2 * i / d)
        pe = np.zeros((self.max_pos, d))
        pe[:, : d // 2] = np.sin(ang)
        pe[:, d // 2: 2 * (d // 2)] = np.cos(ang)
        self.pos = torch.from_numpy(pe.astype(np.float32))

    # ------------------------------------------------------------------------------------------
    # tokenization (like MarianTokenizer)
    @staticmethod
    def _lang_token_len(text):
        """Length of a leading '>>xxx<<' token (non-empty, no space/tab/newline inside), or 0."""
        if len(text) < 5 or not text.startswith(">>"):
            return 0
        for i in range(2, len(text) - 1):
            if text[i] in " \t\n":
                return 0
            if text[i] == "<" and text[i + 1] == "<":
                return i + 2 if i > 2 else 0
        return 0

    def encode_text(self, text):
        ids = []
        n = self._lang_token_len(text)
        if n and text[:n] in self.vocab:
            ids.append(self.vocab[text[:n]])
            text = text[n:]
        ids += [self.vocab.get(p, self.unk) for p in self.src_sp.encode(text, out_type=str)]
        ids.append(self.eos)
        return ids

    def decode_ids(self, ids):
        """Hugging Face's MarianTokenizer.decode(ids, skip_special_tokens=True):
        special ids dropped, target.spm decode_pieces, then every U+2581 left
        by a piece target.spm does not know becomes a space, ends stripped."""
        pieces = [self.inv[i] for i in ids if i not in (self.eos, self.pad, self.unk)]
        return self.tgt_sp.decode_pieces(pieces).replace("\u2581", " ").strip()

    def limit_for(self, n_src, max_length=None):
        if max_length is not None:
            return min(max_length, self.max_pos)
        return min(self.max_length, self.max_pos, 2 * n_src + 10)

    # ------------------------------------------------------------------------------------------
    # forward pieces
    @staticmethod
    def _ln(x, p):
        return F.layer_norm(x, (x.shape[-1],), p[0], p[1], 1e-5)

    @staticmethod
    def _heads(x, h):
        B, T, d = x.shape
        return x.view(B, T, h, d // h).transpose(1, 2)

    def _attend(self, q, k, v, mask, a, h):
        """q [B,h,T,hd] (already scaled), k/v [B,h,S,hd], mask additive broadcastable to [B,h,T,S]."""
        s = torch.matmul(q, k.transpose(-1, -2))
        if mask is not None:
            s = s + mask
        o = torch.matmul(torch.softmax(s, dim=-1), v)
        B, _, T, hd = o.shape
        o = o.transpose(1, 2).reshape(B, T, h * hd)
        return F.linear(o, *a["out"])

    def _ffn(self, x, p):
        return F.linear(self.act(F.linear(x, p[0], p[1])), p[2], p[3])

    def encode(self, src):
        """src [B,S] long -> (enc [B,S,d], mask [B,1,1,S])."""
        B, S = src.shape
        mask = torch.zeros(B, 1, 1, S).masked_fill((src == self.pad)[:, None, None, :], float("-inf"))
        x = F.embedding(src, self.emb) * self.scale + self.pos[:S][None]
        h = self.eh
        hd = self.d // h
        for L in self.enc:
            a = L["sa"]
            q = self._heads(F.linear(x, *a["q"]) * hd ** -0.5, h)
            k = self._heads(F.linear(x, *a["k"]), h)
            v = self._heads(F.linear(x, *a["v"]), h)
            x = self._ln(x + self._attend(q, k, v, mask, a, h), L["sa_ln"])
            x = self._ln(x + self._ffn(x, L["ffn"]), L["ffn_ln"])
        return x, mask

    @torch.no_grad()
    def greedy(self, src_batch, max_length=None, min_length=0):
        """src_batch: list of id lists (each ending with eos). Returns list of output id lists
        (without the decoder start token; with the final eos if generated)."""
        B = len(src_batch)
        S = max(len(s) for s in src_batch)
        for s in src_batch:
            if len(s) > self.max_pos:
                raise ModelError("source has %d tokens, more than max_position_embeddings %d" % (len(s), self.max_pos))
        src = torch.full((B, S), self.pad, dtype=torch.long)
        for b, s in enumerate(src_batch):
            src[b, : len(s)] = torch.tensor(s, dtype=torch.long)
        limits = [self.limit_for(len(s), max_length) for s in src_batch]
        T = max(limits)
        enc, mask = self.encode(src)
        h = self.dh
        hd = self.d // h
        # cross-attention K/V: computed once per batch
        cross = [(self._heads(F.linear(enc, *L["ca"]["k"]), h), self._heads(F.linear(enc, *L["ca"]["v"]), h))
                 for L in self.dec]
        # self-attention cache, preallocated
        kc = [torch.zeros(B, h, T, hd) for _ in self.dec]
        vc = [torch.zeros(B, h, T, hd) for _ in self.dec]
        tok = torch.full((B,), self.start, dtype=torch.long)
        outs = [[] for _ in range(B)]
        done = [False] * B
        for t in range(1, T + 1):
            p = t - 1  # position of the input token
            x = (F.embedding(tok, self.emb) * self.scale + self.pos[p])[:, None, :]
            for li, L in enumerate(self.dec):
                a = L["sa"]
                q = self._heads(F.linear(x, *a["q"]) * hd ** -0.5, h)
                kc[li][:, :, p] = F.linear(x, *a["k"])[:, 0].view(B, h, hd)
                vc[li][:, :, p] = F.linear(x, *a["v"])[:, 0].view(B, h, hd)
                x = self._ln(x + self._attend(q, kc[li][:, :, : p + 1], vc[li][:, :, : p + 1], None, a, h), L["sa_ln"])
                c = L["ca"]
                q = self._heads(F.linear(x, *c["q"]) * hd ** -0.5, h)
                x = self._ln(x + self._attend(q, cross[li][0], cross[li][1], mask, c, h), L["ca_ln"])
                x = self._ln(x + self._ffn(x, L["ffn"]), L["ffn_ln"])
            logits = F.linear(x[:, 0], self.lm_head) + self.flb
            logits[:, self.pad] = float("-inf")
            if t < min_length:
                logits[:, self.eos] = float("-inf")
            nxt = torch.argmax(logits, dim=-1)  # first index of the max
            nl = nxt.tolist()
            for b in range(B):
                if done[b]:
                    nl[b] = self.pad
                    continue
                outs[b].append(nl[b])
                if nl[b] == self.eos or t == limits[b]:
                    done[b] = True
            if all(done):
                break
            tok = torch.tensor(nl, dtype=torch.long)
        return outs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=None)
    ap.add_argument("--min-length", type=int, default=0)
    ap.add_argument("--ids", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--golden", metavar="OUT.tsv")
    ap.add_argument("--no-sort", action="store_true", help="batch in input order instead of sorted by length")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        ref = Reference(a.model)
    except (ModelError, OSError, KeyError, ValueError) as e:
        sys.exit("reference.py: cannot load model %s: %s" % (a.model, e))
    lines = [l.rstrip("\n").rstrip("\r") for l in sys.stdin.buffer.read().decode("utf-8").split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    t0 = time.perf_counter()
    srcs = [ref.encode_text(l) if l != "" else None for l in lines]
    for i, s in enumerate(srcs):
        if s is not None and len(s) > ref.max_pos:
            sys.exit("reference.py: line %d: %d source tokens, more than max_position_embeddings %d"
                     % (i + 1, len(s), ref.max_pos))
    todo = [i for i, s in enumerate(srcs) if s is not None]
    if not a.no_sort:
        todo.sort(key=lambda i: len(srcs[i]))
    outs = [None] * len(lines)
    try:
        for b in range(0, len(todo), a.batch_size):
            idx = todo[b: b + a.batch_size]
            res = ref.greedy([srcs[i] for i in idx], a.max_length, a.min_length)
            for i, r in zip(idx, res):
                outs[i] = r
    except ModelError as e:
        sys.exit("reference.py: %s" % e)
    texts = [ref.decode_ids(o) if o is not None else "" for o in outs]
    secs = time.perf_counter() - t0
    out = sys.stdout
    for i, l in enumerate(lines):
        if srcs[i] is None:
            out.write("\n")
        elif a.ids:
            out.write("%s\t%s\t%s\n" % (" ".join(map(str, srcs[i])), " ".join(map(str, outs[i])), texts[i]))
        else:
            out.write(texts[i] + "\n")
    out.flush()
    if a.golden:
        with open(a.golden, "w", encoding="utf-8") as f:
            f.write("# golden fixture written by tools/reference.py --model %s --batch-size %d%s%s\n"
                    % (os.path.normpath(a.model), a.batch_size,
                       "" if a.max_length is None else " --max-length %d" % a.max_length,
                       "" if not a.min_length else " --min-length %d" % a.min_length))
            f.write("# input<TAB>src_ids<TAB>out_ids<TAB>translation\n")
            for i, l in enumerate(lines):
                if srcs[i] is None:
                    continue
                if "\t" in l:
                    sys.exit("reference.py: line %d contains a tab; not allowed in a golden file" % (i + 1))
                f.write("%s\t%s\t%s\t%s\n" % (l, " ".join(map(str, srcs[i])), " ".join(map(str, outs[i])), texts[i]))
    if a.bench:
        n = len(todo)
        tok = sum(len(outs[i]) for i in todo)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        sys.stderr.write("reference: sentences=%d tokens_out=%d seconds=%.2f sentences_per_s=%.1f tokens_per_s=%.1f "
                         "batch=%d threads=%d peak_rss_mb=%.0f\n"
                         % (n, tok, secs, n / secs if secs else 0, tok / secs if secs else 0, a.batch_size, a.threads, rss))


if __name__ == "__main__":
    main()
