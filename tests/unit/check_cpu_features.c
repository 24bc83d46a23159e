/* check_cpu_features.c: what cpu_features.h reads from cpuid agrees with
 * the flags Linux lists in /proc/cpuinfo (a wrong bit number would claim
 * an instruction set the CPU lacks, and crash, or miss one it has), and
 * AMX counts as present only with the tile state granted. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu_features.h"
#include "testutil.h"

static char flags[8192];

/* The first "flags" line of /proc/cpuinfo, with a space at each end; 0
 * when there is none (not Linux on x86). */
static int read_flags(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            char *colon = strchr(line, ':');
            line[strcspn(line, "\n")] = '\0';
            snprintf(flags, sizeof flags, " %s ", colon ? colon + 1 : "");
            found = 1;
        }
    fclose(f);
    return found;
}

static int has(const char *flag)
{
    char word[64];
    snprintf(word, sizeof word, " %s ", flag);
    return strstr(flags, word) != NULL;
}

START_TEST(test_agrees_with_cpuinfo)
{
    const nmt_cpu_features *cpu = nmt_cpu_features_get();
    ck_assert_int_eq(cpu->avx2_fma, has("avx2") && has("fma"));
    ck_assert_int_eq(cpu->avx512, cpu->avx2_fma && has("avx512f") && has("avx512bw") && has("avx512dq") &&
                                      has("avx512vl"));
    ck_assert_int_eq(cpu->avx512_vnni, cpu->avx512 && has("avx512_vnni"));
    ck_assert_int_eq(cpu->avx512_bf16, cpu->avx512 && has("avx512_bf16"));
    /* AMX: present in cpuinfo is necessary; the grant decides */
    ck_assert(!cpu->amx_int8 || has("amx_int8"));
    ck_assert(!cpu->amx_bf16 || has("amx_bf16"));
    if (cpu->avx512 && has("amx_tile") && has("amx_int8")) {
        /* Linux (5.16 and later) grants the tile state on request: then it is used */
        unsigned long granted = 0;
        if (syscall(SYS_arch_prctl, 0x1022 /* ARCH_GET_XCOMP_PERM */, &granted) == 0 && (granted & (1ul << 18)))
            ck_assert_int_eq(cpu->amx_int8, 1);
    }
    ck_assert_ptr_eq(nmt_cpu_features_get(), cpu); /* read once */
}
END_TEST

int main(void)
{
    if (!read_flags()) {
        printf("SKIP: no flags line in /proc/cpuinfo to compare with\n");
        return 77;
    }
    Suite *s = suite_create("cpu_features");
    TCase *tc = tcase_create("cpuid");
    tcase_add_test(tc, test_agrees_with_cpuinfo);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
