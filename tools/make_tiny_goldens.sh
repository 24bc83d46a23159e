#!/bin/sh
# Writes tests/data/<model>.golden.tsv for the committed random test models
# with the PyTorch reference (Debian's python3-torch), from the committed
# inputs in tests/data/tiny-inputs.txt.  Run from the repository root after
# tools/make_test_models.sh.
set -eu
for m in tiny-swish tiny-relu-eos tiny-bf16; do
    /usr/bin/python3 tools/reference.py --model "tests/data/models/$m" --batch-size 8 \
        --golden "tests/data/$m.golden.tsv" < tests/data/tiny-inputs.txt > /dev/null
    echo "wrote tests/data/$m.golden.tsv"
done
