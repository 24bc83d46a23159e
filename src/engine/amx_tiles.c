/* amx_tiles.c: the tiles' configuration and the walk over blocks of rows
 * that the AMX kernels share (see amx_tiles.h). */
#include "amx_tiles.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define AMX __attribute__((target("amx-tile")))

/* LDTILECFG's operand, palette 1. */
typedef struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;
_Static_assert(sizeof(tile_config) == 64, "LDTILECFG reads 64 bytes");

/* Tiles for row blocks of h0 and h1 (0: none) rows; the tiles of an
 * absent block are left unconfigured (using one would fault). */
AMX static void configure(int h0, int h1)
{
    tile_config c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        int rows = t == 6 || t == 7 ? NMT_TILE_ROWS : t == 4 || t < 2 ? h0 : h1;
        c.rows[t] = (uint8_t)rows;
        c.colsb[t] = (uint16_t)(rows ? NMT_TILE_BYTES : 0);
    }
    _tile_loadconfig(&c);
}

AMX int nmt_amx_row_blocks(int rows, void (*block)(void *ctx, int i, int h0, int h1), void *ctx)
{
    int i = 0, loaded_h0 = -1, loaded_h1 = -1;
    while (rows - i >= NMT_AMX_MIN_ROWS) {
        int rest = rows - i, h0 = rest < NMT_TILE_ROWS ? rest : NMT_TILE_ROWS;
        int h1 = rest - h0 < NMT_TILE_ROWS ? rest - h0 : NMT_TILE_ROWS;
        if (h0 != loaded_h0 || h1 != loaded_h1) { /* at most twice a call: whole blocks, then the rest */
            configure(h0, h1);
            loaded_h0 = h0;
            loaded_h1 = h1;
        }
        block(ctx, i, h0, h1);
        i += h0 + h1;
    }
    if (loaded_h0 >= 0)
        _tile_release();
    return i;
}
#else
int nmt_amx_row_blocks(int rows, void (*block)(void *ctx, int i, int h0, int h1), void *ctx)
{
    (void)rows, (void)block, (void)ctx;
    return 0;
}
#endif
