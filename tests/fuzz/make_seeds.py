#!/usr/bin/env python3
"""make_seeds.py: writes the hand-made seed corpora of tests/fuzz/corpus.

Run from anywhere: python3 tests/fuzz/make_seeds.py.  Each target gets valid
inputs (so that the fuzzer starts deep inside the parser) and tricky invalid
ones (each error path once, and the inputs of past bug reports).  Seeds are
small: synthetic safetensors headers with a few bytes of data, never a real
model file.  Files called regress-* are reproducers of fuzzing findings,
added by hand; this script leaves them alone.  Seed names have no spaces.
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(ROOT, *parts), "rb") as f:
        return f.read()


# ---- fuzz_safetensors ------------------------------------------------------

def st(header, data=b"", pad=True):
    """A safetensors image: header (a dict, or raw text/bytes) and data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    if isinstance(header, str):
        header = header.encode()
    if pad:
        header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + data


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors_seeds():
    w = lambda name, data: write("fuzz_safetensors", name, data)
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    w("valid-one-f32", st({"a": t("F32", [2, 2], 0, 16)}, f32))
    w("valid-metadata-two", st({"__metadata__": {"format": "pt"}, "b": t("F32", [2], 8, 16),
                                "a": t("F16", [4], 0, 8)}, f32))
    w("valid-dtypes", st({"h": t("F16", [2], 0, 4), "b": t("BF16", [2], 4, 8), "i": t("I64", [1], 8, 16),
                          "u": t("U8", [2, 2], 16, 20), "z": t("BOOL", [4], 20, 24)}, bytes(range(24))))
    w("valid-empty-tensors", st({"e": t("F32", [0], 0, 0), "a": t("F32", [], 0, 4), "s": t("F32", [3, 0], 4, 4),
                                 "b": t("F32", [1], 4, 8)}, f32[:8]))
    w("valid-empty", st("{}"))
    w("valid-unpadded", st({"a": t("F32", [1], 0, 4)}, f32[:4], pad=False))
    w("valid-marian-names", st({"model.shared.weight": t("F32", [3, 2], 0, 24),
                                "model.encoder.layers.0.self_attn.k_proj.weight": t("F32", [2, 2], 24, 40),
                                "model.encoder.layers.0.self_attn.k_proj.bias": t("F32", [2], 40, 48),
                                "final_logits_bias": t("F32", [1, 3], 48, 60)}, bytes(60)))
    w("valid-float-forms", st('{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0.0,8e0]}}', f32[:8]))
    w("valid-escaped-backslash-name", st('{"a\\\\u0000":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32[:4]))
    # offsets and shapes that are not integers (the UBSan finding was a huge float offset)
    for name, offs in [("huge-float-offsets", "[1e300,1e300]"), ("offset-1e20", "[0,1e20]"),
                       ("offset-2e64", "[0,18446744073709551616]"), ("offset-inf", "[0,1e999]"),
                       ("offset-minus-inf", "[-1e999,0]"), ("offset-fraction", "[0.5,8]"),
                       ("offset-negative", "[-1,8]"), ("offset-2e53-plus", "[0,9007199254740994]"),
                       ("offset-string", '["0",8]'), ("offsets-three", "[0,4,8]"), ("offsets-reversed", "[8,0]")]:
        w(name, st('{"a":{"dtype":"F32","shape":[2],"data_offsets":%s}}' % offs, f32[:8]))
    for name, shape in [("shape-huge-float", "[1e300]"), ("shape-fraction", "[2.5]"), ("shape-negative", "[-1]"),
                        ("shape-nine-dims", "[1,1,1,1,1,1,1,1,1]"), ("shape-not-array", "4"),
                        ("shape-bool", "[true]")]:
        w(name, st('{"a":{"dtype":"F32","shape":%s,"data_offsets":[0,4]}}' % shape, f32[:4]))
    # element counts and byte sizes that overflow (2^64 wrapped to 0 and matched empty data)
    w("shape-2e32-squared", st({"a": t("F32", [2 ** 32, 2 ** 32], 0, 0)}))
    w("shape-bytes-overflow", st({"a": t("F32", [2 ** 31, 2 ** 31], 0, 0)}))
    w("shape-u8-2e64", st({"a": t("U8", [65536, 65536, 65536, 65536, 0], 0, 0)}))
    w("shape-zero-dim-huge", st({"a": t("F32", [0, 2 ** 53], 0, 0)}))
    w("bytes-disagree", st({"a": t("F32", [3], 0, 16)}, f32))
    # ranges that overlap, leave gaps or stop short
    w("overlap", st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, f32[:12]))
    w("overlap-alias", st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 0, 8)}, f32[:8]))
    w("overlap-nested", st({"in": t("F32", [1], 4, 8), "out": t("F32", [4], 0, 16)}, f32))
    w("gap", st({"a": t("F32", [1], 0, 4), "b": t("F32", [2], 8, 16)}, f32))
    w("gap-at-start", st({"a": t("F32", [2], 4, 12)}, f32[:12]))
    w("tail", st({"a": t("F32", [2], 0, 8)}, f32[:12]))
    w("no-tensors-with-data", st({"__metadata__": {}}, f32[:4]))
    w("beyond-data", st({"a": t("F32", [4], 0, 16)}, f32[:8]))
    # the frame and the header text
    w("too-short", b"\x08\x00\x00")
    w("header-length-zero", struct.pack("<Q", 0) + b"{}")
    w("header-length-beyond", struct.pack("<Q", 0xFFFF) + b"{}")
    w("header-length-max", b"\xff" * 8 + b"{}")
    w("header-not-json", st('{"a": {"dtype": "F32",'))
    w("header-array", st("[1, 2, 3]"))
    w("header-leading-space", st(' {"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32[:4]))
    w("header-trailing-garbage", st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x', f32[:4]))
    w("header-nul-escape-name", st('{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32[:4]))
    w("header-raw-nul", st(b'{"a\x00b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', f32[:4]))
    w("metadata-not-object", st('{"__metadata__":[],"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
                                f32[:4]))
    w("duplicate-name", st('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                           '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32[:8]))
    w("unknown-dtype", st({"a": t("F8_E9", [4], 0, 16)}, f32))
    w("entry-not-object", st('{"a":[1,2]}'))
    w("deep-nesting", st("{\"a\":" + "[" * 600 + "]" * 600 + "}"))


# ---- fuzz_config -------------------------------------------------------------

def config_seeds():
    w = lambda name, data: write("fuzz_config", name, data)
    w("shipped-nmtd-conf", read("conf", "nmtd.conf"))
    w("valid-every-key", "\n".join([
        'model = "models/en-de-demo"', "listen_address = ::1", "port = 8080", "workers = 2", "blas_threads = 1",
        "max_batch_sentences = 32", "max_batch_tokens = 4096", "max_wait_ms = 5", "queue_capacity = 2048",
        "request_timeout_ms = 30000", "max_sentences_per_request = 128", "max_chars_per_sentence = 5000",
        "max_body_bytes = 1048576", "max_length_limit = 512", "http_threads = 2", "connection_limit = 1024",
        "connection_timeout_s = 30", "log_level = debug", "access_log = no", "shutdown_grace_ms = 0",
        "retry_after_s = 1"]) + "\n")
    w("valid-dashes-crlf", "max-wait-ms = 7\r\nmax-batch-tokens=16\r\n# comment\r\n\r\n")
    w("valid-quoted", 'model = "a # b \\" c \\\\ d"  # comment\nlisten_address = "0.0.0.0"\n')
    w("valid-comments", "# only\n   # indented\n\t\nport = 1 # trailing\nmodel = a#b\n")
    w("valid-bools-levels", "access_log = TRUE\nlog_level = Error\n")
    w("valid-no-newline", "port = 0")
    w("valid-empty", "")
    w("valid-ipv4-mapped", "listen_address = ::ffff:1.2.3.4\n")
    w("nul-byte", b"port = 1\nworkers = 2\nmax_wait_ms = 3\x00\nport = 9\n")
    w("nul-first", b"\x00port = 1\n")
    w("unknown-key", "port = 1\nmax_batch = 3\n")
    w("bad-int", "\n\n\nport = abc\n")
    w("out-of-range", "port = 70000\nworkers = 0\n")
    w("int-overflow", "max_body_bytes = 99999999999999999999\n")
    w("int-forms", "port = +80\nworkers = 0x10\n")
    w("int-space", 'port = " 80"\n')
    w("duplicate", "port = 1\nworkers = 2\nport = 3\n")
    w("duplicate-dash", "max-wait-ms = 3\nmax_wait_ms = 4\n")
    w("missing-equals", "# c\nport 8080\n")
    w("missing-key", "= 3\n")
    w("missing-value", "port =\n")
    w("missing-value-comment", "port = # nothing\n")
    w("unterminated-quote", 'model = "abc\n')
    w("after-quote", 'model = "abc" def\n')
    w("empty-quoted", 'model = ""\n')
    w("bad-address", "listen_address = localhost\n")
    w("bad-bool", "access_log = maybe\n")
    w("bad-level", "log_level = loud\n")
    w("long-key", "k" * 80 + " = 1\n")
    w("long-path", "model = " + "p" * 5000 + "\n")
    w("did-you-mean", "wrokers = 2\n")
    w("lone-cr", "port = 1\rworkers = 2\n")


# ---- fuzz_vocab --------------------------------------------------------------

def vocab_seeds():
    w = lambda name, data: write("fuzz_vocab", name, data)
    w("tiny-swish-vocab", read("tests", "data", "models", "tiny-swish", "vocab.json"))
    w("tiny-relu-eos-vocab", read("tests", "data", "models", "tiny-relu-eos", "vocab.json"))
    w("valid-minimal", '{"</s>": 0, "<unk>": 1, "<pad>": 2}')
    w("valid-pieces", '{"</s>": 0, "<unk>": 1, "\u2581the": 2, ">>fra<<": 3, "\u00e9": 4, "<pad>": 5}')
    w("valid-eos-not-zero", '{"<unk>": 0, "a": 1, "</s>": 2, "<pad>": 3}')
    w("valid-float-ids", '{"</s>": 0.0, "<unk>": 1e0, "<pad>": 2}')
    w("duplicate-id", '{"</s>": 0, "<unk>": 1, "<pad>": 2, "x": 2}')
    w("duplicate-piece", '{"</s>": 0, "<unk>": 1, "<pad>": 2, "<unk>": 3}')
    w("id-huge", '{"</s>": 0, "<unk>": 1e300, "<pad>": 2}')
    w("id-inf", '{"</s>": 0, "<unk>": 1e999, "<pad>": 2}')
    w("id-negative", '{"</s>": 0, "<unk>": -1, "<pad>": 2}')
    w("id-fraction", '{"</s>": 0, "<unk>": 0.5, "<pad>": 2}')
    w("id-string", '{"</s>": 0, "<unk>": "1", "<pad>": 2}')
    w("id-out-of-range", '{"</s>": 0, "<unk>": 1, "<pad>": 2, "x": 4}')
    w("piece-nul-escape", '{"</s>": 0, "<unk>": 1, "<pad>": 2, "a\\u0000b": 3}')
    w("piece-nul-collides", '{"</s>": 0, "<unk>": 1, "<pad>": 2, "<unk>\\u0000": 3}')
    w("no-unk", '{"</s>": 0, "a": 1, "<pad>": 2}')
    w("wrong-eos", '{"<eos>": 0, "<unk>": 1, "<pad>": 2}')
    w("not-object", '["</s>", "<unk>", "<pad>"]')
    w("empty-object", "{}")
    w("truncated", '{"</s>": 0, "<unk>": 1,')
    w("trailing-garbage", '{"</s>": 0, "<unk>": 1, "<pad>": 2} x')
    w("nested", '{"</s>": 0, "<unk>": {"a": 1}, "<pad>": 2}')


# ---- fuzz_hparams --------------------------------------------------------------

def hparams_seeds():
    w = lambda name, data: write("fuzz_hparams", name, data)
    for model in ["tiny-swish", "tiny-relu-eos", "tiny-bf16"]:
        base = ("tests", "data", "models", model)
        w(model + "-config", read(*base, "config.json"))
        w(model + "-with-generation", read(*base, "config.json") + b"\x00" + read(*base, "generation_config.json"))
    demo = ("models", "en-de-demo")
    w("en-de-demo-with-generation", read(*demo, "config.json") + b"\x00" + read(*demo, "generation_config.json"))
    base = json.loads(read("tests", "data", "models", "tiny-swish", "config.json"))
    minimal = {k: base[k] for k in ["d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads",
                                    "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "vocab_size",
                                    "pad_token_id", "eos_token_id"]}

    def variant(name, gen=None, drop=(), **changes):
        c = dict(minimal)
        for k in drop:
            c.pop(k, None)
        c.update(changes)
        text = json.dumps(c).encode()
        if gen is not None:
            text += b"\x00" + (gen.encode() if isinstance(gen, str) else gen)
        w(name, text)

    variant("minimal")
    variant("minimal-gen", gen='{"max_length": 7}')
    variant("missing-d-model", drop=["d_model"])
    variant("heads-do-not-divide", encoder_attention_heads=5)
    variant("activation-unknown", activation_function="tanh")
    variant("activation-not-string", activation_function=3)
    variant("normalize-before", normalize_before=True)
    variant("separate-vocab", share_encoder_decoder_embeddings=False)
    variant("decoder-vocab-differs", decoder_vocab_size=7)
    variant("eos-equals-pad", eos_token_id=299)
    variant("eos-outside-vocab", eos_token_id=300)
    variant("d-model-huge", d_model=1e300)
    variant("d-model-fraction", d_model=32.5)
    variant("d-model-string", d_model="32")
    variant("vocab-negative", vocab_size=-3)
    variant("model-type-bart", model_type="bart")
    variant("scale-not-bool", scale_embedding=1)
    variant("max-length-zero", max_length=0)
    variant("gen-not-object", gen="[1]")
    variant("gen-max-length-huge", gen='{"max_length": 1e300}')
    variant("gen-invalid", gen='{"max_length": ')
    variant("gen-empty", gen="")
    w("nul-in-key", json.dumps(minimal).replace('"d_model"', '"d_model\\u0000x"', 1))
    w("trailing-garbage", json.dumps(minimal) + " {}")
    w("gen-trailing-garbage", json.dumps(minimal) + '\0{"max_length": 7} x')
    w("not-object", "[]")
    w("truncated", '{"d_model": 32,')
    w("empty", "")


# ---- fuzz_api --------------------------------------------------------------------

def api_seeds():
    w = lambda name, data: write("fuzz_api", name, data)
    w("valid-string", '{"text": "Hello world."}')
    w("valid-list", '{"text": ["one", "two", "three hundred forty two"]}')
    w("valid-max-length", '{"text": "x", "max_length": 64}')
    w("valid-max-length-null", '{"text": ["x"], "max_length": null}')
    w("valid-empty-list", '{"text": []}')
    w("valid-empty-string", '{"text": ""}')
    w("valid-unicode", '{"text": "gr\u00fc\u00dfe \u2581 \U0001F600 \\ud83d\\ude00 \\u00e9"}')
    w("valid-language-token", '{"text": ">>deu<< good morning"}')
    w("valid-whitespace-around", ' \r\n\t{"text":"a"} \n')
    w("valid-extra-key", '{"text": "a", "other": {"nested": [1, 2, {"x": null}]}}')
    w("valid-16-sentences", json.dumps({"text": ["s%d" % i for i in range(16)]}))
    w("valid-256-chars", json.dumps({"text": "\u00e9" * 256}, ensure_ascii=False))
    w("too-many-sentences", json.dumps({"text": ["s"] * 17}))
    w("sentence-too-long", json.dumps({"text": ["a" * 257]}))
    w("empty-body", "")
    w("whitespace-only", "   ")
    w("not-object", '["text"]')
    w("missing-text", '{"txt": "a"}')
    w("text-number", '{"text": 5}')
    w("text-list-of-numbers", '{"text": ["a", 5]}')
    w("max-length-zero", '{"text": "a", "max_length": 0}')
    w("max-length-over", '{"text": "a", "max_length": 513}')
    w("max-length-fraction", '{"text": "a", "max_length": 1.5}')
    w("max-length-huge", '{"text": "a", "max_length": 1e300}')
    w("max-length-string", '{"text": "a", "max_length": "5"}')
    w("trailing-garbage", '{"text": "a"} x')
    w("two-values", '{"text": "a"}{"text": "b"}')
    w("truncated", '{"text": "a')
    w("invalid-utf8", b'{"text": "\xff\xfe"}')
    w("overlong-utf8", b'{"text": "\xc0\xaf"}')
    w("surrogate-utf8", b'{"text": "\xed\xa0\x80"}')
    w("lone-surrogate-escape", '{"text": "\\ud800"}')
    w("low-surrogate-escape", '{"text": "\\udc00x"}')
    w("bom", b'\xef\xbb\xbf{"text": "a"}')
    w("deep-nesting", '{"text": "a", "x": ' + "[" * 2000 + "]" * 2000 + "}")
    # issue 13, item 4: NUL and raw control characters (the parser accepts them today)
    w("nul-escape-in-text", '{"text": "three hundred\\u0000 forty two"}')
    w("nul-escape-first", '{"text": "\\u0000abc"}')
    w("nul-escape-in-key", '{"text\\u0000x": "a"}')
    w("raw-nul", b'{"text": "a\x00b"}')
    w("raw-newline", '{"text": "a\nb"}')
    w("duplicate-key", '{"text": "a", "text": "b"}')
    w("leading-zero", '{"text": "a", "max_length": 012}')


def main():
    safetensors_seeds()
    config_seeds()
    vocab_seeds()
    hparams_seeds()
    api_seeds()


if __name__ == "__main__":
    main()
