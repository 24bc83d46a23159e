#!/usr/bin/python3
"""Convert a Hugging Face Marian directory that only has pytorch_model.bin
into model.safetensors, so nmtd can load it.

  tools/convert_pytorch_bin.py DIR [--dtype keep|F32|F16|BF16] [--output FILE]
                               [--keep-aliases] [--force]

DIR is a model directory (Helsinki-NLP/opus-mt-* layout) holding
pytorch_model.bin (or a sharded pytorch_model.bin.index.json); a path to a
.bin file works too. The output (default DIR/model.safetensors) is written
next to the other files, which are left untouched. An existing output is
never overwritten without --force.

What is written:
  * every floating-point tensor under its Hugging Face name, in its own dtype
    (float32 -> F32, float16 -> F16, bfloat16 -> BF16) unless --dtype says
    otherwise;
  * NOT model.encoder.embed_positions.weight / model.decoder.embed_positions.weight
    (sinusoidal tables that HF itself never saves: engines compute them);
  * NOT the tied aliases of model.shared.weight: in a .bin saved by HF,
    model.encoder.embed_tokens.weight, model.decoder.embed_tokens.weight and
    lm_head.weight share storage with model.shared.weight; safetensors cannot
    share storage, and engines treat their absence as "tied". A tensor that
    has the same name but its own, different data is kept. --keep-aliases
    writes them as copies instead.
Non-floating-point tensors are skipped with a warning.

Requires Debian's python3-torch (torch.load, map_location="cpu").
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import marian_format  # noqa: E402

POSITION_NAMES = ("model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight")
ALIAS_NAMES = ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight")
SHARED = "model.shared.weight"


def torch_load(path):
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # older torch without weights_only
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise SystemExit("error: %s does not hold a state dict (got %s)" % (path, type(obj).__name__))
    return obj


def load_state_dict(src):
    """Return (state dict, description of the source files)."""
    if os.path.isdir(src):
        index = os.path.join(src, "pytorch_model.bin.index.json")
        single = os.path.join(src, "pytorch_model.bin")
        if os.path.exists(single):
            return torch_load(single), single
        if os.path.exists(index):
            with open(index) as f:
                weight_map = json.load(f)["weight_map"]
            sd = {}
            for shard in sorted(set(weight_map.values())):
                sd.update(torch_load(os.path.join(src, shard)))
            return sd, index
        raise SystemExit("error: %s has no pytorch_model.bin (nor pytorch_model.bin.index.json)" % src)
    if os.path.isfile(src):
        return torch_load(src), src
    raise SystemExit("error: %s: no such file or directory" % src)


def same_storage(a, b):
    try:
        return (a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
                and a.storage_offset() == b.storage_offset()
                and a.shape == b.shape and a.stride() == b.stride())
    except AttributeError:  # torch < 2.0
        return (a.storage().data_ptr() == b.storage().data_ptr()
                and a.storage_offset() == b.storage_offset()
                and a.shape == b.shape and a.stride() == b.stride())


def to_numpy(t, out_dtype):
    """torch tensor -> (numpy array, safetensors dtype) for save_safetensors."""
    import torch
    t = t.detach().contiguous()
    src = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}.get(t.dtype)
    if src is None:
        if not t.is_floating_point():
            return None, None
        t, src = t.float(), "F32"  # float64 etc.
    dst = src if out_dtype == "keep" else out_dtype
    if src == dst:
        if src == "BF16":
            return t.view(torch.int16).numpy().view(np.uint16), "BF16"
        return t.numpy(), src
    if dst == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16), "BF16"
    return t.float().numpy(), dst  # save_safetensors casts F32 -> F16 / F32


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("src", help="model directory with pytorch_model.bin, or a .bin file")
    ap.add_argument("--output", "-o", help="default: <dir>/model.safetensors")
    ap.add_argument("--dtype", choices=["keep", "F32", "F16", "BF16"], default="keep")
    ap.add_argument("--keep-aliases", action="store_true",
                    help="also write embed_tokens / lm_head tensors that alias model.shared.weight")
    ap.add_argument("--force", action="store_true", help="overwrite an existing output")
    args = ap.parse_args(argv)

    out_dir = args.src if os.path.isdir(args.src) else os.path.dirname(os.path.abspath(args.src))
    output = args.output or os.path.join(out_dir, "model.safetensors")
    if os.path.exists(output) and not args.force:
        raise SystemExit("error: %s already exists; refusing to overwrite it (use --force)" % output)

    sd, srcdesc = load_state_dict(args.src)
    tensors, dtypes, dropped = {}, {}, []
    shared = sd.get(SHARED)
    for name in sorted(sd):
        t = sd[name]
        if not hasattr(t, "dtype"):
            print("warning: %s is not a tensor (%s); skipped" % (name, type(t).__name__), file=sys.stderr)
            continue
        if name in POSITION_NAMES:
            dropped.append("%s (sinusoidal, computed by the engine)" % name)
            continue
        if (name in ALIAS_NAMES and shared is not None and not args.keep_aliases
                and same_storage(t, shared)):
            dropped.append("%s (tied to %s)" % (name, SHARED))
            continue
        arr, dt = to_numpy(t, args.dtype)
        if arr is None:
            print("warning: %s has non-float dtype %s; skipped" % (name, t.dtype), file=sys.stderr)
            continue
        tensors[name] = arr
        dtypes[name] = dt
    if not tensors:
        raise SystemExit("error: %s has no floating-point tensors" % srcdesc)
    if SHARED not in tensors:
        print("warning: %s has no %s; not a shared-vocabulary Marian model?" % (srcdesc, SHARED),
              file=sys.stderr)
    marian_format.save_safetensors(output, tensors, dtype=dtypes, metadata={"format": "pt"})
    counts = {}
    for dt in dtypes.values():
        counts[dt] = counts.get(dt, 0) + 1
    print("wrote %s: %d tensors (%s), %.1f MB, from %s"
          % (output, len(tensors), ", ".join("%d %s" % (n, d) for d, n in sorted(counts.items())),
             os.path.getsize(output) / 1e6, srcdesc), file=sys.stderr)
    for d in dropped:
        print("  dropped %s" % d, file=sys.stderr)


if __name__ == "__main__":
    main()
