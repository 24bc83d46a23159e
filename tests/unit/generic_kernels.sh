#!/bin/sh
# The portable path (OpenBLAS, no packed AVX-512 or AVX2 kernels, no int8
# screen, swish's polynomial one element at a time), as on a CPU without
# AVX2: the parity, search and approx_exp suites again with it forced.
set -e
B=${NMT_BUILDDIR:-.}
NMTD_KERNELS=generic "$B/tests/unit/check_search"
NMTD_KERNELS=generic "$B/tests/unit/check_approx_exp"
NMTD_KERNELS=generic "$B/tests/unit/check_translator"
