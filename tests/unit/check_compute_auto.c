/* check_compute_auto.c: compute_type auto (compute_auto.h) follows the int8
 * kernel this CPU runs under NMTD_KERNELS: int8 wherever a vector kernel
 * (AVX2, AVX-512 VNNI, AMX) runs, float32 on the portable one, with a
 * reason naming the kernel.  Each NMTD_KERNELS tier is tried (a tier this
 * CPU lacks gives what the best tier below it gives). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute_auto.h"
#include "qgemm.h"
#include "testutil.h"

/* auto under NMTD_KERNELS=kernels ("" = unset): the type, checked against
 * the q8 kernel that tier runs and the reason's text. */
static nmt_compute_type auto_under(const char *kernels)
{
    if (kernels[0])
        setenv("NMTD_KERNELS", kernels, 1);
    else
        unsetenv("NMTD_KERNELS");
    char why[256];
    memset(why, 'x', sizeof why);
    nmt_compute_type t = nmt_compute_auto(why, sizeof why);
    const char *kernel = nmt_q8_kernel_name();
    printf("NMTD_KERNELS=%s: auto is %s (%s)\n", kernels, nmt_compute_type_name(t), why);
    ck_assert_msg(memchr(why, '\0', sizeof why) != NULL, "the reason is NUL-terminated");
    ck_assert_msg(strstr(why, kernel) != NULL, "'%s' names the kernel %s", why, kernel);
    ck_assert_int_eq(t, (strcmp(kernel, "generic") == 0 ? NMT_COMPUTE_FLOAT32 : NMT_COMPUTE_INT8));
    return t;
}

/* One tier per loop iteration: Check runs each in its own process, and the
 * products choose their kernel once per process. */
static const char *const tiers[] = {"generic", "avx2", "avx512", ""};

START_TEST(test_auto_follows_the_int8_kernel)
{
    ck_assert_msg(getenv("CK_FORK") == NULL || strcmp(getenv("CK_FORK"), "no") != 0,
                  "needs a process per tier (CK_FORK=no given)");
    int avx2 = nmt_q8_kernel_available(NMT_Q8_KERNEL_AVX2);
    nmt_compute_type want = _i == 0 || !avx2 ? NMT_COMPUTE_FLOAT32 : NMT_COMPUTE_INT8;
    ck_assert_int_eq(auto_under(tiers[_i]), want);
    if (!avx2)
        printf("SKIP: no AVX2 here, auto is float32 on every tier\n");
    /* a short buffer is cut, not overrun; none at all is allowed */
    char small[8];
    ck_assert_int_eq(nmt_compute_auto(small, sizeof small), want);
    ck_assert_int_eq((int)strlen(small), 7);
    ck_assert_int_eq(nmt_compute_auto(NULL, 0), want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compute_auto");
    TCase *tc = tcase_create("auto");
    tcase_add_loop_test(tc, test_auto_follows_the_int8_kernel, 0, (int)(sizeof tiers / sizeof tiers[0]));
    suite_add_tcase(s, tc);
    return tu_run(s);
}
