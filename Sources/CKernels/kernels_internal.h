// Shared by the kernel files; not part of the module's interface.
#ifndef GS_KERNELS_INTERNAL_H
#define GS_KERNELS_INTERNAL_H

#include <stddef.h>

#if defined(__x86_64__) || defined(_M_X64)
#define GS_X86 1
#include <immintrin.h>
#else
#define GS_X86 0
#endif

#define GS_AVX2 __attribute__((target("avx2,fma,f16c")))
#define GS_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))

// The K-quant and IQ4 quantizers of each level (kquants_template.h), with
// the contract of gs_quantize_blocks for those types.
size_t gs_quantize_k_blocks_avx2(int type, const float *x, const float *qw, void *destination, size_t blocks);
size_t gs_quantize_k_blocks_avx512(int type, const float *x, const float *qw, void *destination, size_t blocks);

#endif
