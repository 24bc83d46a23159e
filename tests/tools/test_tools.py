#!/usr/bin/python3
"""Tests of the Python model tooling (tools/marian_format.py,
tools/make_random_model.py, tools/convert_pytorch_bin.py,
tools/make_test_models.sh). About 10-40 seconds.

    /usr/bin/python3 tests/tools/test_tools.py [-v]
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import marian_format as mf  # noqa: E402

PY = "/usr/bin/python3"

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None


def run(*args):
    r = subprocess.run([PY] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


class TestSafetensors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_roundtrip_and_layout(self):
        rng = np.random.default_rng(0)
        t = {"z.w": rng.standard_normal((3, 5)).astype(np.float32),
             "a.b": (rng.standard_normal(7) * 100).astype(np.float32),
             "s": np.array(np.float32(1.5))}
        for dt in ("F32", "F16", "BF16"):
            p = os.path.join(self.tmp, dt + ".safetensors")
            mf.save_safetensors(p, t, dtype=dt, metadata={"format": "pt"})
            with open(p, "rb") as f:
                raw = f.read()
            (hl,) = struct.unpack("<Q", raw[:8])
            self.assertEqual((8 + hl) % 8, 0)
            hdr = json.loads(raw[8:8 + hl])
            self.assertEqual(hdr["__metadata__"], {"format": "pt"})
            names = [k for k in hdr if k != "__metadata__"]
            self.assertEqual(sorted(names), names)  # data laid out in sorted order
            end = 0
            for k in names:
                b, e = hdr[k]["data_offsets"]
                self.assertEqual(b, end)
                end = e
            self.assertEqual(8 + hl + end, len(raw))
            got = mf.load_safetensors(p)
            for k, v in t.items():
                if dt == "F32":
                    ref = v
                elif dt == "F16":
                    ref = v.astype(np.float16).astype(np.float32)
                else:
                    ref = mf.from_bf16_bits(mf.to_bf16_bits(v))
                self.assertEqual(got[k].dtype, np.float32)
                self.assertEqual(got[k].shape, v.shape)
                self.assertTrue(np.array_equal(got[k], ref), (dt, k))

    @unittest.skipIf(torch is None, "torch not available")
    def test_bf16_matches_torch(self):
        rng = np.random.default_rng(1)
        x = (rng.standard_normal(10000) * 10.0 ** rng.integers(-30, 30, 10000)).astype(np.float32)
        x = np.concatenate([x, np.array([np.inf, -np.inf, 3.4e38, 1e-40, -0.0], np.float32)])
        ref = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
        self.assertTrue(np.array_equal(mf.from_bf16_bits(mf.to_bf16_bits(x)), ref))

    def test_bad_offsets_refused(self):
        p = os.path.join(self.tmp, "bad.safetensors")
        mf.save_safetensors(p, {"a": np.zeros(4, np.float32)})
        raw = bytearray(open(p, "rb").read())
        raw = raw.replace(b'"data_offsets":[0,16]', b'"data_offsets":[0,99]')
        open(p, "wb").write(raw)
        with self.assertRaises(ValueError):
            mf.load_safetensors(p)


class TestRandomModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.dir = os.path.join(cls.tmp, "m")
        rc, _, err = run(os.path.join(TOOLS, "make_random_model.py"), "--preset", "tc-big-like",
                         "--vocab-size", "420", "--eos-id", "200", "--unk-id", "7",
                         "--lang-tokens", ">>fra<<,>>deu<<", "--dtype", "F16",
                         "--spm-normalization", "identity", "--save-embed-tokens",
                         "--seed", "5", "--out", cls.dir)
        assert rc == 0, err

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_files(self):
        for f in ("config.json", "generation_config.json", "model.safetensors", "source.spm",
                  "target.spm", "vocab.json", "tokenizer_config.json"):
            self.assertTrue(os.path.exists(os.path.join(self.dir, f)), f)

    def test_config_and_vocab(self):
        cfg = json.load(open(os.path.join(self.dir, "config.json")))
        gen = json.load(open(os.path.join(self.dir, "generation_config.json")))
        vocab = json.load(open(os.path.join(self.dir, "vocab.json")))
        self.assertEqual(cfg["activation_function"], "relu")
        self.assertEqual((cfg["eos_token_id"], cfg["pad_token_id"], cfg["decoder_start_token_id"]),
                         (200, 419, 419))
        self.assertEqual(cfg["bad_words_ids"], [[419]])
        self.assertEqual(gen["eos_token_id"], 200)
        self.assertEqual(sorted(vocab.values()), list(range(420)))
        self.assertEqual((vocab["</s>"], vocab["<unk>"], vocab["<pad>"]), (200, 7, 419))
        self.assertIn(">>fra<<", vocab)
        self.assertIn(">>deu<<", vocab)
        import sentencepiece as spm
        for side in ("source.spm", "target.spm"):
            sp = spm.SentencePieceProcessor(model_file=os.path.join(self.dir, side))
            for i in range(sp.get_piece_size()):
                if not (sp.is_control(i) or sp.is_unknown(i)):
                    self.assertIn(sp.id_to_piece(i), vocab)

    def test_tensors(self):
        cfg = json.load(open(os.path.join(self.dir, "config.json")))
        hdr, raw = mf.load_safetensors_raw(os.path.join(self.dir, "model.safetensors"))
        want = mf.marian_tensor_shapes(cfg, lm_head=True, final_logits_bias=True, embed_tokens=True)
        got = {k: tuple(v["shape"]) for k, v in hdr.items() if k != "__metadata__"}
        self.assertEqual(got, want)
        self.assertTrue(all(hdr[k]["dtype"] == "F16" for k in got))
        self.assertFalse(any("embed_positions" in k for k in got))
        w = mf.load_safetensors(os.path.join(self.dir, "model.safetensors"))
        for k in ("lm_head.weight", "model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight"):
            self.assertTrue(np.array_equal(w[k], w["model.shared.weight"]))
        self.assertGreater(np.abs(w["final_logits_bias"]).max(), 0)

    def test_deterministic(self):
        other = os.path.join(self.tmp, "again")
        rc, _, err = run(os.path.join(TOOLS, "make_random_model.py"), "--preset", "tc-big-like",
                         "--vocab-size", "420", "--eos-id", "200", "--unk-id", "7",
                         "--lang-tokens", ">>fra<<,>>deu<<", "--dtype", "F16",
                         "--spm-normalization", "identity", "--save-embed-tokens",
                         "--seed", "5", "--out", other)
        self.assertEqual(rc, 0, err)
        for f in os.listdir(self.dir):
            self.assertEqual(open(os.path.join(self.dir, f), "rb").read(),
                             open(os.path.join(other, f), "rb").read(), f)

    def test_refuses_nonempty_out(self):
        rc, _, err = run(os.path.join(TOOLS, "make_random_model.py"), "--out", self.dir)
        self.assertNotEqual(rc, 0)
        self.assertIn("--force", err)


@unittest.skipIf(torch is None, "torch not available")
class TestConvert(unittest.TestCase):
    def test_roundtrip_bit_identical(self):
        tmp = tempfile.mkdtemp()
        try:
            for dtype in ("F32", "F16", "BF16"):
                src = os.path.join(tmp, "src-" + dtype)
                rc, _, err = run(os.path.join(TOOLS, "make_random_model.py"), "--preset", "tiny",
                                 "--dtype", dtype, "--spm-normalization", "identity", "--out", src)
                self.assertEqual(rc, 0, err)
                hdr, raw = mf.load_safetensors_raw(os.path.join(src, "model.safetensors"))
                sd = {}
                for k, a in raw.items():
                    a = np.array(a)
                    sd[k] = (torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
                             if hdr[k]["dtype"] == "BF16" else torch.from_numpy(a))
                shared = sd["model.shared.weight"]
                sd["lm_head.weight"] = shared  # tied, as HF saves it
                sd["model.encoder.embed_tokens.weight"] = shared
                sd["model.decoder.embed_tokens.weight"] = shared
                sd["model.encoder.embed_positions.weight"] = torch.zeros(64, 32)
                sd["model.decoder.embed_positions.weight"] = torch.zeros(64, 32)
                d = os.path.join(tmp, "hf-" + dtype)
                os.makedirs(d)
                torch.save(sd, os.path.join(d, "pytorch_model.bin"))
                conv = os.path.join(TOOLS, "convert_pytorch_bin.py")
                rc, _, err = run(conv, d)
                self.assertEqual(rc, 0, err)
                h2, raw2 = mf.load_safetensors_raw(os.path.join(d, "model.safetensors"))
                expect = set(raw) - {"lm_head.weight"}
                self.assertEqual(set(raw2), expect)
                for k in expect:
                    self.assertEqual(h2[k]["dtype"], hdr[k]["dtype"])
                    self.assertEqual(raw2[k].tobytes(), raw[k].tobytes(), k)
                rc, _, err = run(conv, d)  # refuses to overwrite
                self.assertNotEqual(rc, 0)
                self.assertIn("--force", err)
                rc, _, err = run(conv, d, "--force", "--dtype", "F32", "--keep-aliases")
                self.assertEqual(rc, 0, err)
                w = mf.load_safetensors(os.path.join(d, "model.safetensors"))
                self.assertIn("lm_head.weight", w)
                ref = mf.load_safetensors(os.path.join(src, "model.safetensors"))
                self.assertTrue(np.array_equal(w["model.shared.weight"], ref["model.shared.weight"]))
        finally:
            shutil.rmtree(tmp)


class TestCommittedModels(unittest.TestCase):
    def test_regenerate_identical(self):
        committed = os.path.join(ROOT, "tests", "data", "models")
        if not os.path.isdir(os.path.join(committed, "tiny-swish")):
            self.skipTest("no committed test models")
        tmp = tempfile.mkdtemp()
        try:
            r = subprocess.run(["sh", os.path.join(TOOLS, "make_test_models.sh"), tmp],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            for m in ("tiny-swish", "tiny-relu-eos", "tiny-bf16"):
                for f in sorted(os.listdir(os.path.join(tmp, m))):
                    self.assertEqual(open(os.path.join(tmp, m, f), "rb").read(),
                                     open(os.path.join(committed, m, f), "rb").read(), m + "/" + f)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
