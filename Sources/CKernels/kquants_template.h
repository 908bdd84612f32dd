// The K-quant and IQ4 quantizers on GS_LANES lanes, written once over a
// small set of vector operations that kquants_avx2.c (16 lanes: two 8-lane
// registers) and kquants_avx512.c (32 lanes: two 16-lane registers) define
// before including this file. Two registers per vector give every running
// sum two independent dependency chains, so the adders stay busy.
//
// Each lane runs one of ggml's scale searches (make_qkx2_quants,
// make_qx_quants, make_q3_quants, the IQ4 search of quantize_row_iq4_nl_impl)
// on one sub-block, performing exactly the reference's float operations in
// the reference's order: the sums over a sub-block stay sequential within
// their lane, only independent sub-blocks (and blocks) run side by side.
// What the reference does across a block's sub-blocks (the block scales)
// stays scalar and in order. The Swift ports in Quantize+KQuants.swift,
// Quantize+Importance.swift and Quantize+NonLinear.swift are the portable
// path; the tests hold every level to their bytes and to ggml's.
//
// The includer defines GS_TARGET (the function attribute), GS_ENTRY (the
// entry point's name), GS_LANES (16 or 32), the types vf (GS_LANES floats),
// vi (GS_LANES int32), vm (GS_LANES lane flags) and vtab (a 16-float table),
// and these operations:
//   vf_set1 vf_load vf_store vf_add vf_sub vf_mul vf_div vf_sqrt vf_abs
//   vf_neg vf_lt vf_gt vf_eq vf_le vf_ge vf_unordered vf_sel
//   vm_and vm_or vm_andnot vm_none
//   vi_set1 vi_add vi_sub vi_and vi_max vi_min vi_sel vi_from_bits vi_to_vf
//   vtab_load vtab_lookup
// vf_sel(m, a, b) is a where m is set, else b; vm_andnot(a, b) is a & !b;
// vtab_lookup(t, i, upper) is t[i] in each lane (0 <= i < 16), where
// `upper` flags the lanes whose i is 8 or more.

#include <math.h>
#include <string.h>

#define GS_GROUP_MAX_EPS 1e-15f

// MARK: Scalar helpers (ggml's, for the parts that stay scalar)

GS_TARGET static inline int nearest_int_1(float x) {
    float shifted = x + 12582912.f;
    int bits;
    memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

GS_TARGET static inline void store_half(uint8_t *y, float x) {
    uint16_t bits = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 0);
    memcpy(y, &bits, 2);
}

GS_TARGET static inline float load_half(const uint8_t *y) {
    uint16_t bits;
    memcpy(&bits, y, 2);
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)));
}

// MARK: Lane helpers

/// ggml's nearest_int in each lane.
GS_TARGET static inline vi nearest(vf x) {
    vi bits = vi_from_bits(vf_add(x, vf_set1(12582912.f)));
    return vi_sub(vi_and(bits, vi_set1(0x007fffff)), vi_set1(0x00400000));
}

/// MAX(lo, MIN(hi, nearest_int(x))) as a float (exact: small integers).
GS_TARGET static inline vf nearest_clamped(vf x, int lo, int hi) {
    return vi_to_vf(vi_max(vi_set1(lo), vi_min(vi_set1(hi), nearest(x))));
}

/// Lays out GS_LANES consecutive sub-blocks of `n` floats as lanes: xt[i]
/// holds element i of each.
GS_TARGET static inline void to_lanes(const float *x, int n, vf *xt) {
    float buffer[GS_LANES] __attribute__((aligned(64)));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < GS_LANES; j++) buffer[j] = x[n * j + i];
        xt[i] = vf_load(buffer);
    }
}

/// The reverse for quants (small whole floats): L[n * j + i] = lane j of lt[i].
GS_TARGET static inline void from_lanes(const vf *lt, int n, uint8_t *L) {
    float buffer[GS_LANES] __attribute__((aligned(64)));
    for (int i = 0; i < n; i++) {
        vf_store(buffer, lt[i]);
        for (int j = 0; j < GS_LANES; j++) L[n * j + i] = (uint8_t)(int)buffer[j];
    }
}

/// The lane-wise largest magnitude and the value that has it, the first on
/// ties (`if (ax > amax) { amax = ax; max = x; }` from zero).
GS_TARGET static inline void signed_absolute_maximum(const vf *x, int n, vf *amax, vf *max) {
    vf a = vf_set1(0), m = vf_set1(0);
    for (int i = 0; i < n; i++) {
        vf ax = vf_abs(x[i]);
        vm larger = vf_gt(ax, a);
        a = vf_sel(larger, ax, a);
        m = vf_sel(larger, x[i], m);
    }
    *amax = a;
    *max = m;
}

/// The importance weights qw * sqrt(sigma2 + x*x) of each lane, and their
/// sums in order.
GS_TARGET static inline vf importance_weights(const vf *xt, const float *qw, int n, vf sigma2, vf *wt) {
    vf q[32], sums = vf_set1(0);
    to_lanes(qw, n, q);
    for (int i = 0; i < n; i++) {
        wt[i] = vf_mul(q[i], vf_sqrt(vf_add(sigma2, vf_mul(xt[i], xt[i]))));
        sums = vf_add(sums, wt[i]);
    }
    return sums;
}

/// sigma2 of the _impl quantizers for every lane: the sum of squares of its
/// block of `size` (in order) times `factor` / `size` (scale 2 for Q3_K ...
/// IQ4, 1 for Q2_K), the same in each of a block's `perBlock` lanes.
GS_TARGET static inline vf block_sigma2(const float *x, int size, int perBlock, float factor, int iq4) {
    float sigma2[GS_LANES] __attribute__((aligned(64)));
    for (int b = 0; b < GS_LANES / perBlock; b++) {
        float sum = 0;
        for (int j = 0; j < size; j++) sum += x[size * b + j] * x[size * b + j];
        // IQ4 scales the sum by (2 / size); the K-quants compute factor * sum / size.
        float value = iq4 ? sum * (factor / size) : factor * sum / size;
        for (int j = 0; j < perBlock; j++) sigma2[perBlock * b + j] = value;
    }
    return vf_load(sigma2);
}

// MARK: make_qkx2_quants

/// make_qkx2_quants(n, nmax, x, w, L, &the_min, Laux, rmin, rdelta, nstep,
/// use_mad) in every lane (nstep >= 1). `L` gets the quants as floats;
/// returns the scale, and the_min in `theMin`. With rmin -0.9, rdelta 0.05,
/// nstep 36 and weights it is also make_qkx3_quants (whose `max <= min` is
/// `max == min` here, as min <= 0 <= ... <= max).
GS_TARGET __attribute__((always_inline)) static inline vf qkx2_lanes(int n, int nmax, const vf *x, const vf *w, vf *L,
                                      float rmin, float rdelta, int nstep, int mad, vf *theMin) {
    vf Laux[32], shifted[32];
    vf min = x[0], max = x[0], sumW = w[0], sumX = vf_mul(w[0], x[0]);
    for (int i = 1; i < n; i++) {
        min = vf_sel(vf_lt(x[i], min), x[i], min);
        max = vf_sel(vf_gt(x[i], max), x[i], max);
        sumW = vf_add(sumW, w[i]);
        sumX = vf_add(sumX, vf_mul(w[i], x[i]));
    }
    const vf zero = vf_set1(0);
    min = vf_sel(vf_gt(min, zero), zero, min);
    vm flat = vf_eq(max, min);
    vf iscale = vf_div(vf_set1((float)nmax), vf_sub(max, min));
    vf scale = vf_div(vf_set1(1), iscale);
    vf best = zero;
    for (int i = 0; i < n; i++) {
        shifted[i] = vf_sub(x[i], min);
        vf l = nearest_clamped(vf_mul(iscale, shifted[i]), 0, nmax);
        vf diff = vf_sub(vf_add(vf_mul(scale, l), min), x[i]);
        vf error = mad ? vf_abs(diff) : vf_mul(diff, diff);
        best = vf_add(best, vf_mul(w[i], error));
    }
    // The quants of the best step are computed again at the end from the
    // scale and min that step used: the same operations, the same values.
    vf bestIscale = iscale, bestShift = min;
    for (int step = 0; step <= nstep; step++) {
        iscale = vf_div(vf_set1(rmin + rdelta * (float)step + (float)nmax), vf_sub(max, min));
        vf sumL = zero, sumL2 = zero, sumXL = zero;
        for (int i = 0; i < n; i++) {
            vf l = nearest_clamped(vf_mul(iscale, shifted[i]), 0, nmax);
            Laux[i] = l;
            vf wl = vf_mul(w[i], l);
            sumL = vf_add(sumL, wl);
            sumL2 = vf_add(sumL2, vf_mul(wl, l));
            sumXL = vf_add(sumXL, vf_mul(wl, x[i]));
        }
        vf D = vf_sub(vf_mul(sumW, sumL2), vf_mul(sumL, sumL));
        vm solvable = vf_gt(D, zero);
        if (vm_none(solvable)) continue;
        vf thisScale = vf_div(vf_sub(vf_mul(sumW, sumXL), vf_mul(sumX, sumL)), D);
        vf thisMin = vf_div(vf_sub(vf_mul(sumL2, sumX), vf_mul(sumL, sumXL)), D);
        vm positive = vf_gt(thisMin, zero);
        thisMin = vf_sel(positive, zero, thisMin);
        thisScale = vf_sel(positive, vf_div(sumXL, sumL2), thisScale);
        vf error = zero;
        for (int i = 0; i < n; i++) {
            vf diff = vf_sub(vf_add(vf_mul(thisScale, Laux[i]), thisMin), x[i]);
            error = vf_add(error, vf_mul(w[i], mad ? vf_abs(diff) : vf_mul(diff, diff)));
        }
        vm better = vm_andnot(vm_and(solvable, vf_lt(error, best)), flat);
        if (vm_none(better)) continue;
        bestIscale = vf_sel(better, iscale, bestIscale);
        bestShift = vf_sel(better, min, bestShift);
        best = vf_sel(better, error, best);
        scale = vf_sel(better, thisScale, scale);
        min = vf_sel(better, thisMin, min);
        for (int i = 0; i < n; i++) shifted[i] = vf_sub(x[i], min);
    }
    for (int i = 0; i < n; i++) {
        L[i] = vf_sel(flat, zero, nearest_clamped(vf_mul(bestIscale, vf_sub(x[i], bestShift)), 0, nmax));
    }
    *theMin = vf_neg(min);
    return vf_sel(flat, zero, scale);
}

// MARK: make_qx_quants

/// make_qx_quants(n, nmax, x, L, rmse_type 1, qw) in every lane, weights `w`
/// (x*x where the reference's qw is NULL). `L` gets l + nmax as floats.
GS_TARGET __attribute__((always_inline)) static inline vf qx_lanes(int n, int nmax, const vf *x, const vf *w, vf *L) {
    vf wx[32];
    vf amax, max;
    signed_absolute_maximum(x, n, &amax, &max);
    vm allZero = vf_lt(amax, vf_set1(GS_GROUP_MAX_EPS));
    const vf zero = vf_set1(0);
    vf iscale = vf_div(vf_set1((float)-nmax), max);
    vf sumlx = zero, suml2 = zero;
    for (int i = 0; i < n; i++) {
        wx[i] = vf_mul(w[i], x[i]);
        vf l = nearest_clamped(vf_mul(iscale, x[i]), -nmax, nmax - 1);
        sumlx = vf_add(sumlx, vf_mul(wx[i], l));
        suml2 = vf_add(suml2, vf_mul(vf_mul(w[i], l), l));
    }
    vf scale = vf_sel(vf_eq(suml2, zero), zero, vf_div(sumlx, suml2));
    vf best = vf_mul(scale, sumlx);
    // As in qkx2_lanes, the quants come from the best iscale at the end.
    vf bestIscale = iscale;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = vf_div(vf_set1(-((float)nmax + 0.1f * (float)step)), max);
        sumlx = suml2 = zero;
        for (int i = 0; i < n; i++) {
            vf l = nearest_clamped(vf_mul(iscale, x[i]), -nmax, nmax - 1);
            sumlx = vf_add(sumlx, vf_mul(wx[i], l));
            suml2 = vf_add(suml2, vf_mul(vf_mul(w[i], l), l));
        }
        vm better = vm_andnot(vm_and(vf_gt(suml2, zero), vf_gt(vf_mul(sumlx, sumlx), vf_mul(best, suml2))), allZero);
        if (vm_none(better)) continue;
        bestIscale = vf_sel(better, iscale, bestIscale);
        scale = vf_sel(better, vf_div(sumlx, suml2), scale);
        best = vf_sel(better, vf_mul(scale, sumlx), best);
    }
    const vf offset = vf_set1((float)nmax);
    for (int i = 0; i < n; i++) {
        L[i] = vf_sel(allZero, zero, vf_add(nearest_clamped(vf_mul(bestIscale, x[i]), -nmax, nmax - 1), offset));
    }
    return vf_sel(allZero, zero, scale);
}

// MARK: make_q3_quants

/// make_q3_quants(n, nmax, x, L, do_rmse true) in every lane: a symmetric
/// scale refined by moving single quants, weights x*x. Each lane stops
/// after the first of its five rounds that changes nothing, as the
/// reference's loop does. `L` gets l + nmax as floats.
GS_TARGET static inline vf q3_lanes(int n, int nmax, const vf *x, vf *L) {
    vf w[16], wx[16];
    vf amax, max;
    signed_absolute_maximum(x, n, &amax, &max);
    vm allZero = vf_lt(amax, vf_set1(GS_GROUP_MAX_EPS));
    const vf zero = vf_set1(0);
    vf iscale = vf_div(vf_set1((float)-nmax), max);
    vf sumlx = zero, suml2 = zero;
    for (int i = 0; i < n; i++) {
        w[i] = vf_mul(x[i], x[i]);
        wx[i] = vf_mul(w[i], x[i]);
        vf l = nearest_clamped(vf_mul(iscale, x[i]), -nmax, nmax - 1);
        L[i] = l;
        sumlx = vf_add(sumlx, vf_mul(wx[i], l));
        suml2 = vf_add(suml2, vf_mul(vf_mul(w[i], l), l));
    }
    vm active = vm_andnot(vf_eq(zero, zero), allZero);
    for (int round = 0; round < 5 && !vm_none(active); round++) {
        vm changed = vm_andnot(active, active);
        for (int i = 0; i < n; i++) {
            vf slx = vf_sub(sumlx, vf_mul(wx[i], L[i]));
            vm positive = vf_gt(slx, zero);
            vf sl2 = vf_sub(suml2, vf_mul(vf_mul(w[i], L[i]), L[i]));
            vf newL = nearest_clamped(vf_div(vf_mul(x[i], sl2), slx), -nmax, nmax - 1);
            vm moved = vm_andnot(vm_and(active, positive), vf_eq(newL, L[i]));
            if (vm_none(moved)) continue;
            slx = vf_add(slx, vf_mul(wx[i], newL));
            sl2 = vf_add(sl2, vf_mul(vf_mul(w[i], newL), newL));
            vm gain = vm_and(vf_gt(sl2, zero),
                             vf_gt(vf_mul(vf_mul(slx, slx), suml2), vf_mul(vf_mul(sumlx, sumlx), sl2)));
            vm taken = vm_and(moved, gain);
            L[i] = vf_sel(taken, newL, L[i]);
            sumlx = vf_sel(taken, slx, sumlx);
            suml2 = vf_sel(taken, sl2, suml2);
            changed = vm_or(changed, taken);
        }
        active = vm_and(active, changed);
    }
    const vf offset = vf_set1((float)nmax);
    for (int i = 0; i < n; i++) L[i] = vf_sel(allZero, zero, vf_add(L[i], offset));
    vf scale = vf_sel(vf_gt(suml2, zero), vf_div(sumlx, suml2), zero);
    return vf_sel(allZero, zero, scale);
}

// MARK: Scalar searches over a block's sub-block scales

/// make_qp_quants(n, nmax, x, L, quant_weights), as the reference.
GS_TARGET static float make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; i++) max = max > x[i] ? max : x[i];
    if (max < GS_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)nearest_int_1(iscale * x[i]);
    float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        float iscale_is = (0.1f * is + nmax) / max;
        float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int_1(iscale_is * x[i]);
            l = l < nmax ? l : nmax;
            float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int_1(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        sumlx += qw[i] * x[i] * l;
        suml2 += qw[i] * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = nearest_int_1(x[i] * sl2 / slx);
                new_l = new_l < nmax ? new_l : nmax;
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/// make_qx_quants(n, nmax, x, L, rmse_type 1, qw) for one group (Q3_K's
/// scale of scales, n = 16), as the reference; L gets l + nmax.
GS_TARGET static float make_qx_quants_1(int n, int nmax, const float *x, int8_t *L, const float *qw) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) { amax = ax; max = x[i]; }
    }
    if (amax < GS_GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int_1(iscale * x[i]);
        l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
        L[i] = (int8_t)(l + nmax);
        float w = qw[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int_1(iscale * x[i]);
            l = l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l);
            float w = qw[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int_1(iscale * x[i]);
                L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : (l > nmax - 1 ? nmax - 1 : l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

// MARK: Requantizing from the stored scales

/// The last step of the K-quants in every lane: the quants computed again
/// from the stored sub-block scale `d` (and offset `m`: x + m) of each lane,
/// MAX(lo, MIN(hi, nearest_int((x + m) / d))) + offset, except in lanes
/// whose d is zero, which keep the search's quants.
GS_TARGET static inline void requantize(const vf *xt, int n, const float *d, const float *m, int lo, int hi, int offset, vf *L) {
    const vf dv = vf_load(d), zero = vf_set1(0), shift = vf_set1((float)offset);
    const vf mv = m ? vf_load(m) : zero;
    vm keep = vf_eq(dv, zero);
    for (int i = 0; i < n; i++) {
        vf scaled = m ? vf_div(vf_add(xt[i], mv), dv) : vf_div(xt[i], dv);
        L[i] = vf_sel(keep, L[i], vf_add(nearest_clamped(scaled, lo, hi), shift));
    }
}

/// Byte j/4 + l of each 128-quant half holds quants l, l+32, l+64, l+96.
GS_TARGET static inline void pack_two_bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; l++) {
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }
}

// MARK: Q2_K (blocks: scales[16] | qs[64] | d | dmin)

/// quantize_row_q2_K_ref for GS_LANES / 16 blocks (16 sub-blocks of 16
/// each, one per lane), or quantize_row_q2_K_impl with importance `qw`.
GS_TARGET static void q2_k_blocks(const float *x, const float *qw, uint8_t *y) {
    enum { blocks = GS_LANES / 16 };
    vf xt[16], wt[16], Lt[16], theMin, scale;
    float scales[GS_LANES] __attribute__((aligned(64))), mins[GS_LANES] __attribute__((aligned(64)));
    float d[GS_LANES] __attribute__((aligned(64))), m[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[256 * blocks];
    to_lanes(x, 16, xt);
    if (qw) {
        float sw[GS_LANES] __attribute__((aligned(64)));
        vf_store(sw, importance_weights(xt, qw, 16, block_sigma2(x, 256, 16, 1, 0), wt));
        scale = qkx2_lanes(16, 3, xt, wt, Lt, -0.9f, 0.05f, 36, 0, &theMin);
        vf_store(scales, scale);
        vf_store(mins, theMin);
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + 84 * b, Ls[16], Lm[16];
            store_half(block + 80, make_qp_quants(16, 15, scales + 16 * b, Ls, sw + 16 * b));
            store_half(block + 82, make_qp_quants(16, 15, mins + 16 * b, Lm, sw + 16 * b));
            for (int j = 0; j < 16; j++) block[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
        }
    } else {
        for (int i = 0; i < 16; i++) wt[i] = vf_abs(xt[i]);
        scale = qkx2_lanes(16, 3, xt, wt, Lt, -0.5f, 0.1f, 15, 1, &theMin);
        vf_store(scales, scale);
        vf_store(mins, theMin);
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + 84 * b;
            const float *s = scales + 16 * b, *mn = mins + 16 * b;
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 16; j++) {
                if (s[j] > maxScale) maxScale = s[j];
                if (mn[j] > maxMin) maxMin = mn[j];
            }
            const float q4scale = 15.f;
            if (maxScale > 0) {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < 16; j++) block[j] = (uint8_t)nearest_int_1(iscale * s[j]);
                store_half(block + 80, maxScale / q4scale);
            } else {
                for (int j = 0; j < 16; j++) block[j] = 0;
                store_half(block + 80, 0.f);
            }
            if (maxMin > 0) {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < 16; j++) block[j] |= (uint8_t)(nearest_int_1(iscale * mn[j]) << 4);
                store_half(block + 82, maxMin / q4scale);
            } else {
                store_half(block + 82, 0.f);
            }
        }
    }
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = y + 84 * b;
        float dAll = load_half(block + 80), dminAll = load_half(block + 82);
        for (int j = 0; j < 16; j++) {
            d[16 * b + j] = dAll * (float)(block[j] & 0xF);
            m[16 * b + j] = dminAll * (float)(block[j] >> 4);
        }
    }
    requantize(xt, 16, d, m, 0, 3, 0, Lt);
    from_lanes(Lt, 16, L);
    for (int b = 0; b < blocks; b++) pack_two_bit(L + 256 * b, y + 84 * b + 16);
}

// MARK: Q3_K (blocks: hmask[32] | qs[64] | scales[12] | d)

/// The scale of sub-block j from a Q3_K block's 12 scale bytes, as stored (-32...31).
GS_TARGET static inline int q3_k_scale(const uint8_t *sc, int j) {
    int low = j < 8 ? sc[j] & 0xF : sc[j - 8] >> 4;
    return (int8_t)(low | (((sc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/// The 16 six-bit scales `l` (0...63, the stored form) into scales[12].
GS_TARGET static inline void pack_q3_k_scales(const int *l, uint8_t *sc) {
    memset(sc, 0, 12);
    for (int j = 0; j < 16; j++) {
        int v = l[j];
        if (j < 8) {
            sc[j] = (uint8_t)(v & 0xF);
        } else {
            sc[j - 8] |= (uint8_t)((v & 0xF) << 4);
        }
        v >>= 4;
        sc[j % 4 + 8] |= (uint8_t)(v << (2 * (j / 4)));
    }
}

/// quantize_row_q3_K_ref for GS_LANES / 16 blocks, or quantize_row_q3_K_impl with `qw`.
GS_TARGET static void q3_k_blocks(const float *x, const float *qw, uint8_t *y) {
    enum { blocks = GS_LANES / 16 };
    vf xt[16], Lt[16];
    float scales[GS_LANES] __attribute__((aligned(64))), d[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[256 * blocks];
    to_lanes(x, 16, xt);
    if (qw) {
        vf wt[16];
        float sw[GS_LANES] __attribute__((aligned(64)));
        vf_store(sw, importance_weights(xt, qw, 16, block_sigma2(x, 256, 16, 2, 0), wt));
        vf_store(scales, qx_lanes(16, 4, xt, wt, Lt));
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + 110 * b;
            int8_t Ls[16];
            int levels[16];
            float dBlock = make_qx_quants_1(16, 32, scales + 16 * b, Ls, sw + 16 * b);
            for (int j = 0; j < 16; j++) levels[j] = Ls[j];
            pack_q3_k_scales(levels, block + 96);
            store_half(block + 108, dBlock);
        }
    } else {
        vf_store(scales, q3_lanes(16, 4, xt, Lt));
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + 110 * b;
            const float *s = scales + 16 * b;
            float maxScale = 0, amax = 0;
            for (int j = 0; j < 16; j++) {
                float scale = fabsf(s[j]);
                if (scale > amax) {
                    amax = scale;
                    maxScale = s[j];
                }
            }
            if (maxScale != 0) {
                float iscale = -32.f / maxScale;
                int levels[16];
                for (int j = 0; j < 16; j++) {
                    int8_t l = (int8_t)nearest_int_1(iscale * s[j]);
                    levels[j] = (l < -32 ? -32 : (l > 31 ? 31 : l)) + 32;
                }
                pack_q3_k_scales(levels, block + 96);
                store_half(block + 108, 1 / iscale);
            } else {
                memset(block + 96, 0, 12);
                store_half(block + 108, 0.f);
            }
        }
    }
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = y + 110 * b;
        float dAll = load_half(block + 108);
        for (int j = 0; j < 16; j++) d[16 * b + j] = dAll * (float)q3_k_scale(block + 96, j);
    }
    requantize(xt, 16, d, NULL, -4, 3, 4, Lt);
    from_lanes(Lt, 16, L);
    for (int b = 0; b < blocks; b++) {
        uint8_t *block = y + 110 * b, *Lb = L + 256 * b;
        memset(block, 0, 32);
        int m = 0;
        uint8_t hm = 1;
        for (int j = 0; j < 256; j++) {
            if (Lb[j] > 3) {
                block[m] |= hm;
                Lb[j] -= 4;
            }
            if (++m == 32) {
                m = 0;
                hm <<= 1;
            }
        }
        pack_two_bit(Lb, block + 32);
    }
}

// MARK: Q4_K and Q5_K (blocks: d | dmin | scales[12] | (qh[32] |) qs)

/// The 6-bit scales and mins of 8 sub-blocks into scales[12].
GS_TARGET static inline void pack_k4_scales(const uint8_t *ls, const uint8_t *lm, uint8_t *sc) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = ls[j];
            sc[j + 4] = lm[j];
        } else {
            sc[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            sc[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            sc[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/// The quants of one block into its bytes: Q4_K nibbles, or Q5_K's low
/// nibbles and high bits.
GS_TARGET static inline void pack_q4_k_or_q5_k(const uint8_t *L, uint8_t *y, int nmax) {
    if (nmax == 15) {
        uint8_t *q = y + 16;
        for (int j = 0; j < 256; j += 64) {
            for (int l = 0; l < 32; l++) q[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
        }
        return;
    }
    uint8_t *qh = y + 16, *ql = y + 48;
    memset(qh, 0, 32);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < 256; n += 64) {
        for (int j = 0; j < 32; j++) {
            int l1 = L[n + j];
            if (l1 > 15) {
                l1 -= 16;
                qh[j] |= m1;
            }
            int l2 = L[n + j + 32];
            if (l2 > 15) {
                l2 -= 16;
                qh[j] |= m2;
            }
            ql[n / 2 + j] = (uint8_t)(l1 | (l2 << 4));
        }
        m1 <<= 2;
        m2 <<= 2;
    }
}

/// quantize_row_q4_K_ref / quantize_row_q5_K_ref (nmax 15 / 31) for
/// GS_LANES / 8 blocks (8 sub-blocks of 32 each, one per lane), or the
/// _impl quantizers with importance `qw` (the blocks' columns, consecutive).
GS_TARGET static void q4_k_or_q5_k_blocks(const float *x, const float *qw, uint8_t *y, int nmax, size_t blockBytes) {
    enum { blocks = GS_LANES / 8 };
    vf xt[32], wt[32], Lt[32], theMin, scale;
    float scales[GS_LANES] __attribute__((aligned(64))), mins[GS_LANES] __attribute__((aligned(64)));
    float d[GS_LANES] __attribute__((aligned(64))), m[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[256 * blocks];
    to_lanes(x, 32, xt);
    if (qw) {
        float sw[GS_LANES] __attribute__((aligned(64)));
        vf_store(sw, importance_weights(xt, qw, 32, block_sigma2(x, 256, 8, 2, 0), wt));
        scale = qkx2_lanes(32, nmax, xt, wt, Lt, -0.9f, 0.05f, 36, 0, &theMin);
        vf_store(scales, scale);
        vf_store(mins, theMin);
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + blockBytes * b, Ls[8], Lm[8];
            float dBlock = make_qp_quants(8, 63, scales + 8 * b, Ls, sw + 8 * b);
            float mBlock = make_qp_quants(8, 63, mins + 8 * b, Lm, sw + 8 * b);
            if (nmax == 31) {
                // Q5_K clamps the 6-bit scales and mins; Q4_K stores them as they come.
                for (int j = 0; j < 8; j++) {
                    Ls[j] = Ls[j] < 63 ? Ls[j] : 63;
                    Lm[j] = Lm[j] < 63 ? Lm[j] : 63;
                }
            }
            pack_k4_scales(Ls, Lm, block + 4);
            store_half(block, dBlock);
            store_half(block + 2, mBlock);
        }
    } else {
        vf sumX2 = vf_set1(0);
        for (int l = 0; l < 32; l++) sumX2 = vf_add(sumX2, vf_mul(xt[l], xt[l]));
        vf averageX = vf_sqrt(vf_div(sumX2, vf_set1(32)));
        for (int l = 0; l < 32; l++) wt[l] = vf_add(averageX, vf_abs(xt[l]));
        if (nmax == 15) {
            scale = qkx2_lanes(32, 15, xt, wt, Lt, -1.f, 0.1f, 20, 0, &theMin);
        } else {
            scale = qkx2_lanes(32, 31, xt, wt, Lt, -0.5f, 0.1f, 15, 0, &theMin);
        }
        vf_store(scales, scale);
        vf_store(mins, theMin);
        for (int b = 0; b < blocks; b++) {
            uint8_t *block = y + blockBytes * b;
            const float *s = scales + 8 * b, *mn = mins + 8 * b;
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++) {
                if (s[j] > maxScale) maxScale = s[j];
                if (mn[j] > maxMin) maxMin = mn[j];
            }
            float inverseScale = maxScale > 0 ? 63.f / maxScale : 0.f;
            float inverseMin = maxMin > 0 ? 63.f / maxMin : 0.f;
            uint8_t ls[8], lm[8];
            for (int j = 0; j < 8; j++) {
                uint8_t a = (uint8_t)nearest_int_1(inverseScale * s[j]);
                uint8_t c = (uint8_t)nearest_int_1(inverseMin * mn[j]);
                ls[j] = a < 63 ? a : 63;
                lm[j] = c < 63 ? c : 63;
            }
            pack_k4_scales(ls, lm, block + 4);
            store_half(block, maxScale / 63.f);
            store_half(block + 2, maxMin / 63.f);
        }
    }
    for (int b = 0; b < blocks; b++) {
        const uint8_t *block = y + blockBytes * b, *sc = block + 4;
        float dAll = load_half(block), dminAll = load_half(block + 2);
        for (int j = 0; j < 8; j++) {
            int s, mn;
            if (j < 4) {
                s = sc[j] & 63;
                mn = sc[j + 4] & 63;
            } else {
                s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
                mn = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
            }
            d[8 * b + j] = dAll * (float)s;
            m[8 * b + j] = dminAll * (float)mn;
        }
    }
    requantize(xt, 32, d, m, 0, nmax, 0, Lt);
    from_lanes(Lt, 32, L);
    for (int b = 0; b < blocks; b++) pack_q4_k_or_q5_k(L + 256 * b, y + blockBytes * b, nmax);
}

// MARK: Q6_K (blocks: ql[128] | qh[64] | scales[16] | d)

/// quantize_row_q6_K_ref for GS_LANES / 16 blocks (16 sub-blocks of 16
/// each), or quantize_row_q6_K_impl, whose searches weigh by `qw` itself.
GS_TARGET static void q6_k_blocks(const float *x, const float *qw, uint8_t *y) {
    enum { blocks = GS_LANES / 16 };
    vf xt[16], wt[16], Lt[16];
    float scales[GS_LANES] __attribute__((aligned(64))), d[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[256 * blocks];
    int zero[blocks];
    to_lanes(x, 16, xt);
    if (qw) {
        to_lanes(qw, 16, wt);
    } else {
        for (int i = 0; i < 16; i++) wt[i] = vf_mul(xt[i], xt[i]);
    }
    vf_store(scales, qx_lanes(16, 32, xt, wt, Lt));
    for (int b = 0; b < blocks; b++) {
        uint8_t *block = y + 210 * b;
        const float *s = scales + 16 * b;
        float maxScale = 0, maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float absScale = fabsf(s[ib]);
            if (absScale > maxAbsScale) {
                maxAbsScale = absScale;
                maxScale = s[ib];
            }
        }
        zero[b] = maxAbsScale < GS_GROUP_MAX_EPS;
        if (zero[b]) {
            for (int j = 0; j < 16; j++) d[16 * b + j] = 0;
            continue;
        }
        float iscale = -128.f / maxScale;
        store_half(block + 208, 1 / iscale);
        int8_t *sc = (int8_t *)(block + 192);
        for (int ib = 0; ib < 16; ib++) {
            int l = nearest_int_1(iscale * s[ib]);
            sc[ib] = (int8_t)(l < 127 ? l : 127);
        }
        float dAll = load_half(block + 208);
        for (int j = 0; j < 16; j++) d[16 * b + j] = dAll * (float)sc[j];
    }
    requantize(xt, 16, d, NULL, -32, 31, 32, Lt);
    from_lanes(Lt, 16, L);
    for (int b = 0; b < blocks; b++) {
        uint8_t *block = y + 210 * b;
        if (zero[b]) {
            memset(block, 0, 210);
            continue;
        }
        for (int half = 0; half < 2; half++) {
            const uint8_t *Lh = L + 256 * b + 128 * half;
            uint8_t *ql = block + 64 * half, *qh = block + 128 + 32 * half;
            for (int l = 0; l < 32; l++) {
                uint8_t a = Lh[l], c2 = Lh[l + 32], c = Lh[l + 64], e = Lh[l + 96];
                ql[l] = (uint8_t)((a & 0xF) | ((c & 0xF) << 4));
                ql[l + 32] = (uint8_t)((c2 & 0xF) | ((e & 0xF) << 4));
                qh[l] = (uint8_t)((a >> 4) | ((c2 >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}

// MARK: IQ4_NL and IQ4_XS

static const float iq4_values[16] __attribute__((aligned(64))) = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
/// iq4_values[k + 1] at k (the last repeated).
static const float iq4_next_values[16] __attribute__((aligned(64))) = {
    -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113, 113};

/// best_index_int8(16, kvalues_iq4nl, v) in each lane, and the table value
/// at it. The reference returns 0 at or below the first value, 15 at or
/// above the last, otherwise the pair its bisection finds, values[k] <= v <
/// values[k + 1], and the nearer of the two, the upper one on ties
/// (`v - values[k] < values[k + 1] - v ? k : k + 1`); NaN ends at 15. Here
/// k is the largest index in 0...14 with values[k] <= v (0 if none): that
/// pair and that tie rule then give 0 and 15 at the ends too. `next` holds
/// values[k + 1] at k. After the first halving every lookup stays in the
/// lane's half of the table (`upperHalf`), which AVX2 needs to know.
GS_TARGET static inline vi iq4_index(vf v, vtab table, vtab next, vf *value) {
    // The first two halvings compare with constants (values[8], then values[4] or values[12]).
    vm upperHalf = vf_ge(v, vf_set1(iq4_values[8]));
    vi k = vi_sel(upperHalf, vi_set1(8), vi_set1(0));
    vf quarter = vf_sel(upperHalf, vf_set1(iq4_values[12]), vf_set1(iq4_values[4]));
    k = vi_sel(vf_le(quarter, v), vi_add(k, vi_set1(4)), k);
    for (int step = 2; step >= 1; step >>= 1) {
        vi candidate = vi_add(k, vi_set1(step));
        k = vi_sel(vf_le(vtab_lookup(table, candidate, upperHalf), v), candidate, k);
    }
    k = vi_min(k, vi_set1(14));
    vf low = vtab_lookup(table, k, upperHalf), high = vtab_lookup(next, k, upperHalf);
    vm lower = vf_lt(vf_sub(v, low), vf_sub(high, v));
    vm nan = vf_unordered(v, v);
    *value = vf_sel(nan, vf_set1(iq4_values[15]), vf_sel(lower, low, high));
    return vi_sel(nan, vi_set1(15), vi_sel(lower, k, vi_add(k, vi_set1(1))));
}

/// The loop body over sub-blocks of quantize_row_iq4_nl_impl with ntry 7,
/// in every lane: the sub-block's scale (0 for an all-zero one).
GS_TARGET static inline vf iq4_scale_lanes(const vf *x, const vf *w) {
    const vtab table = vtab_load(iq4_values), next = vtab_load(iq4_next_values);
    const vf zero = vf_set1(0);
    vf amax, max, q;
    signed_absolute_maximum(x, 32, &amax, &max);
    vm allZero = vf_lt(amax, vf_set1(GS_GROUP_MAX_EPS));
    vf d = vf_div(vf_neg(max), vf_set1(iq4_values[0]));
    vf id = vf_div(vf_set1(1), d);
    vf sumqx = zero, sumq2 = zero;
    for (int j = 0; j < 32; j++) {
        (void)iq4_index(vf_mul(id, x[j]), table, next, &q);
        vf wq = vf_mul(w[j], q);
        sumqx = vf_add(sumqx, vf_mul(wq, x[j]));
        sumq2 = vf_add(sumq2, vf_mul(wq, q));
    }
    d = vf_sel(vf_gt(sumq2, zero), vf_div(sumqx, sumq2), zero);
    vf best = vf_mul(d, sumqx);
    for (int itry = -7; itry <= 7; itry++) {
        id = vf_div(vf_set1((float)(itry + (int)iq4_values[0])), max);
        sumqx = sumq2 = zero;
        for (int j = 0; j < 32; j++) {
            (void)iq4_index(vf_mul(id, x[j]), table, next, &q);
            vf wq = vf_mul(w[j], q);
            sumqx = vf_add(sumqx, vf_mul(wq, x[j]));
            sumq2 = vf_add(sumq2, vf_mul(wq, q));
        }
        vm better = vm_and(vf_gt(sumq2, zero), vf_gt(vf_mul(sumqx, sumqx), vf_mul(best, sumq2)));
        d = vf_sel(better, vf_div(sumqx, sumq2), d);
        best = vf_sel(better, vf_mul(d, sumqx), best);
    }
    return vf_sel(allZero, zero, d);
}

/// The table indices of every lane's 32 values scaled by its `id`, in
/// sub-block order (L[32 * lane + j]).
GS_TARGET static inline void iq4_indices(const vf *xt, const float *id, uint8_t *L) {
    const vtab table = vtab_load(iq4_values), next = vtab_load(iq4_next_values);
    const vf scale = vf_load(id);
    vf indices[32], value;
    for (int j = 0; j < 32; j++) indices[j] = vi_to_vf(iq4_index(vf_mul(scale, xt[j]), table, next, &value));
    from_lanes(indices, 32, L);
}

/// 32 indices packed two to a byte as IQ4 stores them.
GS_TARGET static inline void iq4_pack(const uint8_t *L, uint8_t *q) {
    for (int j = 0; j < 16; j++) q[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

/// Sub-block weights: x*x, or qw * sqrt(sigma2 + x*x) with importance.
GS_TARGET static inline void iq4_weights(const vf *xt, const float *qw, const float *x, int size, int perBlock, vf *wt) {
    if (qw) {
        (void)importance_weights(xt, qw, 32, block_sigma2(x, size, perBlock, 2, 1), wt);
    } else {
        for (int i = 0; i < 32; i++) wt[i] = vf_mul(xt[i], xt[i]);
    }
}

/// quantize_iq4_nl for GS_LANES blocks of 32 (one per lane), with or
/// without importance (each block's sigma2: twice its own mean square).
GS_TARGET static void iq4_nl_blocks(const float *x, const float *qw, uint8_t *y) {
    vf xt[32], wt[32];
    float scales[GS_LANES] __attribute__((aligned(64))), id[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[32 * GS_LANES];
    to_lanes(x, 32, xt);
    iq4_weights(xt, qw, x, 32, 1, wt);
    vf_store(scales, iq4_scale_lanes(xt, wt));
    for (int b = 0; b < GS_LANES; b++) id[b] = scales[b] != 0 ? 1 / scales[b] : 0.f;
    iq4_indices(xt, id, L);
    for (int b = 0; b < GS_LANES; b++) {
        store_half(y + 18 * b, scales[b]);
        iq4_pack(L + 32 * b, y + 18 * b + 2);
    }
}

/// quantize_iq4_xs for GS_LANES / 8 blocks of 256 (8 sub-blocks each in
/// the lanes), with or without importance (sigma2: twice the block's mean square).
GS_TARGET static void iq4_xs_blocks(const float *x, const float *qw, uint8_t *y) {
    enum { blocks = GS_LANES / 8 };
    vf xt[32], wt[32];
    float scales[GS_LANES] __attribute__((aligned(64))), idl[GS_LANES] __attribute__((aligned(64)));
    uint8_t L[32 * GS_LANES];
    to_lanes(x, 32, xt);
    iq4_weights(xt, qw, x, 256, 8, wt);
    vf_store(scales, iq4_scale_lanes(xt, wt));
    for (int b = 0; b < blocks; b++) {
        uint8_t *block = y + 136 * b;
        const float *s = scales + 8 * b;
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < 8; ib++) {
            if (fabsf(s[ib]) > amaxScale) {
                amaxScale = fabsf(s[ib]);
                maxScale = s[ib];
            }
        }
        float d = -maxScale / 32;
        store_half(block, d);
        float id = d != 0 ? 1 / d : 0.f;
        uint16_t scalesHigh = 0;
        uint8_t scalesLow[4] = {0, 0, 0, 0};
        for (int ib = 0; ib < 8; ib++) {
            int l = nearest_int_1(id * s[ib]);
            l = l < -32 ? -32 : (l > 31 ? 31 : l);
            float dl = d * (float)l;
            idl[8 * b + ib] = dl != 0 ? 1 / dl : 0.f;
            uint8_t ls = (uint8_t)(l + 32);
            scalesLow[ib / 2] |= (uint8_t)((ls & 0xF) << (4 * (ib % 2)));
            scalesHigh |= (uint16_t)((ls >> 4) << (2 * ib));
        }
        memcpy(block + 2, &scalesHigh, 2);
        memcpy(block + 4, scalesLow, 4);
    }
    iq4_indices(xt, idl, L);
    for (int b = 0; b < blocks; b++) {
        for (int ib = 0; ib < 8; ib++) iq4_pack(L + 256 * b + 32 * ib, y + 136 * b + 8 + 16 * ib);
    }
}

// MARK: Entry

/// Whether all `count` values are finite.
GS_TARGET static int all_finite(const float *x, size_t count) {
    uint32_t bad = 0;
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, x + i, 4);
        bad |= (bits & 0x7FFFFFFF) >= 0x7F800000;
    }
    return !bad;
}

/// Quantizes up to `blocks` blocks of `type` (GS_Q2_K ... GS_IQ4_XS) from
/// `x` into `y`, with importance `qw` (the first block's columns, the next
/// block's following them) or without (NULL). Stops before the first block
/// holding a NaN or an infinity, whose bytes rest on the reference's scalar
/// order of comparisons; returns how many blocks it wrote.
GS_TARGET size_t GS_ENTRY(int type, const float *x, const float *qw, void *destination, size_t blocks) {
    uint8_t *y = destination;
    size_t size, bytes, group;
    switch (type) {
    case GS_Q2_K: size = 256; bytes = 84; group = GS_LANES / 16; break;
    case GS_Q3_K: size = 256; bytes = 110; group = GS_LANES / 16; break;
    case GS_Q4_K: size = 256; bytes = 144; group = GS_LANES / 8; break;
    case GS_Q5_K: size = 256; bytes = 176; group = GS_LANES / 8; break;
    case GS_Q6_K: size = 256; bytes = 210; group = GS_LANES / 16; break;
    case GS_IQ4_NL: size = 32; bytes = 18; group = GS_LANES; break;
    case GS_IQ4_XS: size = 256; bytes = 136; group = GS_LANES / 8; break;
    default: return 0;
    }
    // A group holds the lanes' sub-blocks: at most 32 * GS_LANES floats and
    // GS_LANES / 8 blocks of at most 210 bytes (IQ4_NL: GS_LANES of 18).
    float paddedX[32 * GS_LANES] __attribute__((aligned(64)));
    float paddedW[32 * GS_LANES] __attribute__((aligned(64)));
    uint8_t paddedY[GS_LANES / 8 * 210 > 18 * GS_LANES ? GS_LANES / 8 * 210 : 18 * GS_LANES];
    size_t done = 0;
    while (done < blocks) {
        size_t count = blocks - done < group ? blocks - done : group;
        const float *xs = x + done * size;
        const float *ws = qw ? qw + done * size : NULL;
        // Stop at a non-finite block; quantize the finite ones before it.
        size_t finite = 0;
        while (finite < count && all_finite(xs + finite * size, size)) finite++;
        if (finite == 0) return done;
        // A short group runs padded with copies of its last block.
        int padded = finite < group;
        if (padded) {
            for (size_t b = 0; b < group; b++) {
                size_t source = b < finite ? b : finite - 1;
                memcpy(paddedX + b * size, xs + source * size, size * 4);
                if (ws) memcpy(paddedW + b * size, ws + source * size, size * 4);
            }
            xs = paddedX;
            if (ws) ws = paddedW;
        }
        uint8_t *ys = padded ? paddedY : y + done * bytes;
        switch (type) {
        case GS_Q2_K: q2_k_blocks(xs, ws, ys); break;
        case GS_Q3_K: q3_k_blocks(xs, ws, ys); break;
        case GS_Q4_K: q4_k_or_q5_k_blocks(xs, ws, ys, 15, bytes); break;
        case GS_Q5_K: q4_k_or_q5_k_blocks(xs, ws, ys, 31, bytes); break;
        case GS_Q6_K: q6_k_blocks(xs, ws, ys); break;
        case GS_IQ4_NL: iq4_nl_blocks(xs, ws, ys); break;
        case GS_IQ4_XS: iq4_xs_blocks(xs, ws, ys); break;
        }
        if (padded) memcpy(y + done * bytes, paddedY, finite * bytes);
        done += finite;
        if (finite < count) return done;
    }
    return done;
}
