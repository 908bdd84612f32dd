// The K-quant and IQ4 quantizers (kquants_template.h) on AVX-512: 32 lanes
// in two 512-bit registers, so every running sum has two independent
// dependency chains (with one register the searches wait on the adder's
// latency); lane flags are two 16-bit masks.
#include "CKernels.h"
#include "kernels_internal.h"

// Every product and sum must round on its own, as in the reference.
#pragma STDC FP_CONTRACT OFF

#if GS_X86

#define GS_TARGET GS_AVX512
#define GS_ENTRY gs_quantize_k_blocks_avx512
#define GS_LANES 32

typedef struct { __m512 lo, hi; } vf;
typedef struct { __m512i lo, hi; } vi;
typedef struct { __mmask16 lo, hi; } vm;
typedef __m512 vtab;

#define GS_F2(op) { op(a.lo, b.lo), op(a.hi, b.hi) }

GS_TARGET static inline vf vf_set1(float a) { return (vf){ _mm512_set1_ps(a), _mm512_set1_ps(a) }; }
GS_TARGET static inline vf vf_load(const float *p) { return (vf){ _mm512_loadu_ps(p), _mm512_loadu_ps(p + 16) }; }
GS_TARGET static inline void vf_store(float *p, vf a) { _mm512_storeu_ps(p, a.lo); _mm512_storeu_ps(p + 16, a.hi); }
GS_TARGET static inline vf vf_add(vf a, vf b) { return (vf)GS_F2(_mm512_add_ps); }
GS_TARGET static inline vf vf_sub(vf a, vf b) { return (vf)GS_F2(_mm512_sub_ps); }
GS_TARGET static inline vf vf_mul(vf a, vf b) { return (vf)GS_F2(_mm512_mul_ps); }
GS_TARGET static inline vf vf_div(vf a, vf b) { return (vf)GS_F2(_mm512_div_ps); }
GS_TARGET static inline vf vf_sqrt(vf a) { return (vf){ _mm512_sqrt_ps(a.lo), _mm512_sqrt_ps(a.hi) }; }
GS_TARGET static inline __m512 abs_512(__m512 a) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF)));
}
GS_TARGET static inline vf vf_abs(vf a) { return (vf){ abs_512(a.lo), abs_512(a.hi) }; }
GS_TARGET static inline __m512 neg_512(__m512 a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000)));
}
GS_TARGET static inline vf vf_neg(vf a) { return (vf){ neg_512(a.lo), neg_512(a.hi) }; }
#define GS_CMP(name, predicate) \
    GS_TARGET static inline vm name(vf a, vf b) { \
        return (vm){ _mm512_cmp_ps_mask(a.lo, b.lo, predicate), _mm512_cmp_ps_mask(a.hi, b.hi, predicate) }; \
    }
GS_CMP(vf_lt, _CMP_LT_OQ)
GS_CMP(vf_gt, _CMP_GT_OQ)
GS_CMP(vf_le, _CMP_LE_OQ)
GS_CMP(vf_ge, _CMP_GE_OQ)
GS_CMP(vf_eq, _CMP_EQ_OQ)
GS_CMP(vf_unordered, _CMP_UNORD_Q)
GS_TARGET static inline vf vf_sel(vm m, vf a, vf b) {
    return (vf){ _mm512_mask_blend_ps(m.lo, b.lo, a.lo), _mm512_mask_blend_ps(m.hi, b.hi, a.hi) };
}
GS_TARGET static inline vm vm_and(vm a, vm b) { return (vm){ (__mmask16)(a.lo & b.lo), (__mmask16)(a.hi & b.hi) }; }
GS_TARGET static inline vm vm_or(vm a, vm b) { return (vm){ (__mmask16)(a.lo | b.lo), (__mmask16)(a.hi | b.hi) }; }
GS_TARGET static inline vm vm_andnot(vm a, vm b) { return (vm){ (__mmask16)(a.lo & ~b.lo), (__mmask16)(a.hi & ~b.hi) }; }
GS_TARGET static inline int vm_none(vm a) { return (a.lo | a.hi) == 0; }
GS_TARGET static inline vi vi_set1(int a) { return (vi){ _mm512_set1_epi32(a), _mm512_set1_epi32(a) }; }
GS_TARGET static inline vi vi_add(vi a, vi b) { return (vi)GS_F2(_mm512_add_epi32); }
GS_TARGET static inline vi vi_sub(vi a, vi b) { return (vi)GS_F2(_mm512_sub_epi32); }
GS_TARGET static inline vi vi_and(vi a, vi b) { return (vi)GS_F2(_mm512_and_si512); }
GS_TARGET static inline vi vi_max(vi a, vi b) { return (vi)GS_F2(_mm512_max_epi32); }
GS_TARGET static inline vi vi_min(vi a, vi b) { return (vi)GS_F2(_mm512_min_epi32); }
GS_TARGET static inline vi vi_sel(vm m, vi a, vi b) {
    return (vi){ _mm512_mask_blend_epi32(m.lo, b.lo, a.lo), _mm512_mask_blend_epi32(m.hi, b.hi, a.hi) };
}
GS_TARGET static inline vi vi_from_bits(vf a) { return (vi){ _mm512_castps_si512(a.lo), _mm512_castps_si512(a.hi) }; }
GS_TARGET static inline vf vi_to_vf(vi a) { return (vf){ _mm512_cvtepi32_ps(a.lo), _mm512_cvtepi32_ps(a.hi) }; }
GS_TARGET static inline vtab vtab_load(const float *values) { return _mm512_loadu_ps(values); }
/// table[i] in each lane (only i's low 4 bits count; one permutation reaches all 16).
GS_TARGET static inline vf vtab_lookup(vtab table, vi index, vm upper) {
    (void)upper;
    return (vf){ _mm512_permutexvar_ps(index.lo, table), _mm512_permutexvar_ps(index.hi, table) };
}

#include "kquants_template.h"

#endif
