#!/usr/bin/python3
"""Exact-match accuracy of greedy decoding (tools/reference.py) on the held-out sets of the demo task.

Writes the held-out sets (from tools/gen_data.py, same seed as training) as
tests/data/heldout-numbers.tsv and tests/data/heldout-sentences.tsv (`english<TAB>german`, 2000 lines
each), translates the English side with the reference CLI (a subprocess:
tools/reference.py --model DIR --batch-size B --threads N) and prints the exact-match accuracy
(translation string == German reference) of each set, plus the first few errors.

Usage:
  tools/evaluate.py --model models/en-de-demo [--seed 1] [--threads 1] [--batch-size 32]
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "models", "en-de-demo"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--data-dir", default=os.path.join(HERE, "..", "tests", "data"))
    ap.add_argument("--show-errors", type=int, default=10)
    a = ap.parse_args()
    os.makedirs(a.data_dir, exist_ok=True)
    sets = [("numbers", "heldout-numbers.tsv", gen_data.heldout_numbers(a.seed, 2000)),
            ("sentences", "heldout-sentences.tsv", gen_data.heldout_sentences(a.seed, 2000))]
    results = []
    for name, fname, pairs in sets:
        path = os.path.join(a.data_dir, fname)
        with open(path, "w", encoding="utf-8") as f:
            for en, de in pairs:
                f.write("%s\t%s\n" % (en, de))
        inp = "".join(en + "\n" for en, _ in pairs).encode("utf-8")
        t0 = time.time()
        p = subprocess.run([sys.executable, os.path.join(HERE, "reference.py"), "--model", a.model,
                            "--batch-size", str(a.batch_size), "--threads", str(a.threads)],
                           input=inp, stdout=subprocess.PIPE, check=True)
        hyp = p.stdout.decode("utf-8").split("\n")[: len(pairs)]
        ok = sum(h == de for h, (_, de) in zip(hyp, pairs))
        acc = 100.0 * ok / len(pairs)
        results.append((name, ok, len(pairs), acc))
        print("%-9s exact match %d/%d = %.2f%%  (%s, %.0fs)" % (name, ok, len(pairs), acc, os.path.relpath(path), time.time() - t0),
              flush=True)
        shown = 0
        for h, (en, de) in zip(hyp, pairs):
            if h != de and shown < a.show_errors:
                print("   src: %s\n   ref: %s\n   hyp: %s" % (en, de, h))
                shown += 1
    print("RESULT " + " ".join("%s=%.2f%%" % (n, acc) for n, _, _, acc in results))


if __name__ == "__main__":
    main()
