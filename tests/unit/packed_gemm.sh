#!/bin/sh
# The AVX-512 packed GEMM against the naive loop, as its own test: SKIP (77)
# on a CPU without AVX-512F, so a run there does not pass for it.
exec env CK_RUN_CASE=packed "${NMT_BUILDDIR:-.}/tests/unit/check_gemm"
