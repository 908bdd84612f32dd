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

unsigned gs_cpu_features(void) {
    unsigned features = 0;
#if GS_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) features |= GS_CPU_SSE42;
    if (__builtin_cpu_supports("avx")) features |= GS_CPU_AVX;
    if (__builtin_cpu_supports("avx2")) features |= GS_CPU_AVX2;
    if (__builtin_cpu_supports("fma")) features |= GS_CPU_FMA;
    if (__builtin_cpu_supports("f16c")) features |= GS_CPU_F16C;
    if (__builtin_cpu_supports("avx512f")) features |= GS_CPU_AVX512F;
    if (__builtin_cpu_supports("avx512bw")) features |= GS_CPU_AVX512BW;
    if (__builtin_cpu_supports("avx512vl")) features |= GS_CPU_AVX512VL;
    if (__builtin_cpu_supports("avx512vnni")) features |= GS_CPU_AVX512VNNI;
    if (__builtin_cpu_supports("avx512bf16")) features |= GS_CPU_AVX512BF16;
#endif
    return features;
}
