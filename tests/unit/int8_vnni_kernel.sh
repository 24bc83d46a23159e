#!/bin/sh
# The AVX-512 VNNI int8 kernel against the portable one, as its own test:
# SKIP (77) on a CPU without AVX-512 VNNI, so a run there does not pass for it.
exec env CK_RUN_CASE=avx512_vnni "${NMT_BUILDDIR:-.}/tests/unit/check_qgemm"
