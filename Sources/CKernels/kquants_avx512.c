// The K-quant and IQ4 quantizers (kquants_template.h) on AVX-512: the 16
// lanes are one 512-bit register, lane flags a 16-bit mask.
#include "CKernels.h"
#include "kernels_internal.h"

// Every product and sum must round on its own, as in the reference.
#pragma STDC FP_CONTRACT OFF

#if GS_X86

#define GS_TARGET GS_AVX512
#define GS_ENTRY gs_quantize_k_blocks_avx512

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vm;

GS_TARGET static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
GS_TARGET static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
GS_TARGET static inline void vf_store(float *p, vf a) { _mm512_storeu_ps(p, a); }
GS_TARGET static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
GS_TARGET static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
GS_TARGET static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
GS_TARGET static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
GS_TARGET static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
GS_TARGET static inline vf vf_abs(vf a) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7FFFFFFF)));
}
GS_TARGET static inline vf vf_neg(vf a) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000)));
}
GS_TARGET static inline vm vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
GS_TARGET static inline vm vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
GS_TARGET static inline vm vf_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
GS_TARGET static inline vm vf_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
GS_TARGET static inline vm vf_eq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
GS_TARGET static inline vm vf_unordered(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q); }
GS_TARGET static inline vf vf_sel(vm m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); }
GS_TARGET static inline vm vm_and(vm a, vm b) { return (vm)(a & b); }
GS_TARGET static inline vm vm_or(vm a, vm b) { return (vm)(a | b); }
GS_TARGET static inline vm vm_andnot(vm a, vm b) { return (vm)(a & ~b); }
GS_TARGET static inline int vm_any(vm a) { return a != 0; }
GS_TARGET static inline int vm_none(vm a) { return a == 0; }
GS_TARGET static inline int vm_all(vm a) { return a == 0xFFFF; }
GS_TARGET static inline vi vi_set1(int a) { return _mm512_set1_epi32(a); }
GS_TARGET static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
GS_TARGET static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
GS_TARGET static inline vi vi_max(vi a, vi b) { return _mm512_max_epi32(a, b); }
GS_TARGET static inline vi vi_min(vi a, vi b) { return _mm512_min_epi32(a, b); }
GS_TARGET static inline vi vi_from_bits(vf a) { return _mm512_castps_si512(a); }
GS_TARGET static inline vf vi_to_vf(vi a) { return _mm512_cvtepi32_ps(a); }
/// table[index] per lane (index a small whole float; only its low 4 bits count).
GS_TARGET static inline vf vf_lookup16(vf table, vf index) {
    return _mm512_permutexvar_ps(_mm512_cvttps_epi32(index), table);
}

#include "kquants_template.h"

#endif
