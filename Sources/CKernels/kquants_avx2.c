// The K-quant and IQ4 quantizers (kquants_template.h) on AVX2: the 16
// lanes are two 256-bit registers, whose independent chains of sums also
// keep the adder busy; lane flags are all-ones lanes.
#include "CKernels.h"
#include "kernels_internal.h"

// Every product and sum must round on its own, as in the reference.
#pragma STDC FP_CONTRACT OFF

#if GS_X86

#define GS_TARGET GS_AVX2
#define GS_ENTRY gs_quantize_k_blocks_avx2

typedef struct { __m256 lo, hi; } vf;
typedef struct { __m256i lo, hi; } vi;
typedef struct { __m256 lo, hi; } vm;

#define GS_F2(op) { op(a.lo, b.lo), op(a.hi, b.hi) }

GS_TARGET static inline vf vf_set1(float a) { return (vf){ _mm256_set1_ps(a), _mm256_set1_ps(a) }; }
GS_TARGET static inline vf vf_load(const float *p) { return (vf){ _mm256_loadu_ps(p), _mm256_loadu_ps(p + 8) }; }
GS_TARGET static inline void vf_store(float *p, vf a) { _mm256_storeu_ps(p, a.lo); _mm256_storeu_ps(p + 8, a.hi); }
GS_TARGET static inline vf vf_add(vf a, vf b) { return (vf)GS_F2(_mm256_add_ps); }
GS_TARGET static inline vf vf_sub(vf a, vf b) { return (vf)GS_F2(_mm256_sub_ps); }
GS_TARGET static inline vf vf_mul(vf a, vf b) { return (vf)GS_F2(_mm256_mul_ps); }
GS_TARGET static inline vf vf_div(vf a, vf b) { return (vf)GS_F2(_mm256_div_ps); }
GS_TARGET static inline vf vf_sqrt(vf a) { return (vf){ _mm256_sqrt_ps(a.lo), _mm256_sqrt_ps(a.hi) }; }
GS_TARGET static inline vf vf_abs(vf a) {
    const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    return (vf){ _mm256_and_ps(a.lo, magnitude), _mm256_and_ps(a.hi, magnitude) };
}
GS_TARGET static inline vf vf_neg(vf a) {
    const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000));
    return (vf){ _mm256_xor_ps(a.lo, sign), _mm256_xor_ps(a.hi, sign) };
}
#define GS_CMP(name, predicate) \
    GS_TARGET static inline vm name(vf a, vf b) { \
        return (vm){ _mm256_cmp_ps(a.lo, b.lo, predicate), _mm256_cmp_ps(a.hi, b.hi, predicate) }; \
    }
GS_CMP(vf_lt, _CMP_LT_OQ)
GS_CMP(vf_gt, _CMP_GT_OQ)
GS_CMP(vf_le, _CMP_LE_OQ)
GS_CMP(vf_ge, _CMP_GE_OQ)
GS_CMP(vf_eq, _CMP_EQ_OQ)
GS_CMP(vf_unordered, _CMP_UNORD_Q)
GS_TARGET static inline vf vf_sel(vm m, vf a, vf b) {
    return (vf){ _mm256_blendv_ps(b.lo, a.lo, m.lo), _mm256_blendv_ps(b.hi, a.hi, m.hi) };
}
GS_TARGET static inline vm vm_and(vm a, vm b) { return (vm)GS_F2(_mm256_and_ps); }
GS_TARGET static inline vm vm_or(vm a, vm b) { return (vm)GS_F2(_mm256_or_ps); }
GS_TARGET static inline vm vm_andnot(vm a, vm b) {
    return (vm){ _mm256_andnot_ps(b.lo, a.lo), _mm256_andnot_ps(b.hi, a.hi) };
}
GS_TARGET static inline int vm_any(vm a) { return _mm256_movemask_ps(_mm256_or_ps(a.lo, a.hi)) != 0; }
GS_TARGET static inline int vm_none(vm a) { return _mm256_movemask_ps(_mm256_or_ps(a.lo, a.hi)) == 0; }
GS_TARGET static inline int vm_all(vm a) { return _mm256_movemask_ps(_mm256_and_ps(a.lo, a.hi)) == 0xFF; }
GS_TARGET static inline vi vi_set1(int a) { return (vi){ _mm256_set1_epi32(a), _mm256_set1_epi32(a) }; }
GS_TARGET static inline vi vi_sub(vi a, vi b) { return (vi)GS_F2(_mm256_sub_epi32); }
GS_TARGET static inline vi vi_and(vi a, vi b) { return (vi)GS_F2(_mm256_and_si256); }
GS_TARGET static inline vi vi_max(vi a, vi b) { return (vi)GS_F2(_mm256_max_epi32); }
GS_TARGET static inline vi vi_min(vi a, vi b) { return (vi)GS_F2(_mm256_min_epi32); }
GS_TARGET static inline vi vi_from_bits(vf a) { return (vi){ _mm256_castps_si256(a.lo), _mm256_castps_si256(a.hi) }; }
GS_TARGET static inline vf vi_to_vf(vi a) { return (vf){ _mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi) }; }
/// table[index] per lane (index a small whole float; only its low 4 bits count).
GS_TARGET static inline __m256 lookup16_half(vf table, __m256 index) {
    __m256i i = _mm256_cvttps_epi32(index);
    __m256 low = _mm256_permutevar8x32_ps(table.lo, i), high = _mm256_permutevar8x32_ps(table.hi, i);
    __m256i upper = _mm256_cmpgt_epi32(_mm256_and_si256(i, _mm256_set1_epi32(8)), _mm256_setzero_si256());
    return _mm256_blendv_ps(low, high, _mm256_castsi256_ps(upper));
}
GS_TARGET static inline vf vf_lookup16(vf table, vf index) {
    return (vf){ lookup16_half(table, index.lo), lookup16_half(table, index.hi) };
}

#include "kquants_template.h"

#endif
