/* check_kernel_override.c: NMTD_KERNELS (kernel_override.h): each value
 * read as what it names, unset and empty as the best kernels, anything
 * else refused with a message that names it and the choices; each value
 * lets the tiers up to its own run. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "kernel_override.h"
#include "testutil.h"

START_TEST(test_values)
{
    unsetenv("NMTD_KERNELS");
    ck_assert_int_eq(nmt_kernel_override_get(), NMT_KERNELS_BEST);
    setenv("NMTD_KERNELS", "", 1);
    ck_assert_int_eq(nmt_kernel_override_get(), NMT_KERNELS_BEST);
    setenv("NMTD_KERNELS", "avx512", 1);
    ck_assert_int_eq(nmt_kernel_override_get(), NMT_KERNELS_AVX512);
    setenv("NMTD_KERNELS", "avx2", 1);
    ck_assert_int_eq(nmt_kernel_override_get(), NMT_KERNELS_AVX2);
    setenv("NMTD_KERNELS", "generic", 1);
    ck_assert_int_eq(nmt_kernel_override_get(), NMT_KERNELS_GENERIC);
}
END_TEST

/* Each value lets the tiers up to its own run, and no higher. */
START_TEST(test_tiers)
{
    static const struct {
        const char *value;
        int avx2, avx512, amx;
    } cases[] = {{"", 1, 1, 1}, {"avx512", 1, 1, 0}, {"avx2", 1, 0, 0}, {"generic", 0, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        setenv("NMTD_KERNELS", cases[i].value, 1);
        ck_assert_msg(nmt_kernel_override_allows(NMT_TIER_AVX2) == cases[i].avx2 &&
                          nmt_kernel_override_allows(NMT_TIER_AVX512) == cases[i].avx512 &&
                          nmt_kernel_override_allows(NMT_TIER_AMX) == cases[i].amx,
                      "NMTD_KERNELS=%s", cases[i].value);
    }
    unsetenv("NMTD_KERNELS");
    ck_assert(nmt_kernel_override_allows(NMT_TIER_AMX));
}
END_TEST

START_TEST(test_check)
{
    static const char *ok[] = {"", "avx512", "avx2", "generic"};
    nmt_err err;
    unsetenv("NMTD_KERNELS");
    ck_assert_int_eq(nmt_kernel_override_check(&err), NMT_OK);
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        setenv("NMTD_KERNELS", ok[i], 1);
        ck_assert_int_eq(nmt_kernel_override_check(&err), NMT_OK);
    }
    static const char *bad[] = {"amx", "AVX512", "Generic", "generic ", "portable"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("NMTD_KERNELS", bad[i], 1);
        ck_assert_int_eq(nmt_kernel_override_check(&err), NMT_ERR_INVALID);
        ck_assert_msg(strstr(err.msg, bad[i]) && strstr(err.msg, "avx512, avx2 or generic"), "%s", err.msg);
    }
    unsetenv("NMTD_KERNELS");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernel_override");
    TCase *tc = tcase_create("env");
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_tiers);
    tcase_add_test(tc, test_check);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
