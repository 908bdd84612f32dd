#include "CKernels.h"
#include "kernels_internal.h"

static int detected = -1;

static int detect(void) {
#if GS_X86
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))) return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) return 2;
    return 1;
#else
    return 0;
#endif
}

int gs_cpu_level(void) {
    // Idempotent: racing first calls compute and store the same value.
    int level = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (level < 0) {
        level = detect();
        __atomic_store_n(&detected, level, __ATOMIC_RELAXED);
    }
    return level;
}
