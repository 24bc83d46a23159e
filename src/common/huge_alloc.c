/* huge_alloc.c: weights carved from regions on huge pages (see huge_alloc.h). */
#include "huge_alloc.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { ALIGN = 64 };
#define HUGE_PAGE ((size_t)2 << 20)
#define REGION_MIN ((size_t)64 << 20)

#if defined(__SANITIZE_ADDRESS__)
#define HUGE_ALLOC_PLAIN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HUGE_ALLOC_PLAIN 1
#endif
#endif

/* One mapping: blocks carved from base up to used, live of them not yet freed. */
typedef struct region {
    char *base;
    size_t size, used;
    long live;
    struct region *next;
} region;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static region *regions; /* the newest first: blocks are carved from it */

#ifndef HUGE_ALLOC_PLAIN
/* A fresh region of at least bytes, 2 MB aligned (the mapping trimmed to
 * the boundary), advised to use huge pages. */
static region *region_new(size_t bytes)
{
    size_t size = bytes > REGION_MIN ? (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE : REGION_MIN;
    region *r = malloc(sizeof *r);
    if (!r)
        return NULL;
    char *map = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
        free(r);
        return NULL;
    }
    char *base = (char *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (base > map)
        munmap(map, (size_t)(base - map));
    if (base + size < map + size + HUGE_PAGE)
        munmap(base + size, (size_t)(map + size + HUGE_PAGE - (base + size)));
    madvise(base, size, MADV_HUGEPAGE); /* a hint: without THP, plain pages */
    *r = (region){.base = base, .size = size};
    return r;
}
#endif

void *nmt_huge_alloc(size_t bytes)
{
#ifdef HUGE_ALLOC_PLAIN
    void *p = NULL;
    if (posix_memalign(&p, ALIGN, bytes ? bytes : 1))
        return NULL;
    memset(p, 0, bytes);
    return p;
#else
    if (bytes > SIZE_MAX - HUGE_PAGE - ALIGN)
        return NULL;
    size_t need = bytes ? (bytes + ALIGN - 1) / ALIGN * ALIGN : ALIGN;
    pthread_mutex_lock(&lock);
    region *r = regions;
    if (!r || r->size - r->used < need) {
        r = region_new(need);
        if (r) {
            r->next = regions;
            regions = r;
        }
    }
    void *p = NULL;
    if (r) {
        p = r->base + r->used; /* fresh pages of an anonymous mapping: zeroed */
        r->used += need;
        r->live++;
    }
    pthread_mutex_unlock(&lock);
    return p;
#endif
}

void nmt_huge_free(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&lock);
    for (region **at = &regions; *at; at = &(*at)->next) {
        region *r = *at;
        if ((char *)p >= r->base && (char *)p < r->base + r->size) {
            if (--r->live == 0) {
                *at = r->next;
                munmap(r->base, r->size);
                free(r);
            }
            pthread_mutex_unlock(&lock);
            return;
        }
    }
    pthread_mutex_unlock(&lock);
    free(p); /* not ours: malloc's */
}

int nmt_huge_regions(void)
{
    int n = 0;
    pthread_mutex_lock(&lock);
    for (region *r = regions; r; r = r->next)
        n++;
    pthread_mutex_unlock(&lock);
    return n;
}
