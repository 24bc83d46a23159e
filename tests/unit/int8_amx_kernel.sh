#!/bin/sh
# The AMX int8 kernel (tiles, with VNNI for the rows left over) against the
# portable one, as its own test: SKIP (77) on a CPU without AMX-INT8 or
# where Linux does not grant the tile state, so a run there does not pass
# for it.
exec env CK_RUN_CASE=amx "${NMT_BUILDDIR:-.}/tests/unit/check_qgemm"
