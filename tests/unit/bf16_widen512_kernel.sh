#!/bin/sh
# The widened AVX-512 bfloat16 kernel against the portable one, as its own
# test: SKIP (77) on a CPU without AVX-512, so a run there does not pass
# for it.
exec env CK_RUN_CASE=avx512 "${NMT_BUILDDIR:-.}/tests/unit/check_bf16_gemm"
