#!/bin/sh
# The AVX2+FMA bfloat16 kernel against the portable one, as its own test:
# SKIP (77) on a CPU without AVX2 and FMA, so a run there does not pass for it.
exec env CK_RUN_CASE=avx2 "${NMT_BUILDDIR:-.}/tests/unit/check_bf16_gemm"
