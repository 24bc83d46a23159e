/* dot_rate.h: how fast this core's AVX512_BF16 dot product (VDPBF16PS)
 * runs against its fp32 fused multiply-add (VFMADD231PS), in multiply-adds
 * per second, measured once.  VDPBF16PS does two multiply-adds a lane
 * where VFMADD231PS does one, but cores differ in how often they issue it:
 * an AMD Zen 5 core as often as the FMA (1.9x the FMA's multiply-adds), an
 * Intel Xeon (Emerald Rapids, measured) a quarter as often (0.5x).
 * bfloat16's kernel is chosen by this number (bf16_gemm.h): a property of
 * the core that cpuid does not tell.
 *
 * Independent chains of each instruction on registers (nothing else in
 * the loop, enough chains to hide the latency), a warm-up first (a core
 * may run its first 512-bit instructions slowly), then short trials of the
 * two in turn, the fastest of each kept: about a tenth of a millisecond,
 * and a preempted trial does not count.  Thread-safe. */
#ifndef NMT_DOT_RATE_H
#define NMT_DOT_RATE_H

/* Multiply-adds per second of VDPBF16PS over those of VFMADD231PS (zmm) on
 * this core, measured on the first call; 0 on a CPU without AVX512_BF16. */
double nmt_bf16_dot_rate(void);

#endif
