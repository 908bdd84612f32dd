// The K-quant and IQ4 quantizers (kquants_template.h) on AVX2: 16 lanes in
// two 256-bit registers (more would spill: AVX2 has 16 registers); lane
// flags are all-ones lanes.
#include "CKernels.h"
#include "kernels_internal.h"

// Every product and sum must round on its own, as in the reference.
#pragma STDC FP_CONTRACT OFF

#if GS_X86

#define GS_TARGET GS_AVX2
#define GS_ENTRY gs_quantize_k_blocks_avx2
#define GS_LANES 16

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
GS_TARGET static inline int vm_none(vm a) { return _mm256_movemask_ps(_mm256_or_ps(a.lo, a.hi)) == 0; }
GS_TARGET static inline vi vi_set1(int a) { return (vi){ _mm256_set1_epi32(a), _mm256_set1_epi32(a) }; }
GS_TARGET static inline vi vi_add(vi a, vi b) { return (vi)GS_F2(_mm256_add_epi32); }
GS_TARGET static inline vi vi_sub(vi a, vi b) { return (vi)GS_F2(_mm256_sub_epi32); }
GS_TARGET static inline vi vi_and(vi a, vi b) { return (vi)GS_F2(_mm256_and_si256); }
GS_TARGET static inline vi vi_max(vi a, vi b) { return (vi)GS_F2(_mm256_max_epi32); }
GS_TARGET static inline vi vi_min(vi a, vi b) { return (vi)GS_F2(_mm256_min_epi32); }
GS_TARGET static inline vi vi_sel(vm m, vi a, vi b) {
    return (vi){ _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b.lo), _mm256_castsi256_ps(a.lo), m.lo)),
                 _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b.hi), _mm256_castsi256_ps(a.hi), m.hi)) };
}
GS_TARGET static inline vi vi_from_bits(vf a) { return (vi){ _mm256_castps_si256(a.lo), _mm256_castps_si256(a.hi) }; }
GS_TARGET static inline vf vi_to_vf(vi a) { return (vf){ _mm256_cvtepi32_ps(a.lo), _mm256_cvtepi32_ps(a.hi) }; }
/// A 16-float table: entries 0-7 and 8-15.
typedef struct { __m256 lo, hi; } vtab;
GS_TARGET static inline vtab vtab_load(const float *values) {
    return (vtab){ _mm256_loadu_ps(values), _mm256_loadu_ps(values + 8) };
}
/// table[i] in each lane: both halves permuted by i's low 3 bits, `upper` picks.
GS_TARGET static inline vf vtab_lookup(vtab table, vi i, vm upper) {
    return (vf){ _mm256_blendv_ps(_mm256_permutevar8x32_ps(table.lo, i.lo), _mm256_permutevar8x32_ps(table.hi, i.lo), upper.lo),
                 _mm256_blendv_ps(_mm256_permutevar8x32_ps(table.lo, i.hi), _mm256_permutevar8x32_ps(table.hi, i.hi), upper.hi) };
}

#include "kquants_template.h"

#endif
