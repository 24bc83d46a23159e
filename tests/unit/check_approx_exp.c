/* check_approx_exp.c: nmt_exp_approx within 2 ulp of e^x (double) over
 * its whole range, its clamps and NaN; nmt_swish_approx giving the bits of
 * the portable formula x / (1 + nmt_exp_approx(-x)) for every element (the
 * AVX2 lanes and the tail), within 3 ulp of swish in double.  Run as is
 * (AVX2 where the CPU has it) and by generic_kernels.sh with
 * NMTD_KERNELS=generic (the portable loop). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approx_exp.h"
#include "testutil.h"

/* |got - want| in units of the last place of want (a float). */
static double ulps(float got, double want)
{
    float w = (float)want;
    double ulp = (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / ulp;
}

START_TEST(test_exp_within_2_ulp)
{
    double worst = 0.0;
    float worst_x = 0.0f;
    for (int i = 0; i <= 2000000; i++) {
        float x = -87.0f + 175.0f * (float)i / 2000000.0f;
        double u = ulps(nmt_exp_approx(x), exp((double)x));
        if (u > worst) {
            worst = u;
            worst_x = x;
        }
    }
    printf("exp: worst %.2f ulp at x = %.9g\n", worst, (double)worst_x);
    ck_assert_double_le(worst, 2.0);
    ck_assert_float_eq(nmt_exp_approx(0.0f), 1.0f);
}
END_TEST

START_TEST(test_exp_clamps)
{
    float lo = nmt_exp_approx(-87.0f), hi = nmt_exp_approx(88.0f);
    ck_assert(isnormal(lo) && isfinite(hi));
    ck_assert_float_eq(nmt_exp_approx(-1000.0f), lo);
    ck_assert_float_eq(nmt_exp_approx(-INFINITY), lo);
    ck_assert_float_eq(nmt_exp_approx(1000.0f), hi);
    ck_assert_float_eq(nmt_exp_approx(INFINITY), hi);
    ck_assert_float_eq(nmt_exp_approx(NAN), lo); /* as the vector form's MAXPS */
}
END_TEST

START_TEST(test_swish_same_bits_every_element)
{
    enum { N = 1003 }; /* whole vectors and a tail */
    static float x[N], want[N];
    unsigned rng = 7;
    for (int i = 0; i < N; i++)
        x[i] = tu_frand(&rng) * (i % 3 == 0 ? 100.0f : 8.0f);
    x[0] = 0.0f, x[1] = -0.0f, x[2] = 200.0f, x[3] = -200.0f, x[4] = 1e-30f, x[5] = -88.5f, x[N - 1] = -3.0f;
    for (int i = 0; i < N; i++)
        want[i] = x[i] / (1.0f + nmt_exp_approx(-x[i]));
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        double xd = x[i], sd = xd / (1.0 + exp(-xd));
        if (fabs(sd) > 1e-30) {
            double u = ulps(want[i], sd);
            worst = u > worst ? u : worst;
        }
    }
    nmt_swish_approx(x, N);
    for (int i = 0; i < N; i++)
        ck_assert_msg(memcmp(&x[i], &want[i], sizeof(float)) == 0, "element %d: %a, want %a", i, (double)x[i],
                      (double)want[i]);
    printf("swish: worst %.2f ulp\n", worst);
    ck_assert_double_le(worst, 3.0);
    ck_assert_float_eq(x[2], 200.0f);
    ck_assert(x[3] <= 0.0f && x[3] > -1e-30f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("approx_exp");
    TCase *tc = tcase_create("exp");
    tcase_add_test(tc, test_exp_within_2_ulp);
    tcase_add_test(tc, test_exp_clamps);
    tcase_add_test(tc, test_swish_same_bits_every_element);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
