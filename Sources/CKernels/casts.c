// 16-bit float casts, bit-exact with torch's CPU casts (see HalfPrecision.swift,
// the portable version and the documentation of the NaN rules).
#include "CKernels.h"
#include "kernels_internal.h"
#include <string.h>

#if GS_X86

// MARK: AVX-512

GS_AVX512 static size_t encode_bf16_avx512(const void *source, void *destination, size_t count) {
    const uint8_t *in = source;
    uint8_t *out = destination;
    const __m512i rounding = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1);
    const __m512i magnitudeMask = _mm512_set1_epi32(0x7FFFFFFF), infinity = _mm512_set1_epi32(0x7F800000);
    const __m512i halfMagnitude = _mm512_set1_epi32(0x7FFF), halfInfinity = _mm512_set1_epi32(0x7F80);
    const __m512i allOnes = _mm512_set1_epi32(0xFFFF);
    size_t overflowed = 0;
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 lanes = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512i bits = _mm512_maskz_loadu_epi32(lanes, in + 4 * i);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
        __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(bits, rounding), lsb), 16);
        __m512i magnitude = _mm512_and_si512(bits, magnitudeMask);
        __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, infinity);
        __mmask16 finite = _mm512_cmplt_epu32_mask(magnitude, infinity);
        rounded = _mm512_mask_mov_epi32(rounded, nan, allOnes);
        __mmask16 infinite = _mm512_cmpeq_epi32_mask(_mm512_and_si512(rounded, halfMagnitude), halfInfinity);
        overflowed += (size_t)__builtin_popcount((unsigned)(infinite & finite & lanes));
        _mm256_mask_storeu_epi16(out + 2 * i, lanes, _mm512_cvtepi32_epi16(rounded));
    }
    return overflowed;
}

GS_AVX512 static size_t encode_f16_avx512(const void *source, void *destination, size_t count) {
    const uint8_t *in = source;
    uint8_t *out = destination;
    const __m512i magnitudeMask = _mm512_set1_epi32(0x7FFFFFFF), infinity = _mm512_set1_epi32(0x7F800000);
    const __m256i halfMagnitude = _mm256_set1_epi16(0x7FFF), halfInfinity = _mm256_set1_epi16(0x7C00);
    size_t overflowed = 0;
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 lanes = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m512i bits = _mm512_maskz_loadu_epi32(lanes, in + 4 * i);
        __m256i half = _mm512_cvtps_ph(_mm512_castsi512_ps(bits), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __mmask16 finite = _mm512_cmplt_epu32_mask(_mm512_and_si512(bits, magnitudeMask), infinity);
        __mmask16 infinite = _mm256_cmpeq_epi16_mask(_mm256_and_si256(half, halfMagnitude), halfInfinity);
        overflowed += (size_t)__builtin_popcount((unsigned)(infinite & finite & lanes));
        _mm256_mask_storeu_epi16(out + 2 * i, lanes, half);
    }
    return overflowed;
}

GS_AVX512 static void decode_bf16_avx512(const void *source, float *destination, size_t count) {
    const uint8_t *in = source;
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 lanes = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m256i half = _mm256_maskz_loadu_epi16(lanes, in + 2 * i);
        __m512i wide = _mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16);
        _mm512_mask_storeu_epi32(destination + i, lanes, wide);
    }
}

GS_AVX512 static void decode_f16_avx512(const void *source, float *destination, size_t count) {
    const uint8_t *in = source;
    for (size_t i = 0; i < count; i += 16) {
        __mmask16 lanes = count - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - i)) - 1);
        __m256i half = _mm256_maskz_loadu_epi16(lanes, in + 2 * i);
        _mm512_mask_storeu_ps(destination + i, lanes, _mm512_cvtph_ps(half));
    }
}

// MARK: AVX2 (tails go through an 8-element scratch block)

GS_AVX2 static __m128i bf16_block_avx2(__m256i bits, size_t *overflowed) {
    const __m256i rounding = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1);
    const __m256i magnitudeMask = _mm256_set1_epi32(0x7FFFFFFF), infinity = _mm256_set1_epi32(0x7F800000);
    const __m256i halfMagnitude = _mm256_set1_epi32(0x7FFF), halfInfinity = _mm256_set1_epi32(0x7F80);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), one);
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(bits, rounding), lsb), 16);
    __m256i magnitude = _mm256_and_si256(bits, magnitudeMask);
    // Signed compares are safe: magnitudes are below 2^31.
    __m256i nan = _mm256_cmpgt_epi32(magnitude, infinity);
    __m256i finite = _mm256_cmpgt_epi32(infinity, magnitude);
    rounded = _mm256_or_si256(rounded, _mm256_and_si256(nan, _mm256_set1_epi32(0xFFFF)));
    __m256i infinite = _mm256_cmpeq_epi32(_mm256_and_si256(rounded, halfMagnitude), halfInfinity);
    *overflowed += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(infinite, finite))));
    __m256i packed = _mm256_packus_epi32(rounded, rounded);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

GS_AVX2 static size_t encode_bf16_avx2(const void *source, void *destination, size_t count) {
    const uint8_t *in = source;
    uint8_t *out = destination;
    size_t overflowed = 0, i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i half = bf16_block_avx2(_mm256_loadu_si256((const __m256i *)(in + 4 * i)), &overflowed);
        _mm_storeu_si128((__m128i *)(out + 2 * i), half);
    }
    if (i < count) {
        uint32_t scratch[8] = {0};
        uint16_t result[8];
        memcpy(scratch, in + 4 * i, 4 * (count - i));
        __m128i half = bf16_block_avx2(_mm256_loadu_si256((const __m256i *)scratch), &overflowed);
        _mm_storeu_si128((__m128i *)result, half);
        memcpy(out + 2 * i, result, 2 * (count - i));
    }
    return overflowed;
}

GS_AVX2 static __m128i f16_block_avx2(__m256i bits, size_t *overflowed) {
    const __m256i magnitudeMask = _mm256_set1_epi32(0x7FFFFFFF), infinity = _mm256_set1_epi32(0x7F800000);
    __m128i half = _mm256_cvtps_ph(_mm256_castsi256_ps(bits), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256i finite = _mm256_cmpgt_epi32(infinity, _mm256_and_si256(bits, magnitudeMask));
    __m128i infinite16 = _mm_cmpeq_epi16(_mm_and_si128(half, _mm_set1_epi16(0x7FFF)), _mm_set1_epi16(0x7C00));
    __m256i infinite = _mm256_cvtepi16_epi32(infinite16);
    *overflowed += (size_t)__builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(infinite, finite))));
    return half;
}

GS_AVX2 static size_t encode_f16_avx2(const void *source, void *destination, size_t count) {
    const uint8_t *in = source;
    uint8_t *out = destination;
    size_t overflowed = 0, i = 0;
    for (; i + 8 <= count; i += 8) {
        __m128i half = f16_block_avx2(_mm256_loadu_si256((const __m256i *)(in + 4 * i)), &overflowed);
        _mm_storeu_si128((__m128i *)(out + 2 * i), half);
    }
    if (i < count) {
        uint32_t scratch[8] = {0};
        uint16_t result[8];
        memcpy(scratch, in + 4 * i, 4 * (count - i));
        __m128i half = f16_block_avx2(_mm256_loadu_si256((const __m256i *)scratch), &overflowed);
        _mm_storeu_si128((__m128i *)result, half);
        memcpy(out + 2 * i, result, 2 * (count - i));
    }
    return overflowed;
}

GS_AVX2 static void decode_bf16_avx2(const void *source, float *destination, size_t count) {
    const uint8_t *in = source;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256i wide = _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(in + 2 * i))), 16);
        _mm256_storeu_si256((__m256i *)(destination + i), wide);
    }
    for (; i < count; i++) {
        uint16_t bits;
        memcpy(&bits, in + 2 * i, 2);
        uint32_t wide = (uint32_t)bits << 16;
        memcpy(destination + i, &wide, 4);
    }
}

GS_AVX2 static void decode_f16_avx2(const void *source, float *destination, size_t count) {
    const uint8_t *in = source;
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        _mm256_storeu_ps(destination + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + 2 * i))));
    }
    if (i < count) {
        uint16_t scratch[8] = {0};
        float result[8];
        memcpy(scratch, in + 2 * i, 2 * (count - i));
        _mm256_storeu_ps(result, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)scratch)));
        memcpy(destination + i, result, 4 * (count - i));
    }
}

#endif

// MARK: Dispatch (callers check gs_cpu_level() > 0 first)

size_t gs_encode_bf16(int level, const void *source, void *destination, size_t count) {
#if GS_X86
    if (level >= 2) return encode_bf16_avx512(source, destination, count);
    if (level == 1) return encode_bf16_avx2(source, destination, count);
#endif
    (void)level; (void)source; (void)destination; (void)count;
    __builtin_trap();
}

size_t gs_encode_f16(int level, const void *source, void *destination, size_t count) {
#if GS_X86
    if (level >= 2) return encode_f16_avx512(source, destination, count);
    if (level == 1) return encode_f16_avx2(source, destination, count);
#endif
    (void)level; (void)source; (void)destination; (void)count;
    __builtin_trap();
}

void gs_decode_bf16(int level, const void *source, float *destination, size_t count) {
#if GS_X86
    if (level >= 2) { decode_bf16_avx512(source, destination, count); return; }
    if (level == 1) { decode_bf16_avx2(source, destination, count); return; }
#endif
    (void)level; (void)source; (void)destination; (void)count;
    __builtin_trap();
}

void gs_decode_f16(int level, const void *source, float *destination, size_t count) {
#if GS_X86
    if (level >= 2) { decode_f16_avx512(source, destination, count); return; }
    if (level == 1) { decode_f16_avx2(source, destination, count); return; }
#endif
    (void)level; (void)source; (void)destination; (void)count;
    __builtin_trap();
}
