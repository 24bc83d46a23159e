/* amx_tiles.h: the AMX tile layout the int8 and bfloat16 kernels share
 * (qgemm_avx512.c, bf16_gemm_avx512.c): tiles 0-3 the fp32 or int32 sums
 * of two row blocks x two 16-column panels (C), 4-5 the row blocks'
 * activations (A: up to 16 rows of 64 bytes), 6-7 two panels' weights (B:
 * 16 rows of 64 bytes, 4 k of int8 or 2 k of bfloat16 for each of the 16
 * columns).  Engine-internal. */
#ifndef NMT_AMX_TILES_H
#define NMT_AMX_TILES_H

#include <stdint.h>
#include <string.h>

enum { NMT_TILE_BYTES = 64, NMT_TILE_ROWS = 16 };

/* LDTILECFG's operand, palette 1. */
typedef struct nmt_tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} nmt_tile_config;
_Static_assert(sizeof(nmt_tile_config) == 64, "LDTILECFG reads 64 bytes");

/* Tiles for row blocks of h0 and h1 (0: none) rows; the tiles of an
 * absent block are left unconfigured (using one would fault). */
static inline nmt_tile_config nmt_tile_config_for(int h0, int h1)
{
    nmt_tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        int rows = t == 6 || t == 7 ? NMT_TILE_ROWS : t == 4 || t < 2 ? h0 : h1;
        c.rows[t] = (uint8_t)rows;
        c.colsb[t] = (uint16_t)(rows ? NMT_TILE_BYTES : 0);
    }
    return c;
}

#endif
