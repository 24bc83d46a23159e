#!/bin/sh
# The AMX bfloat16 kernel (tiles, with AVX512_BF16 for the rows left over)
# against a plain sum, as its own test: SKIP (77) on a CPU without AMX-BF16
# or where Linux does not grant the tile state, so a run there does not
# pass for it.
exec env CK_RUN_CASE=amx "${NMT_BUILDDIR:-.}/tests/unit/check_bf16_gemm"
