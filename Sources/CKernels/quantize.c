// The 32-element block quantizers (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) on AVX-512
// and on AVX2 (with FMA and F16C; no fused multiply-add is used), byte-identical with ggml's quantize_row_*_ref (and the Swift ports in
// Quantize.swift): the same float operations per element (no fused
// multiply-add), the same truncating conversions (vcvttps2dq gives what
// cvttss2si gives, INT_MIN out of range), scales rounded to half by vcvtps2ph.
// Reductions (largest magnitude, minimum, maximum) are reordered, which
// gives the same value for finite inputs except for the sign of a zero
// result; blocks where that or a non-finite value could matter are left to
// the scalar kernels: each call stops at such a block and says where.
#include "CKernels.h"
#include "kernels_internal.h"
#include <string.h>

// Every product and sum below must round on its own, as in the reference.
#pragma STDC FP_CONTRACT OFF

#if GS_X86

// MARK: AVX-512

GS_AVX512 static int block_is_finite(__m512 a, __m512 b) {
    const __m512i magnitude = _mm512_set1_epi32(0x7FFFFFFF), infinity = _mm512_set1_epi32(0x7F800000);
    __mmask16 fa = _mm512_cmplt_epu32_mask(_mm512_and_si512(_mm512_castps_si512(a), magnitude), infinity);
    __mmask16 fb = _mm512_cmplt_epu32_mask(_mm512_and_si512(_mm512_castps_si512(b), magnitude), infinity);
    return fa == 0xFFFF && fb == 0xFFFF;
}

GS_AVX512 static void store_half(uint8_t *y, float value) {
    uint16_t bits = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(value), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0);
    memcpy(y, &bits, 2);
}

/// roundf (half away from zero) of finite values, exactly: trunc, then one
/// step away from zero when the dropped fraction (exact) is at least 0.5.
GS_AVX512 static __m512 round_half_away(__m512 v) {
    __m512 truncated = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 fraction = _mm512_abs_ps(_mm512_sub_ps(v, truncated));
    __mmask16 up = _mm512_cmp_ps_mask(fraction, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512i signBit = _mm512_set1_epi32((int)0x80000000);
    __m512 step = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v), signBit), _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    return _mm512_mask_add_ps(truncated, up, truncated, step);
}

GS_AVX512 static size_t q8_0_avx512(const float *x, uint8_t *y, size_t blocks) {
    for (size_t b = 0; b < blocks; b++, x += 32, y += 34) {
        __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
        if (!block_is_finite(a, c)) return b;
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half(y, d);
        __m512 scale = _mm512_set1_ps(id);
        __m512i qa = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(a, scale)));
        __m512i qc = _mm512_cvttps_epi32(round_half_away(_mm512_mul_ps(c, scale)));
        _mm_storeu_si128((__m128i *)(y + 2), _mm512_cvtepi32_epi8(qa));
        _mm_storeu_si128((__m128i *)(y + 18), _mm512_cvtepi32_epi8(qc));
    }
    return blocks;
}

/// The element of largest magnitude, the first one on ties; +0 when all are zero
/// (the reference starts from amax = max = 0 and compares strictly).
GS_AVX512 static float signed_absolute_maximum(const float *x, __m512 a, __m512 c) {
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(c)));
    if (amax == 0) return 0.0f;
    for (int j = 0; j < 32; j++) {
        if (__builtin_fabsf(x[j]) == amax) return x[j];
    }
    return 0.0f;
}

/// min(limit, (int8_t)(int)(v)), the reference's nibble for each lane.
GS_AVX512 static __m512i nibble(__m512 v, int limit) {
    __m512i truncated = _mm512_cvttps_epi32(v);
    __m512i asByte = _mm512_srai_epi32(_mm512_slli_epi32(truncated, 24), 24);
    return _mm512_min_epi32(asByte, _mm512_set1_epi32(limit));
}

/// Bytes `low | high << 4` (their low bytes), masking each to 4 bits first
/// where the reference does (the Q5 types; Q4's values are already 0...15).
GS_AVX512 static void store_nibbles(uint8_t *y, __m512i low, __m512i high, int masked) {
    if (masked) {
        const __m512i mask = _mm512_set1_epi32(0x0F);
        low = _mm512_and_si512(low, mask);
        high = _mm512_and_si512(high, mask);
    }
    __m512i packed = _mm512_or_si512(low, _mm512_slli_epi32(high, 4));
    _mm_storeu_si128((__m128i *)y, _mm512_cvtepi32_epi8(packed));
}

GS_AVX512 static uint32_t high_bits(__m512i low, __m512i high) {
    const __m512i bit = _mm512_set1_epi32(0x10);
    return (uint32_t)_mm512_test_epi32_mask(low, bit) | ((uint32_t)_mm512_test_epi32_mask(high, bit) << 16);
}

GS_AVX512 static size_t q4_0_or_q5_0_avx512(const float *x, uint8_t *y, size_t blocks, int five) {
    size_t bytes = five ? 22 : 18;
    for (size_t b = 0; b < blocks; b++, x += 32, y += bytes) {
        __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
        if (!block_is_finite(a, c)) return b;
        float max = signed_absolute_maximum(x, a, c);
        float d = max / (five ? -16.0f : -8.0f);
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half(y, d);
        __m512 scale = _mm512_set1_ps(id), offset = _mm512_set1_ps(five ? 16.5f : 8.5f);
        __m512i low = nibble(_mm512_add_ps(_mm512_mul_ps(a, scale), offset), five ? 31 : 15);
        __m512i high = nibble(_mm512_add_ps(_mm512_mul_ps(c, scale), offset), five ? 31 : 15);
        if (five) {
            uint32_t qh = high_bits(low, high);
            memcpy(y + 2, &qh, 4);
            store_nibbles(y + 6, low, high, 1);
        } else {
            store_nibbles(y + 2, low, high, 0);
        }
    }
    return blocks;
}

GS_AVX512 static size_t q4_1_or_q5_1_avx512(const float *x, uint8_t *y, size_t blocks, int five) {
    size_t bytes = five ? 24 : 20;
    for (size_t b = 0; b < blocks; b++, x += 32, y += bytes) {
        __m512 a = _mm512_loadu_ps(x), c = _mm512_loadu_ps(x + 16);
        if (!block_is_finite(a, c)) return b;
        float min = _mm512_reduce_min_ps(_mm512_min_ps(a, c));
        float max = _mm512_reduce_max_ps(_mm512_max_ps(a, c));
        // The sign of a zero extreme depends on the order of the scan.
        if (min == 0 || max == 0) return b;
        float d = (max - min) / (five ? 31.0f : 15.0f);
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half(y, d);
        store_half(y + 2, min);
        __m512 scale = _mm512_set1_ps(id), lowest = _mm512_set1_ps(min), half = _mm512_set1_ps(0.5f);
        __m512 va = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(a, lowest), scale), half);
        __m512 vc = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(c, lowest), scale), half);
        if (five) {
            // Q5_1 keeps the low byte of the truncation, no upper limit.
            __m512i low = _mm512_cvttps_epi32(va), high = _mm512_cvttps_epi32(vc);
            uint32_t qh = high_bits(low, high);
            memcpy(y + 4, &qh, 4);
            store_nibbles(y + 8, low, high, 1);
        } else {
            store_nibbles(y + 4, nibble(va, 15), nibble(vc, 15), 0);
        }
    }
    return blocks;
}

// MARK: AVX2 (a block is four vectors of 8)

GS_AVX2 static int block_is_finite_avx2(const __m256 v[4]) {
    const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF), infinity = _mm256_set1_epi32(0x7F800000);
    int finite = 0xFF;
    for (int k = 0; k < 4; k++) {
        // Signed compares are safe: magnitudes are below 2^31.
        __m256i lanes = _mm256_cmpgt_epi32(infinity, _mm256_and_si256(_mm256_castps_si256(v[k]), magnitude));
        finite &= _mm256_movemask_ps(_mm256_castsi256_ps(lanes));
    }
    return finite == 0xFF;
}

GS_AVX2 static void load_block_avx2(const float *x, __m256 v[4]) {
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
}

GS_AVX2 static void store_half_avx2(uint8_t *y, float value) {
    uint16_t bits = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(value), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0);
    memcpy(y, &bits, 2);
}

GS_AVX2 static __m256 abs_avx2(__m256 v) {
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
}

GS_AVX2 static float reduce_max_avx2(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

GS_AVX2 static float reduce_min_avx2(__m256 v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/// The largest magnitude of the block's 32 values.
GS_AVX2 static float absolute_maximum_avx2(const __m256 v[4]) {
    __m256 m = _mm256_max_ps(_mm256_max_ps(abs_avx2(v[0]), abs_avx2(v[1])), _mm256_max_ps(abs_avx2(v[2]), abs_avx2(v[3])));
    return reduce_max_avx2(m);
}

/// roundf of finite values, exactly (see round_half_away).
GS_AVX2 static __m256 round_half_away_avx2(__m256 v) {
    __m256 truncated = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 fraction = abs_avx2(_mm256_sub_ps(v, truncated));
    __m256 up = _mm256_cmp_ps(fraction, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 sign = _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)));
    __m256 step = _mm256_or_ps(sign, _mm256_set1_ps(1.0f));
    return _mm256_blendv_ps(truncated, _mm256_add_ps(truncated, step), up);
}

/// The low bytes of 32 int32 lanes, in order (C's conversion to a byte).
GS_AVX2 static __m256i low_bytes_avx2(const __m256i q[4]) {
    const __m256i byte = _mm256_set1_epi32(0xFF);
    // Masked to 0...255, the saturating packs are exact; they interleave the
    // 128-bit halves, which the permutation undoes.
    __m256i p01 = _mm256_packus_epi32(_mm256_and_si256(q[0], byte), _mm256_and_si256(q[1], byte));
    __m256i p23 = _mm256_packus_epi32(_mm256_and_si256(q[2], byte), _mm256_and_si256(q[3], byte));
    __m256i packed = _mm256_packus_epi16(p01, p23);
    return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

GS_AVX2 static size_t q8_0_avx2(const float *x, uint8_t *y, size_t blocks) {
    for (size_t b = 0; b < blocks; b++, x += 32, y += 34) {
        __m256 v[4];
        load_block_avx2(x, v);
        if (!block_is_finite_avx2(v)) return b;
        float amax = absolute_maximum_avx2(v);
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half_avx2(y, d);
        __m256 scale = _mm256_set1_ps(id);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = _mm256_cvttps_epi32(round_half_away_avx2(_mm256_mul_ps(v[k], scale)));
        _mm256_storeu_si256((__m256i *)(y + 2), low_bytes_avx2(q));
    }
    return blocks;
}

/// The element of largest magnitude, the first one on ties; +0 when all are zero.
GS_AVX2 static float signed_absolute_maximum_avx2(const float *x, const __m256 v[4]) {
    float amax = absolute_maximum_avx2(v);
    if (amax == 0) return 0.0f;
    for (int j = 0; j < 32; j++) {
        if (__builtin_fabsf(x[j]) == amax) return x[j];
    }
    return 0.0f;
}

/// min(limit, (int8_t)(int)(v)) in each lane.
GS_AVX2 static __m256i nibble_avx2(__m256 v, int limit) {
    __m256i truncated = _mm256_cvttps_epi32(v);
    __m256i asByte = _mm256_srai_epi32(_mm256_slli_epi32(truncated, 24), 24);
    return _mm256_min_epi32(asByte, _mm256_set1_epi32(limit));
}

/// Bytes `q[j] | q[j + 16] << 4` for j in 0..<16 (q: the block's 32 quants in
/// four vectors), each quant masked to 4 bits first where `masked`.
GS_AVX2 static void store_nibbles_avx2(uint8_t *y, const __m256i q[4], int masked) {
    const __m256i mask = _mm256_set1_epi32(masked ? 0x0F : -1);
    __m256i packed[4];
    for (int k = 0; k < 2; k++) {
        __m256i low = _mm256_and_si256(q[k], mask), high = _mm256_and_si256(q[k + 2], mask);
        packed[k] = _mm256_or_si256(low, _mm256_slli_epi32(high, 4));
    }
    packed[2] = packed[3] = _mm256_setzero_si256();
    _mm_storeu_si128((__m128i *)y, _mm256_castsi256_si128(low_bytes_avx2(packed)));
}

/// Bit j set where quant j has bit 4 set.
GS_AVX2 static uint32_t high_bits_avx2(const __m256i q[4]) {
    const __m256i bit = _mm256_set1_epi32(0x10);
    uint32_t bits = 0;
    for (int k = 0; k < 4; k++) {
        __m256i set = _mm256_cmpeq_epi32(_mm256_and_si256(q[k], bit), bit);
        bits |= (uint32_t)_mm256_movemask_ps(_mm256_castsi256_ps(set)) << (8 * k);
    }
    return bits;
}

GS_AVX2 static size_t q4_0_or_q5_0_avx2(const float *x, uint8_t *y, size_t blocks, int five) {
    size_t bytes = five ? 22 : 18;
    for (size_t b = 0; b < blocks; b++, x += 32, y += bytes) {
        __m256 v[4];
        load_block_avx2(x, v);
        if (!block_is_finite_avx2(v)) return b;
        float max = signed_absolute_maximum_avx2(x, v);
        float d = max / (five ? -16.0f : -8.0f);
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half_avx2(y, d);
        __m256 scale = _mm256_set1_ps(id), offset = _mm256_set1_ps(five ? 16.5f : 8.5f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = nibble_avx2(_mm256_add_ps(_mm256_mul_ps(v[k], scale), offset), five ? 31 : 15);
        if (five) {
            uint32_t qh = high_bits_avx2(q);
            memcpy(y + 2, &qh, 4);
            store_nibbles_avx2(y + 6, q, 1);
        } else {
            store_nibbles_avx2(y + 2, q, 0);
        }
    }
    return blocks;
}

GS_AVX2 static size_t q4_1_or_q5_1_avx2(const float *x, uint8_t *y, size_t blocks, int five) {
    size_t bytes = five ? 24 : 20;
    for (size_t b = 0; b < blocks; b++, x += 32, y += bytes) {
        __m256 v[4];
        load_block_avx2(x, v);
        if (!block_is_finite_avx2(v)) return b;
        float min = reduce_min_avx2(_mm256_min_ps(_mm256_min_ps(v[0], v[1]), _mm256_min_ps(v[2], v[3])));
        float max = reduce_max_avx2(_mm256_max_ps(_mm256_max_ps(v[0], v[1]), _mm256_max_ps(v[2], v[3])));
        // The sign of a zero extreme depends on the order of the scan.
        if (min == 0 || max == 0) return b;
        float d = (max - min) / (five ? 31.0f : 15.0f);
        float id = d != 0 ? 1.0f / d : 0.0f;
        store_half_avx2(y, d);
        store_half_avx2(y + 2, min);
        __m256 scale = _mm256_set1_ps(id), lowest = _mm256_set1_ps(min), half = _mm256_set1_ps(0.5f);
        __m256i q[4];
        for (int k = 0; k < 4; k++) {
            __m256 scaled = _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(v[k], lowest), scale), half);
            // Q5_1 keeps the low byte of the truncation, no upper limit.
            q[k] = five ? _mm256_cvttps_epi32(scaled) : nibble_avx2(scaled, 15);
        }
        if (five) {
            uint32_t qh = high_bits_avx2(q);
            memcpy(y + 4, &qh, 4);
            store_nibbles_avx2(y + 8, q, 1);
        } else {
            store_nibbles_avx2(y + 4, q, 0);
        }
    }
    return blocks;
}

#endif

size_t gs_quantize_blocks(int level, int type, const float *source, const float *importance,
                          void *destination, size_t blocks) {
#if GS_X86
    if (level >= 1 && type >= GS_Q2_K && type <= GS_IQ4_XS) {
        return level >= 2 ? gs_quantize_k_blocks_avx512(type, source, importance, destination, blocks)
                          : gs_quantize_k_blocks_avx2(type, source, importance, destination, blocks);
    }
    if (importance) return 0;
    if (level >= 2) {
        switch (type) {
        case GS_Q8_0: return q8_0_avx512(source, destination, blocks);
        case GS_Q4_0: return q4_0_or_q5_0_avx512(source, destination, blocks, 0);
        case GS_Q5_0: return q4_0_or_q5_0_avx512(source, destination, blocks, 1);
        case GS_Q4_1: return q4_1_or_q5_1_avx512(source, destination, blocks, 0);
        case GS_Q5_1: return q4_1_or_q5_1_avx512(source, destination, blocks, 1);
        default: return 0;
        }
    }
    if (level == 1) {
        switch (type) {
        case GS_Q8_0: return q8_0_avx2(source, destination, blocks);
        case GS_Q4_0: return q4_0_or_q5_0_avx2(source, destination, blocks, 0);
        case GS_Q5_0: return q4_0_or_q5_0_avx2(source, destination, blocks, 1);
        case GS_Q4_1: return q4_1_or_q5_1_avx2(source, destination, blocks, 0);
        case GS_Q5_1: return q4_1_or_q5_1_avx2(source, destination, blocks, 1);
        default: return 0;
        }
    }
#endif
    (void)level; (void)type; (void)source; (void)importance; (void)destination; (void)blocks;
    return 0;
}
