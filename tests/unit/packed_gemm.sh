#!/bin/sh
# The packed GEMM this CPU runs (AVX-512, or AVX2 + FMA) against the naive
# loop, as its own test: SKIP (77) on a CPU with neither, so a run there does
# not pass for it.  On an AVX-512 CPU, NMTD_KERNELS=avx2 runs the AVX2 one.
exec env CK_RUN_CASE=packed "${NMT_BUILDDIR:-.}/tests/unit/check_gemm"
