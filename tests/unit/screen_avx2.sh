#!/bin/sh
# The output screen on AVX2 (VPMADDUBSW, 7-bit activations) against the
# exact argmax, as its own test: check_logits with NMTD_KERNELS=avx2, which
# runs the AVX2 screen on an AVX-512 CPU too; SKIP (77) on a CPU without
# AVX2.
exec env NMTD_KERNELS=avx2 "${NMT_BUILDDIR:-.}/tests/unit/check_logits"
