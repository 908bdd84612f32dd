// F32 matrix products for the forward pass: B is packed, 32 output columns at a
// time, into a panel laid out k-major (panel[k * 32 + j] = b(column j, k)), and
// a register tile of tokens x 32 columns accumulates one fused multiply-add per
// k, in increasing k: 6 tokens x 2 zmm on AVX-512, 3 tokens x 4 ymm on AVX2 (12
// accumulators either way). Each output is the same chain of fused operations
// on both paths and whatever the split into calls, so results do not depend on
// the instruction set or the thread count.
#include "CKernels.h"
#include "kernels_internal.h"
#include <string.h>

enum { panelWidth = 32 };

size_t gs_gemm_panel_floats(size_t k) { return k * panelWidth; }
size_t gs_gemm_panel_width(void) { return panelWidth; }

#if GS_X86
/// Transposes the 16 x 16 block at `in` (row stride `ldin`) into `out` (row
/// stride `ldout`): pairs, quads, 128-bit lanes, halves.
GS_AVX512 static void transpose16_avx512(const float *in, size_t ldin, float *out, size_t ldout) {
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(in + i * ldin);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 16; i += 8) {
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + 4 + j], 0x88);
            t[i + 4 + j] = _mm512_shuffle_f32x4(r[i + j], r[i + 4 + j], 0xDD);
        }
    }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(out + i * ldout, r[i]);
}
#endif

/// Packs columns [n0, n0 + width) of B (width <= 32) into `panel`, zero-padded to 32.
static void pack(int level, const float *b, size_t ldb, int transposed, size_t k, size_t n0, size_t width, float *panel) {
    if (transposed) {
        size_t start = 0;
#if GS_X86
        if (level >= 2 && width == panelWidth) {
            // Whole 16 x 16 blocks through registers, the rest line by line.
            for (; start + 16 <= k; start += 16) {
                transpose16_avx512(b + n0 * ldb + start, ldb, panel + start * panelWidth, panelWidth);
                transpose16_avx512(b + (n0 + 16) * ldb + start, ldb, panel + start * panelWidth + 16, panelWidth);
            }
        }
#endif
        (void)level;
        // Line by line of the panel (sequential writes), reading the 32 rows
        // side by side: each row's cache line serves 16 lines of the panel.
        const float *rows[panelWidth];
        for (size_t j = 0; j < panelWidth; j++) rows[j] = b + (n0 + (j < width ? j : 0)) * ldb;
        for (size_t kk = start; kk < k; kk++) {
            float *line = panel + kk * panelWidth;
            for (size_t j = 0; j < panelWidth; j++) line[j] = j < width ? rows[j][kk] : 0.0f;
        }
    } else {
        for (size_t kk = 0; kk < k; kk++) {
            float *line = panel + kk * panelWidth;
            memcpy(line, b + kk * ldb + n0, sizeof(float) * width);
            if (width < panelWidth) memset(line + width, 0, sizeof(float) * (panelWidth - width));
        }
    }
}

#if GS_X86

GS_AVX512 static void tile_avx512(const float *a, size_t lda, size_t rows, size_t k, const float *panel,
                                  const float *bias, float *c, size_t ldc, size_t width) {
    // Missing rows of a short tile read row 0 again and are not stored.
    const float *a0 = a, *a1 = rows > 1 ? a + lda : a, *a2 = rows > 2 ? a + 2 * lda : a;
    const float *a3 = rows > 3 ? a + 3 * lda : a, *a4 = rows > 4 ? a + 4 * lda : a, *a5 = rows > 5 ? a + 5 * lda : a;
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps(), c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    for (size_t kk = 0; kk < k; kk++) {
        __m512 b0 = _mm512_load_ps(panel + kk * panelWidth), b1 = _mm512_load_ps(panel + kk * panelWidth + 16);
        __m512 x;
        x = _mm512_set1_ps(a0[kk]); c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);
        x = _mm512_set1_ps(a1[kk]); c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);
        x = _mm512_set1_ps(a2[kk]); c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);
        x = _mm512_set1_ps(a3[kk]); c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);
        x = _mm512_set1_ps(a4[kk]); c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);
        x = _mm512_set1_ps(a5[kk]); c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);
    }
    __m512 results[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
    __mmask16 low = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
    __mmask16 high = width >= 32 ? (__mmask16)0xFFFF : width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1);
    __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
    if (bias) { bias0 = _mm512_maskz_loadu_ps(low, bias); bias1 = _mm512_maskz_loadu_ps(high, bias + 16); }
    for (size_t r = 0; r < rows; r++) {
        __m512 v0 = results[2 * r], v1 = results[2 * r + 1];
        if (bias) { v0 = _mm512_add_ps(v0, bias0); v1 = _mm512_add_ps(v1, bias1); }
        _mm512_mask_storeu_ps(c + r * ldc, low, v0);
        _mm512_mask_storeu_ps(c + r * ldc + 16, high, v1);
    }
}

GS_AVX2 static void tile_avx2(const float *a, size_t lda, size_t rows, size_t k, const float *panel,
                              const float *bias, float *c, size_t ldc, size_t width) {
    const float *a0 = a, *a1 = rows > 1 ? a + lda : a, *a2 = rows > 2 ? a + 2 * lda : a;
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps(), c03 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps(), c13 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps(), c23 = _mm256_setzero_ps();
    for (size_t kk = 0; kk < k; kk++) {
        const float *line = panel + kk * panelWidth;
        __m256 b0 = _mm256_load_ps(line), b1 = _mm256_load_ps(line + 8), b2 = _mm256_load_ps(line + 16), b3 = _mm256_load_ps(line + 24);
        __m256 x;
        x = _mm256_broadcast_ss(a0 + kk);
        c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01); c02 = _mm256_fmadd_ps(x, b2, c02); c03 = _mm256_fmadd_ps(x, b3, c03);
        x = _mm256_broadcast_ss(a1 + kk);
        c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11); c12 = _mm256_fmadd_ps(x, b2, c12); c13 = _mm256_fmadd_ps(x, b3, c13);
        x = _mm256_broadcast_ss(a2 + kk);
        c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21); c22 = _mm256_fmadd_ps(x, b2, c22); c23 = _mm256_fmadd_ps(x, b3, c23);
    }
    __m256 results[12] = {c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23};
    for (size_t r = 0; r < rows; r++) {
        float line[panelWidth];
        for (int q = 0; q < 4; q++) {
            __m256 v = results[4 * r + q];
            _mm256_storeu_ps(line + 8 * q, v);
        }
        float *out = c + r * ldc;
        if (bias) {
            for (size_t j = 0; j < width; j++) out[j] = line[j] + bias[j];
        } else {
            memcpy(out, line, sizeof(float) * width);
        }
    }
}

#endif

void gs_gemm_f32(int level, const float *a, size_t lda, size_t m, size_t k, const float *b, size_t ldb, int bTransposed,
                 const float *bias, float *c, size_t ldc, size_t rowStart, size_t rowEnd, float *panel) {
#if GS_X86
    size_t tileRows = level >= 2 ? 6 : 3;
    for (size_t n0 = rowStart; n0 < rowEnd; n0 += panelWidth) {
        size_t width = rowEnd - n0 < panelWidth ? rowEnd - n0 : panelWidth;
        pack(level, b, ldb, bTransposed, k, n0, width, panel);
        const float *columnBias = bias ? bias + n0 : NULL;
        for (size_t t = 0; t < m; t += tileRows) {
            size_t rows = m - t < tileRows ? m - t : tileRows;
            if (level >= 2) {
                tile_avx512(a + t * lda, lda, rows, k, panel, columnBias, c + t * ldc + n0, ldc, width);
            } else {
                tile_avx2(a + t * lda, lda, rows, k, panel, columnBias, c + t * ldc + n0, ldc, width);
            }
        }
    }
#else
    (void)level; (void)a; (void)lda; (void)m; (void)k; (void)b; (void)ldb; (void)bTransposed;
    (void)bias; (void)c; (void)ldc; (void)rowStart; (void)rowEnd; (void)panel;
    __builtin_trap();
#endif
}
