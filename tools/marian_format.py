#!/usr/bin/python3
"""Read and write Hugging Face Marian (OPUS-MT) model directories without
the `safetensors` or `transformers` packages.

Functions:
  save_safetensors(path, tensors, dtype="F32", metadata=None)
      Write a .safetensors file: 8-byte little-endian header length, a JSON
      header {"name": {"dtype", "shape", "data_offsets": [begin, end]},
      "__metadata__": {...}} padded with spaces to a multiple of 8, then the
      raw little-endian data of every tensor, in sorted name order.
      `dtype` is "F32", "F16" or "BF16" (BF16 rounds to nearest even), or a
      dict name -> dtype for mixed files.
  load_safetensors(path) -> dict[name, np.ndarray float32]
      mmap + np.frombuffer; F16 and BF16 are converted to float32.
      load_safetensors_raw(path) gives (header, raw arrays) without converting.
  marian_config(d_model, enc_layers, dec_layers, heads, ffn, vocab_size,
                max_pos, activation, pad_id, eos_id, decoder_start_id,
                max_length, ...) -> dict
      A config.json dict with every MarianConfig field (CONTRACT.md).
  generation_config(config) -> dict
      The matching generation_config.json dict.
  write_model_dir(dir, config, tensors, source_spm, target_spm, vocab, dtype)
      Write config.json, model.safetensors, source.spm, target.spm (copies),
      vocab.json, tokenizer_config.json, generation_config.json.
  marian_tensor_shapes(config, lm_head=False, final_logits_bias=True,
                       embed_tokens=False) -> dict[name, shape]
      The HF tensor names and shapes of a Marian model with this config.

Only numpy is required (no torch). Importable from the tools/ directory:
    sys.path.insert(0, "tools"); import marian_format
"""

import json
import mmap
import os
import shutil
import struct

import numpy as np

__all__ = [
    "save_safetensors", "load_safetensors", "load_safetensors_raw",
    "marian_config", "generation_config", "write_model_dir",
    "marian_tensor_shapes", "to_bf16_bits", "from_bf16_bits",
]

_DTYPE_SIZES = {"F32": 4, "F16": 2, "BF16": 2}


def to_bf16_bits(a):
    """float32 array -> uint16 array of bfloat16 bits (round to nearest even;
    NaN stays NaN)."""
    shape = np.shape(a)
    a = np.ascontiguousarray(a, dtype=np.float32).reshape(-1)
    u = a.view(np.uint32).astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    r = ((u + rounding) >> 16).astype(np.uint16)
    nan = np.isnan(a)
    if nan.any():
        r[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)
    return r.reshape(shape)


def from_bf16_bits(b):
    """uint16 array of bfloat16 bits -> float32 array."""
    b = np.asarray(b, dtype=np.uint16)
    return (b.reshape(-1).astype(np.uint32) << 16).view(np.float32).reshape(b.shape)


def _encode(arr, dtype):
    """Return the little-endian bytes-like view of arr in dtype."""
    if dtype == "F32":
        out = np.ascontiguousarray(arr, dtype="<f4")
    elif dtype == "F16":
        out = np.ascontiguousarray(arr, dtype="<f2")
    elif dtype == "BF16":
        if isinstance(arr, np.ndarray) and arr.dtype == np.uint16:
            out = np.ascontiguousarray(arr, dtype="<u2")  # already bf16 bits
        else:
            out = to_bf16_bits(arr).astype("<u2", copy=False)
    else:
        raise ValueError("unsupported dtype %r (F32, F16, BF16)" % (dtype,))
    return out


def save_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write `tensors` (name -> numpy array) to `path` as safetensors.

    dtype: "F32" | "F16" | "BF16", or a dict name -> one of those.
    metadata: optional dict str -> str stored under "__metadata__".
    Tensors are laid out in sorted name order; offsets are relative to the
    end of the header. The header is padded with spaces to a multiple of 8.
    """
    names = sorted(tensors)
    header = {}
    encoded = []
    offset = 0
    for name in names:
        dt = dtype[name] if isinstance(dtype, dict) else dtype
        data = _encode(np.asarray(tensors[name]), dt)
        nbytes = data.size * _DTYPE_SIZES[dt]
        header[name] = {"dtype": dt,
                        "shape": [int(s) for s in np.shape(tensors[name])],
                        "data_offsets": [offset, offset + nbytes]}
        encoded.append(data)
        offset += nbytes
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (-(8 + len(hjson))) % 8
    hjson += b" " * pad
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for data in encoded:
            f.write(np.ascontiguousarray(data).reshape(-1).view(np.uint8).data)
    os.replace(tmp, path)


def load_safetensors_raw(path):
    """Return (header dict, {name: numpy array in the stored dtype}).

    F32 -> float32, F16 -> float16, BF16 -> uint16 bits. Arrays are read-only
    views over an mmap of the file. Raises ValueError on a malformed file.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 8:
            raise ValueError("%s: file too short for a safetensors header" % path)
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    (hlen,) = struct.unpack("<Q", mm[:8])
    if hlen > size - 8:
        raise ValueError("%s: header length %d exceeds file size %d" % (path, hlen, size))
    header = json.loads(bytes(mm[8:8 + hlen]).decode("utf-8"))
    base = 8 + hlen
    np_types = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info["dtype"]
        if dt not in np_types:
            raise ValueError("%s: tensor %s has unsupported dtype %s" % (path, name, dt))
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= b <= e <= size - base) or e - b != n * _DTYPE_SIZES[dt]:
            raise ValueError("%s: tensor %s has bad data_offsets %r" % (path, name, [b, e]))
        arr = np.frombuffer(mm, dtype=np_types[dt], count=n, offset=base + b)
        out[name] = arr.reshape(shape)
    return header, out


def load_safetensors(path):
    """Return {name: float32 numpy array}; F16/BF16 converted to float32.
    F32 tensors are zero-copy read-only views over the mmap."""
    header, raw = load_safetensors_raw(path)
    out = {}
    for name, arr in raw.items():
        dt = header[name]["dtype"]
        if dt == "F32":
            out[name] = arr
        elif dt == "F16":
            out[name] = arr.astype(np.float32)
        else:
            out[name] = from_bf16_bits(arr)
    return out


def marian_config(d_model, enc_layers, dec_layers, heads, ffn, vocab_size,
                  max_pos, activation="swish", pad_id=None, eos_id=0,
                  decoder_start_id=None, max_length=512, unk_id=None,
                  dec_heads=None, dec_ffn=None, num_beams=1,
                  scale_embedding=True, share_embeddings=True,
                  name_or_path="", extra=None):
    """Return a config.json dict with every MarianConfig field.

    pad_id defaults to vocab_size - 1; decoder_start_id defaults to pad_id.
    unk_id is not a MarianConfig field; it is recorded only in the vocab /
    tokenizer files (pass it to write_model_dir through the vocab).
    """
    if pad_id is None:
        pad_id = vocab_size - 1
    if decoder_start_id is None:
        decoder_start_id = pad_id
    dec_heads = heads if dec_heads is None else dec_heads
    dec_ffn = ffn if dec_ffn is None else dec_ffn
    cfg = {
        "_name_or_path": name_or_path,
        "activation_dropout": 0.0,
        "activation_function": activation,
        "architectures": ["MarianMTModel"],
        "attention_dropout": 0.0,
        "bad_words_ids": [[pad_id]],
        "bos_token_id": 0,
        "classifier_dropout": 0.0,
        "d_model": d_model,
        "decoder_attention_heads": dec_heads,
        "decoder_ffn_dim": dec_ffn,
        "decoder_layerdrop": 0.0,
        "decoder_layers": dec_layers,
        "decoder_start_token_id": decoder_start_id,
        "decoder_vocab_size": vocab_size,
        "dropout": 0.1,
        "encoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "encoder_layerdrop": 0.0,
        "encoder_layers": enc_layers,
        "eos_token_id": eos_id,
        "forced_eos_token_id": eos_id,
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "max_length": max_length,
        "max_position_embeddings": max_pos,
        "model_type": "marian",
        "normalize_before": False,
        "normalize_embedding": False,
        "num_beams": num_beams,
        "num_hidden_layers": enc_layers,
        "pad_token_id": pad_id,
        "scale_embedding": scale_embedding,
        "share_encoder_decoder_embeddings": share_embeddings,
        "static_position_embeddings": True,
        "torch_dtype": "float32",
        "transformers_version": "4.26.0",
        "use_cache": True,
        "vocab_size": vocab_size,
    }
    if extra:
        cfg.update(extra)
    return cfg


def generation_config(config):
    """generation_config.json dict derived from a config dict."""
    return {
        "bad_words_ids": [[config["pad_token_id"]]],
        "bos_token_id": config.get("bos_token_id", 0),
        "decoder_start_token_id": config["decoder_start_token_id"],
        "eos_token_id": config["eos_token_id"],
        "forced_eos_token_id": config["eos_token_id"],
        "max_length": config["max_length"],
        "num_beams": config.get("num_beams", 1),
        "pad_token_id": config["pad_token_id"],
        "transformers_version": config.get("transformers_version", "4.26.0"),
    }


def marian_tensor_shapes(config, lm_head=False, final_logits_bias=True,
                         embed_tokens=False):
    """Return {HF tensor name: shape tuple} for a shared-vocab Marian model."""
    d = config["d_model"]
    V = config["vocab_size"]
    shapes = {"model.shared.weight": (V, d)}
    if embed_tokens:
        shapes["model.encoder.embed_tokens.weight"] = (V, d)
        shapes["model.decoder.embed_tokens.weight"] = (V, d)
    if lm_head:
        shapes["lm_head.weight"] = (V, d)
    if final_logits_bias:
        shapes["final_logits_bias"] = (1, V)

    def attn(prefix):
        for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes["%s.%s.weight" % (prefix, p)] = (d, d)
            shapes["%s.%s.bias" % (prefix, p)] = (d,)

    def ln(prefix):
        shapes[prefix + ".weight"] = (d,)
        shapes[prefix + ".bias"] = (d,)

    def ffn(prefix, f):
        shapes[prefix + ".fc1.weight"] = (f, d)
        shapes[prefix + ".fc1.bias"] = (f,)
        shapes[prefix + ".fc2.weight"] = (d, f)
        shapes[prefix + ".fc2.bias"] = (d,)

    for i in range(config["encoder_layers"]):
        p = "model.encoder.layers.%d" % i
        attn(p + ".self_attn")
        ln(p + ".self_attn_layer_norm")
        ffn(p, config["encoder_ffn_dim"])
        ln(p + ".final_layer_norm")
    for i in range(config["decoder_layers"]):
        p = "model.decoder.layers.%d" % i
        attn(p + ".self_attn")
        ln(p + ".self_attn_layer_norm")
        attn(p + ".encoder_attn")
        ln(p + ".encoder_attn_layer_norm")
        ffn(p, config["decoder_ffn_dim"])
        ln(p + ".final_layer_norm")
    return shapes


def _write_json(path, obj, indent=2):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


def write_model_dir(out_dir, config, tensors, source_spm, target_spm, vocab,
                    dtype="F32", source_lang="src", target_lang="tgt",
                    metadata=None):
    """Write a complete HF Marian model directory.

    out_dir: created if missing. config: dict (see marian_config).
    tensors: name -> numpy array (float32; converted to `dtype` on write).
    source_spm / target_spm: paths of SentencePiece models, copied as
    source.spm / target.spm. vocab: piece -> id (must cover every id in
    [0, vocab_size) exactly once). dtype: "F32" | "F16" | "BF16".
    """
    os.makedirs(out_dir, exist_ok=True)
    V = config["vocab_size"]
    ids = sorted(vocab.values())
    if ids != list(range(V)):
        raise ValueError("vocab.json ids must be exactly 0..%d (got %d entries)" % (V - 1, len(ids)))
    inv = {i: p for p, i in vocab.items()}
    config = dict(config)
    config["torch_dtype"] = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    _write_json(os.path.join(out_dir, "config.json"), config)
    _write_json(os.path.join(out_dir, "generation_config.json"), generation_config(config))
    _write_json(os.path.join(out_dir, "vocab.json"), vocab)
    unk = "<unk>" if "<unk>" in vocab else None
    tok = {
        "eos_token": inv[config["eos_token_id"]],
        "model_max_length": config["max_position_embeddings"],
        "pad_token": inv[config["pad_token_id"]],
        "separate_vocabs": False,
        "source_lang": source_lang,
        "sp_model_kwargs": {},
        "special_tokens_map_file": None,
        "target_lang": target_lang,
        "tokenizer_class": "MarianTokenizer",
        "unk_token": unk,
    }
    _write_json(os.path.join(out_dir, "tokenizer_config.json"), tok)
    for src, name in ((source_spm, "source.spm"), (target_spm, "target.spm")):
        dst = os.path.join(out_dir, name)
        if os.path.abspath(src) != os.path.abspath(dst):
            shutil.copyfile(src, dst)
    md = {"format": "pt"}
    if metadata:
        md.update(metadata)
    save_safetensors(os.path.join(out_dir, "model.safetensors"), tensors, dtype=dtype, metadata=md)
