/* check_huge_alloc.c: blocks for weights (huge_alloc.c) are zeroed,
 * 64-byte aligned and disjoint, small ones share a region, a region goes
 * away when its last block is freed (and not before), a block larger than
 * a region gets its own, malloc's pointers are freed as malloc's, and
 * threads may allocate and free at once.  Built with AddressSanitizer the
 * blocks come from malloc: the region counts are then not checked. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "huge_alloc.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define PLAIN 1
#else
#define PLAIN 0
#endif

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

START_TEST(test_blocks_zeroed_aligned_disjoint)
{
    enum { N = 40 };
    unsigned char *b[N];
    size_t size[N];
    int before = nmt_huge_regions();
    for (int i = 0; i < N; i++) {
        size[i] = (size_t)1 + (size_t)i * 100003u % 3000000u; /* 1 B to 3 MB, odd sizes */
        b[i] = nmt_huge_alloc(size[i]);
        ck_assert_ptr_nonnull(b[i]);
        ck_assert_uint_eq((uintptr_t)b[i] % 64, 0);
        ck_assert(all_zero(b[i], size[i]));
        memset(b[i], 0xa5, size[i]); /* written whole: overlapping blocks would clobber each other */
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < size[i]; k++)
            ck_assert_uint_eq(b[i][k], 0xa5);
    if (!PLAIN) /* 40 blocks of < 60 MB in all: one or two regions */
        ck_assert_int_le(nmt_huge_regions() - before, 2);
    for (int i = 0; i < N; i++)
        nmt_huge_free(b[i]);
    if (!PLAIN)
        ck_assert_int_eq(nmt_huge_regions(), before);
}
END_TEST

START_TEST(test_region_lives_until_its_last_block)
{
    if (PLAIN)
        return;
    int before = nmt_huge_regions();
    void *a = nmt_huge_alloc(1000), *b = nmt_huge_alloc(2000);
    ck_assert_int_eq(nmt_huge_regions(), before + 1);
    nmt_huge_free(a);
    ck_assert_int_eq(nmt_huge_regions(), before + 1); /* b still in it */
    memset(b, 1, 2000);
    nmt_huge_free(b);
    ck_assert_int_eq(nmt_huge_regions(), before);
    /* larger than a region: a region of its own, the next small block in a new one */
    size_t big = (size_t)66 << 20; /* a whole number of huge pages: its region is full */
    char *x = nmt_huge_alloc(big), *y = nmt_huge_alloc(64);
    ck_assert_ptr_nonnull(x);
    x[0] = 1;
    x[big - 1] = 2;
    ck_assert_int_eq(nmt_huge_regions(), before + 2);
    nmt_huge_free(x);
    ck_assert_int_eq(nmt_huge_regions(), before + 1);
    nmt_huge_free(y);
    ck_assert_int_eq(nmt_huge_regions(), before);
}
END_TEST

START_TEST(test_frees_malloc_pointers)
{
    int before = nmt_huge_regions();
    void *h = nmt_huge_alloc(4096);
    char *m = malloc(100); /* an owner's list may hold both kinds */
    ck_assert_ptr_nonnull(m);
    m[99] = 1;
    nmt_huge_free(m);
    nmt_huge_free(NULL);
    nmt_huge_free(h);
    ck_assert_int_eq(nmt_huge_regions(), before);
}
END_TEST

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    void *held[16] = {0};
    for (int i = 0; i < 2000; i++) {
        int slot = (int)(tu_frand(&seed) * 8.0f + 8.0f) % 16;
        nmt_huge_free(held[slot]);
        size_t n = 64 + (size_t)((tu_frand(&seed) + 1.0f) * 20000.0f);
        held[slot] = nmt_huge_alloc(n);
        ck_assert_ptr_nonnull(held[slot]);
        memset(held[slot], (int)slot, n);
    }
    for (int s = 0; s < 16; s++)
        nmt_huge_free(held[s]);
    return NULL;
}

START_TEST(test_threads_at_once)
{
    int before = nmt_huge_regions();
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(nmt_huge_regions(), before); /* every block freed: every region gone */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("huge_alloc");
    TCase *tc = tcase_create("blocks");
    tcase_add_test(tc, test_blocks_zeroed_aligned_disjoint);
    tcase_add_test(tc, test_region_lives_until_its_last_block);
    tcase_add_test(tc, test_frees_malloc_pointers);
    tcase_add_test(tc, test_threads_at_once);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
