/* amx_tiles.h: the AMX tile layout the int8 and bfloat16 kernels share
 * (qgemm_avx512.c, bf16_gemm_avx512.c, the output screen in logits.c), and
 * the walk over blocks of rows that configures the tiles for them: tiles
 * 0-3 the fp32 or int32 sums of two row blocks x two 16-column panels (C),
 * 4-5 the row blocks' activations (A: up to 16 rows of 64 bytes), 6-7 two
 * panels' weights (B: 16 rows of 64 bytes, 4 k of int8 or 2 k of bfloat16
 * for each of the 16 columns).  Engine-internal. */
#ifndef NMT_AMX_TILES_H
#define NMT_AMX_TILES_H

enum { NMT_TILE_BYTES = 64, NMT_TILE_ROWS = 16 };

/* Fewer rows than this are left to the vector kernels: a tile of a few
 * rows costs about what a full one does. */
enum { NMT_AMX_MIN_ROWS = 4 };

/* block(ctx, i, h0, h1) for rows i .. i+h0+h1-1 in blocks of up to 32 from
 * row 0 (h0 <= 16 rows in the first row block, h1 <= 16 in the second, 0
 * when there is none), with the tiles configured for h0 and h1, while at
 * least NMT_AMX_MIN_ROWS rows remain; the tiles released after.  Returns
 * the rows done (the caller does the rest).  Needs AMX (cpu_features). */
int nmt_amx_row_blocks(int rows, void (*block)(void *ctx, int i, int h0, int h1), void *ctx);

#endif
