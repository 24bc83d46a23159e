#!/usr/bin/python3
"""Train the English->German demo model (numbers + simple sentences, see tools/gen_data.py) and
export it to a Hugging Face Marian / OPUS-MT model directory (default models/en-de-demo/).

Debian 12 packages needed: python3-torch python3-sentencepiece python3-numpy python3-tqdm
    apt-get install -y python3-torch python3-sentencepiece python3-numpy python3-tqdm
(tqdm is optional: without it a plain progress line is printed.)

Steps: generate data (fixed seed) -> train source.spm / target.spm (unigram,
max_sentencepiece_length=8, so that German number words split into their parts) -> joint
vocab.json in the Marian convention (</s>=0, <unk>=1, source pieces, target pieces not yet
present, <pad>=last id) -> train a Marian-convention Transformer (post-norm, embeddings *
sqrt(d_model), Marian sinusoidal positions, tied embeddings + final_logits_bias, swish FFN, decoder
start = pad) for a fixed wall-clock budget with a learning rate that warms up then decays linearly
to zero exactly at the deadline -> export (tools/marian_format.py) with F32 tensors.

Usage:
  tools/train_demo.py --out models/en-de-demo --minutes 17.5 --seed 1      (the defaults)
  tools/train_demo.py --steps 2290 ...   (fixed step count instead of a wall-clock budget)
"""
import argparse
import json
import math
import os
import random
import sys
import tempfile
import time

# Debian's torch calls OpenBLAS (pthreads) for matrix products; its threads fight torch's OpenMP
# pool and any other load on a 2-core machine. Measured here: 1 OpenBLAS thread + 1 torch thread
# is the fastest setting for this small model (0.38-0.5 s/step vs 0.56-1.9 s/step with 2+2).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn
import torch.nn.functional as F
import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402
import marian_format  # noqa: E402

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None


# ----------------------------------------------------------------------------------------------
# Tokenizers

def train_spm(lines, prefix, vocab_size, max_lines=200000):
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as f:
        for l in lines[:max_lines]:
            f.write(l + "\n")
        path = f.name
    spm.SentencePieceTrainer.train(
        input=path, model_prefix=prefix, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, max_sentencepiece_length=8, hard_vocab_limit=False,
        input_sentence_size=2000000, shuffle_input_sentence=True, seed_sentencepiece_size=200000,
        num_threads=2, minloglevel=2)
    os.unlink(path)
    return prefix + ".model"


def build_vocab(src_sp, tgt_sp):
    vocab = {"</s>": 0, "<unk>": 1}
    for sp in (src_sp, tgt_sp):
        for i in range(sp.get_piece_size()):
            if sp.is_control(i) or sp.is_unknown(i):
                continue
            p = sp.id_to_piece(i)
            if p not in vocab:
                vocab[p] = len(vocab)
    vocab["<pad>"] = len(vocab)
    return vocab


def encode(sp, vocab, lines, add_eos=True):
    unk, eos = vocab["<unk>"], vocab["</s>"]
    out = []
    for pieces in sp.encode(lines, out_type=str):
        ids = [vocab.get(p, unk) for p in pieces]
        if add_eos:
            ids.append(eos)
        out.append(ids)
    return out


# ----------------------------------------------------------------------------------------------
# Model (tensor names are the HF Marian names)

def sinusoidal(n_pos, d):
    pos = torch.arange(n_pos, dtype=torch.float64)[:, None]
    i = torch.arange(d // 2, dtype=torch.float64)[None, :]
    ang = pos / torch.pow(10000.0, 2 * i / d)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).float()


ATTN_BMM = os.environ.get("NMTD_ATTN_BMM", "1") == "1"


class Attention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h, self.hd = h, d // h
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, kv, mask):
        B, T, d = x.shape
        S = kv.shape[1]
        q = (self.q_proj(x) * self.hd ** -0.5).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k_proj(kv).view(B, S, self.h, self.hd).transpose(1, 2)
        v = self.v_proj(kv).view(B, S, self.h, self.hd).transpose(1, 2)
        if ATTN_BMM:
            a = torch.softmax(q @ k.transpose(-1, -2) + mask, dim=-1)
            o = a @ v
        else:
            # broadcast multiply + sum: for these tiny heads it is much faster than CPU bmm, which
            # loops over B*h small matrix products in this torch build
            a = torch.softmax((q[:, :, :, None, :] * k[:, :, None, :, :]).sum(-1) + mask, dim=-1)
            o = (a[..., None] * v[:, :, None, :, :]).sum(-2)
        return self.out_proj(o.transpose(1, 2).reshape(B, T, d))


class EncLayer(nn.Module):
    def __init__(self, d, h, ffn):
        super().__init__()
        self.self_attn = Attention(d, h)
        self.self_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)
        self.fc1, self.fc2 = nn.Linear(d, ffn), nn.Linear(ffn, d)
        self.final_layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x, mask):
        x = self.self_attn_layer_norm(x + self.self_attn(x, x, mask))
        return self.final_layer_norm(x + self.fc2(F.silu(self.fc1(x))))


class DecLayer(EncLayer):
    def __init__(self, d, h, ffn):
        super().__init__(d, h, ffn)
        self.encoder_attn = Attention(d, h)
        self.encoder_attn_layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x, enc, self_mask, cross_mask):
        x = self.self_attn_layer_norm(x + self.self_attn(x, x, self_mask))
        x = self.encoder_attn_layer_norm(x + self.encoder_attn(x, enc, cross_mask))
        return self.final_layer_norm(x + self.fc2(F.silu(self.fc1(x))))


class Stack(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)


class Inner(nn.Module):
    def __init__(self, V, d, h, ffn, E, D, pad):
        super().__init__()
        self.shared = nn.Embedding(V, d)
        self.encoder = Stack([EncLayer(d, h, ffn) for _ in range(E)])
        self.decoder = Stack([DecLayer(d, h, ffn) for _ in range(D)])


class Marian(nn.Module):
    def __init__(self, V, d, h, ffn, E, D, pad, max_pos=512):
        super().__init__()
        self.model = Inner(V, d, h, ffn, E, D, pad)
        self.final_logits_bias = nn.Parameter(torch.zeros(1, V))
        self.register_buffer("pos", sinusoidal(max_pos, d), persistent=False)
        self.d, self.pad = d, pad
        for n, p in self.named_parameters():
            if n.endswith(".bias") or "layer_norm" in n or n == "final_logits_bias":
                continue
            if n == "model.shared.weight":
                nn.init.normal_(p, std=d ** -0.5)
            else:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def embed(self, ids):
        return self.model.shared(ids) * math.sqrt(self.d) + self.pos[: ids.shape[1]][None]

    def encode(self, src):
        mask = torch.zeros(src.shape, dtype=torch.float32).masked_fill(src == self.pad, float("-inf"))[:, None, None, :]
        x = self.embed(src)
        for l in self.model.encoder.layers:
            x = l(x, mask)
        return x, mask

    def decode(self, tgt_in, enc, cross_mask):
        T = tgt_in.shape[1]
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)[None, None]
        x = self.embed(tgt_in)
        for l in self.model.decoder.layers:
            x = l(x, enc, causal, cross_mask)
        return x @ self.model.shared.weight.t() + self.final_logits_bias

    def forward(self, src, tgt_in):
        enc, mask = self.encode(src)
        return self.decode(tgt_in, enc, mask)

    @torch.no_grad()
    def greedy(self, src, eos, max_len):
        """Simple (uncached) greedy decoding, used only to monitor training."""
        enc, mask = self.encode(src)
        B = src.shape[0]
        out = torch.full((B, 1), self.pad, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        for _ in range(max_len):
            logits = self.decode(out, enc, mask)[:, -1]
            logits[:, self.pad] = float("-inf")
            nxt = logits.argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.pad), nxt)
            out = torch.cat([out, nxt[:, None]], 1)
            done |= nxt == eos
            if done.all():
                break
        res = []
        for row in out[:, 1:].tolist():
            res.append(row[: row.index(eos) + 1] if eos in row else row)
        return res


# ----------------------------------------------------------------------------------------------

def pad_batch(seqs, pad):
    T = max(len(s) for s in seqs)
    return torch.tensor([s + [pad] * (T - len(s)) for s in seqs], dtype=torch.long)


def batches(src, tgt, bsz, rng):
    """Endless stream of length-sorted batches (sorted within chunks of 64 batches)."""
    n = len(src)
    order = list(range(n))
    while True:
        rng.shuffle(order)
        for c in range(0, n, bsz * 64):
            chunk = sorted(order[c:c + bsz * 64], key=lambda i: (len(src[i]), len(tgt[i])))
            bl = [chunk[i:i + bsz] for i in range(0, len(chunk), bsz)]
            rng.shuffle(bl)
            for b in bl:
                yield b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "models", "en-de-demo"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=17.5, help="wall-clock budget of the training loop")
    ap.add_argument("--steps", type=int, default=0,
                    help="train exactly this many steps, LR decaying to 0 at the last one (deterministic "
                         "schedule, ignores --minutes); default: the --minutes wall-clock budget")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 measured fastest; see top of file)")
    ap.add_argument("--numbers", type=int, default=180000, help="training number pairs")
    ap.add_argument("--sentences", type=int, default=420000, help="training sentence pairs")
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=3, help="encoder and decoder layers")
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--src-vocab", type=int, default=400)
    ap.add_argument("--tgt-vocab", type=int, default=600)
    ap.add_argument("--batch", type=int, default=128, help="sentences per batch")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=200, help="warm-up steps")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--monitor-minutes", type=float, default=6.0, help="greedy accuracy on 200 held-out items every N minutes (monitoring only)")
    a = ap.parse_args()

    t_start = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    np.random.seed(a.seed)
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)

    print("generating data (seed %d): %d numbers, %d sentences" % (a.seed, a.numbers, a.sentences), flush=True)
    pairs = gen_data.training_pairs(a.seed, a.numbers, a.sentences)
    en = [p[0] for p in pairs]
    de = [p[1] for p in pairs]
    print("  %.1fs" % (time.time() - t_start), flush=True)

    work = tempfile.mkdtemp(prefix="nmtd-spm-")
    src_model = train_spm(en, os.path.join(work, "source"), a.src_vocab)
    tgt_model = train_spm(de, os.path.join(work, "target"), a.tgt_vocab)
    src_sp = spm.SentencePieceProcessor(model_file=src_model)
    tgt_sp = spm.SentencePieceProcessor(model_file=tgt_model)
    vocab = build_vocab(src_sp, tgt_sp)
    V = len(vocab)
    pad, eos = vocab["<pad>"], vocab["</s>"]
    print("spm: source %d pieces, target %d pieces, joint vocab %d (pad %d)  %.1fs"
          % (src_sp.get_piece_size(), tgt_sp.get_piece_size(), V, pad, time.time() - t_start), flush=True)
    print("  e.g. %s -> %s" % (de_ex := gen_data.de_number(342142), tgt_sp.encode(de_ex, out_type=str)), flush=True)

    src_ids = encode(src_sp, vocab, en)
    tgt_ids = encode(tgt_sp, vocab, de)
    unk = vocab["<unk>"]
    n_unk = sum(s.count(unk) for s in src_ids) + sum(s.count(unk) for s in tgt_ids)
    print("tokenized: mean src %.1f, mean tgt %.1f ids, %d unk  %.1fs"
          % (np.mean([len(s) for s in src_ids]), np.mean([len(s) for s in tgt_ids]), n_unk, time.time() - t_start), flush=True)

    # monitoring sets (held-out; used for printing progress only, never for model selection)
    mon = gen_data.heldout_numbers(a.seed)[:100] + gen_data.heldout_sentences(a.seed, 100)
    mon_src = encode(src_sp, vocab, [m[0] for m in mon])
    mon_tgt = encode(tgt_sp, vocab, [m[1] for m in mon])

    model = Marian(V, a.d_model, a.heads, a.ffn, a.layers, a.layers, pad)
    n_par = sum(p.numel() for p in model.parameters())
    print("model: d=%d layers=%d+%d heads=%d ffn=%d vocab=%d params=%d" % (a.d_model, a.layers, a.layers, a.heads, a.ffn, V, n_par), flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, betas=(0.9, 0.98), eps=1e-9)
    lossf = nn.CrossEntropyLoss(ignore_index=pad, label_smoothing=a.label_smoothing)

    def monitor():
        model.eval()
        ok = [0, 0]
        for lo, k in ((0, 0), (100, 1)):
            hyp = model.greedy(pad_batch(mon_src[lo:lo + 100], pad), eos, 40)
            ok[k] += sum(h == t for h, t in zip(hyp, mon_tgt[lo:lo + 100]))
        model.train()
        return float(ok[0]), float(ok[1])

    budget = a.minutes * 60.0
    t0 = time.time()
    rng = random.Random(a.seed)
    stream = batches(src_ids, tgt_ids, a.batch, rng)
    step, ema = 0, None
    next_mon = a.monitor_minutes * 60.0
    bar = tqdm(total=int(budget), unit="s", bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt}s {postfix}", mininterval=15) if tqdm else None
    last_shown = 0
    model.train()
    while True:
        el = time.time() - t0
        if a.steps:
            if step >= a.steps:
                break
            frac = step / a.steps
        else:
            if el >= budget:
                break
            frac = el / budget
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * max(0.0, 1.0 - frac)
        for g in opt.param_groups:
            g["lr"] = lr
        b = next(stream)
        src = pad_batch([src_ids[i] for i in b], pad)
        tgt = pad_batch([tgt_ids[i] for i in b], pad)
        tgt_in = torch.cat([torch.full((tgt.shape[0], 1), pad, dtype=torch.long), tgt[:, :-1]], 1)
        logits = model(src, tgt_in)
        loss = lossf(logits.reshape(-1, V), tgt.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        el = time.time() - t0
        if bar is not None:
            if int(el) > last_shown:
                bar.update(min(int(el), int(budget)) - last_shown)
                last_shown = min(int(el), int(budget))
                bar.set_postfix_str("step %d loss %.3f lr %.2e" % (step, ema, lr))
        elif step % 100 == 0:
            print("step %d  %.0fs  loss %.3f  lr %.2e" % (step, el, ema, lr), flush=True)
        if el >= next_mon:
            next_mon += a.monitor_minutes * 60.0
            accn, accs = monitor()
            msg = "[%.1f min] step %d loss %.3f  monitor exact match: numbers %.1f%%  sentences %.1f%%" % (el / 60, step, ema, accn, accs)
            (bar.write(msg) if bar is not None else print(msg, flush=True))
    if bar is not None:
        bar.close()
    train_s = time.time() - t0
    accn, accs = monitor()
    print("trained %d steps in %.1fs (%.2f steps/s); final loss %.3f; monitor exact match numbers %.1f%% sentences %.1f%%"
          % (step, train_s, step / train_s, ema, accn, accs), flush=True)

    # export
    cfg = marian_format.marian_config(a.d_model, a.layers, a.layers, a.heads, a.ffn, V, 512, activation="swish",
                                      pad_id=pad, eos_id=eos, decoder_start_id=pad, max_length=512,
                                      name_or_path="nmtd/en-de-demo")
    cfg["dropout"] = 0.0
    tensors = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    assert set(tensors) == set(marian_format.marian_tensor_shapes(cfg)), "tensor names differ from HF Marian"
    marian_format.write_model_dir(out, cfg, tensors, src_model, tgt_model, vocab, dtype="F32",
                                  source_lang="en", target_lang="de",
                                  metadata={"trained_by": "tools/train_demo.py", "seed": str(a.seed)})
    total = time.time() - t_start
    info = {"seed": a.seed, "steps": step, "train_seconds": round(train_s, 1), "total_seconds": round(total, 1),
            "params": n_par, "vocab": V, "final_loss": round(ema, 4), "threads": a.threads,
            "numbers": a.numbers, "sentences": a.sentences, "batch": a.batch, "lr": a.lr,
            "monitor_numbers": accn, "monitor_sentences": accs}
    with open(os.path.join(work, "train_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    print("exported to %s; total wall time %.1fs" % (out, total), flush=True)
    print("TRAIN_INFO " + json.dumps(info), flush=True)


if __name__ == "__main__":
    main()
