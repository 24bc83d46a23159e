/* huge_alloc.h: memory for a model's weights on transparent huge pages.
 * A decode step streams every weight from memory (88 MB of fp32 in
 * opus-mt-en-de's decoder, plus the 30 MB output screen); on 4 KB pages
 * that is a TLB miss every 4 KB and a hardware prefetcher that stops at
 * every page boundary.  Blocks are carved back to back from regions of at
 * least 64 MB aligned to 2 MB and advised MADV_HUGEPAGE (the kernel's
 * "madvise" mode, Debian's default), so that small matrices share huge
 * pages too.  Space is not reused inside a region: a region is unmapped
 * when every block carved from it is freed (a model's weights come and go
 * together).  Built with AddressSanitizer, plain aligned malloc instead, so
 * that overruns of a block are still caught.  Thread-safe. */
#ifndef NMT_HUGE_ALLOC_H
#define NMT_HUGE_ALLOC_H

#include <stddef.h>

/* bytes of zeroed memory, 64-byte aligned, or NULL. */
void *nmt_huge_alloc(size_t bytes);

/* Frees p: from nmt_huge_alloc, or from malloc and its kin (then free(p)),
 * so that an owner holding both need not tell them apart.  NULL is a
 * no-op. */
void nmt_huge_free(void *p);

/* Regions mapped now (for tests). */
int nmt_huge_regions(void);

#endif
