#!/bin/sh
# The AVX512_BF16 bfloat16 kernel against a plain sum, as its own test:
# SKIP (77) on a CPU without AVX512_BF16, so a run there does not pass for it.
exec env CK_RUN_CASE=avx512_bf16 "${NMT_BUILDDIR:-.}/tests/unit/check_bf16_gemm"
