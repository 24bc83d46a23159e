/* compute_auto.c: compute_type auto, chosen from the int8 kernel this CPU
 * runs (compute_auto.h says why).  No state. */
#include "compute_auto.h"

#include <stdio.h>
#include <string.h>

#include "qgemm.h"

nmt_compute_type nmt_compute_auto(char *why, size_t why_size)
{
    const char *kernel = nmt_q8_kernel_name();
    int vector = strcmp(kernel, "generic") != 0;
    if (why && why_size)
        snprintf(why, why_size,
                 vector ? "int8 has the %s kernel here: the fastest type on every CPU measured with it (1.7-3.5x "
                          "float32), within the accuracy bars on the demo model"
                        : "int8 and bfloat16 have only the portable %s kernels here, slower than float32 on "
                          "OpenBLAS",
                 kernel);
    return vector ? NMT_COMPUTE_INT8 : NMT_COMPUTE_FLOAT32;
}
