#!/bin/sh
# The packed GEMM this CPU runs (AVX-512, or AVX2 + FMA) against the naive
# loop, as its own test: SKIP (77) on a CPU with neither, so a run there does
# not pass for it; then again with NMTD_KERNELS=avx2, which runs the AVX2
# kernel on an AVX-512 CPU.
set -e
env CK_RUN_CASE=packed "${NMT_BUILDDIR:-.}/tests/unit/check_gemm"
# the AVX2 kernel too where the AVX-512 one is the default (the same run again elsewhere)
env CK_RUN_CASE=packed NMTD_KERNELS=avx2 "${NMT_BUILDDIR:-.}/tests/unit/check_gemm"
