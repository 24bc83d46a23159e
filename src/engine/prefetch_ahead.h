/* prefetch_ahead.h: the weights a kernel reads next, sent to L2 a cache
 * line or two per step of its k loop while it works on the current ones
 * (the hardware prefetcher stops while later row tiles reuse a block that
 * is already in cache).  Spread over the steps, not in a burst: a burst of
 * 64 PREFETCHT1 fills the core's miss buffers and stalls it (Intel Xeon,
 * bench/RESULTS.md tenth part).  Two a step only where the lines outnumber
 * the steps (one strip or tile per block): a loop or a run-time count in
 * the step cost int8 at batch 32 about 7% on an AMD Zen 5 (eleventh part),
 * whose k loops have no issue slots to spare, so `dual` is a constant of
 * each kernel's instance.  Header-only; x86-64 only. */
#ifndef NMT_PREFETCH_AHEAD_H
#define NMT_PREFETCH_AHEAD_H

#include <stddef.h>
#include <xmmintrin.h>

/* One step: line *line (and, with dual, the next) of ahead into L2, until
 * lines are sent.  With dual the last step may send the line just past
 * the range: a prefetch never faults. */
static inline __attribute__((always_inline)) void nmt_prefetch_ahead_step(const char *ahead, int *line, int lines,
                                                                          int dual)
{
    if (*line < lines) {
        _mm_prefetch(ahead + (size_t)64 * (size_t)*line, _MM_HINT_T1);
        if (dual)
            _mm_prefetch(ahead + (size_t)64 * (size_t)(*line + 1), _MM_HINT_T1);
        *line += 1 + dual;
    }
}

#endif
