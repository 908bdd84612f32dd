// CKernels: the vector kernels of gatesurgeon's hot loops (16-bit float casts,
// ggml's quantizers, the forward pass's matrix products), in C for one reason: per-function
// instruction sets. Swift has no per-function target attribute and SwiftPM
// builds without -march, so Swift's SIMD types compile to the x86-64 baseline
// (SSE2) whatever the CPU. Here each kernel exists for AVX2+FMA+F16C and for
// AVX-512 (F, BW, VL) via __attribute__((target(...))), and the best one the
// CPU supports is chosen at run time (__builtin_cpu_supports). Where neither
// is available (another architecture, an old CPU) gs_cpu_level() returns 0 and
// the callers use their portable Swift kernels, which the tests also compare
// these against byte for byte (casts, quantizers) or to rounding (products).
// Callers pass the level, so one CPU runs and compares every level it has.
//
// No kernel allocates, locks or starts a thread: Swift's Parallel splits the
// work and calls them on disjoint parts of the output.
#ifndef GS_CKERNELS_H
#define GS_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 0: no vector kernels here (use the portable path); 1: AVX2, FMA and F16C;
/// 2: AVX-512 F/BW/VL as well. Computed once.
int gs_cpu_level(void);

/// Instruction-set extensions of this CPU that matter to the kernels and to
/// the peers they are measured against (for reports; gs_cpu_level decides).
enum {
    GS_CPU_SSE42 = 1 << 0, GS_CPU_AVX = 1 << 1, GS_CPU_AVX2 = 1 << 2, GS_CPU_FMA = 1 << 3, GS_CPU_F16C = 1 << 4,
    GS_CPU_AVX512F = 1 << 5, GS_CPU_AVX512BW = 1 << 6, GS_CPU_AVX512VL = 1 << 7, GS_CPU_AVX512VNNI = 1 << 8,
    GS_CPU_AVX512BF16 = 1 << 9
};
unsigned gs_cpu_features(void);

// Every kernel takes the level to run at, at most gs_cpu_level() and at least
// 1, so tests can compare the AVX2 and AVX-512 paths without global state.

/// F32 -> BF16, round to nearest even, every NaN -> 0xFFFF (torch's vectorised
/// CPU cast). Returns how many finite inputs became infinite.
size_t gs_encode_bf16(int level, const void *source, void *destination, size_t count);

/// F32 -> IEEE half, round to nearest even, NaN quiet with its top payload bits
/// (F16C's vcvtps2ph, torch's CPU cast). Returns how many finite inputs became infinite.
size_t gs_encode_f16(int level, const void *source, void *destination, size_t count);

/// BF16 -> F32 (exact).
void gs_decode_bf16(int level, const void *source, float *destination, size_t count);

/// IEEE half -> F32 (exact; NaN made quiet, payload kept: vcvtph2ps).
void gs_decode_f16(int level, const void *source, float *destination, size_t count);

/// Rows [rowStart, rowEnd) of the product C = A B^T (bTransposed != 0) or A B
/// (bTransposed == 0), plus bias: for t in [0, m), n in [rowStart, rowEnd),
///   c[t * ldc + n] = (bias ? bias[n] : 0) + sum over k of a[t * lda + k] * b(n, k)
/// with b(n, k) = b[n * ldb + k] when transposed, b[k * ldb + n] otherwise.
/// Every output is one fused multiply-add chain over k in increasing order,
/// then the bias added, so the result does not depend on how the rows are
/// split between calls, nor on the instruction set. `panel` is scratch of
/// gs_gemm_panel_floats(k) floats, 64-byte aligned.
void gs_gemm_f32(int level, const float *a, size_t lda, size_t m, size_t k,
                 const float *b, size_t ldb, int bTransposed,
                 const float *bias, float *c, size_t ldc,
                 size_t rowStart, size_t rowEnd, float *panel);

/// Floats of scratch gs_gemm_f32 needs for an inner dimension of `k`.
size_t gs_gemm_panel_floats(size_t k);

/// The output columns one panel covers: split rows between threads in multiples of it.
size_t gs_gemm_panel_width(void);

/// The block types gs_quantize_blocks handles.
enum {
    GS_Q8_0 = 0, GS_Q4_0 = 1, GS_Q4_1 = 2, GS_Q5_0 = 3, GS_Q5_1 = 4,
    GS_Q2_K = 5, GS_Q3_K = 6, GS_Q4_K = 7, GS_Q5_K = 8, GS_Q6_K = 9, GS_IQ4_NL = 10, GS_IQ4_XS = 11
};

/// Quantizes consecutive blocks of floats as `type` and returns how many
/// blocks it wrote, byte-identical with what ggml_quantize_chunk writes:
/// - the 32-element types without importance (`importance` NULL), as
///   quantize_row_*_ref. It stops before the first block holding a NaN or
///   an infinity, or (Q4_1, Q5_1) whose minimum or maximum is zero, whose
///   result depends on the reference's order of comparisons;
/// - Q2_K ... Q6_K, IQ4_NL and IQ4_XS without importance (the _ref
///   quantizers, quantize_iq4_*), or with it (`importance`: the first
///   block's columns, the next block's following them: the blocks of one
///   row), as the _impl quantizers. It stops before the first block holding
///   a NaN or an infinity.
/// The caller quantizes the block it stopped at with the scalar kernel and
/// calls again after it. Level 1 (AVX2) and 2 (AVX-512) write the same
/// bytes; returns 0 below level 1, and for the 32-element types with importance.
size_t gs_quantize_blocks(int level, int type, const float *source, const float *importance,
                          void *destination, size_t blocks);

#ifdef __cplusplus
}
#endif

#endif
