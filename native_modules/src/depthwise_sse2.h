/* x86-64 depthwise taps with SSE2 (see dot_sse2.h for why the sums are exact): eight channels
   at a time, the taps taken in pairs so PMADDWD sums tap a and tap b of each channel: bytes of
   the two taps are interleaved, widened to int16 pairs (x_a + offset, x_b + offset) and
   (f_a, f_b). An odd last tap pairs with a zero weight. Included by depthwise.c only. */
#ifndef TK_DEPTHWISE_SSE2_H
#define TK_DEPTHWISE_SSE2_H
#include "kernels.h"
#include "requant.h"
#include "dot_sse2.h"

/* a window of taps: ny rows of nx, byte steps between taps of the input and of the filter */
typedef struct {
    int ny, nx;
    int x_step_y, x_step_x, f_step_y, f_step_x;
} tk_dw_taps_t;

/* walks the taps of a window in row order */
typedef struct {
    const int8_t *x, *f, *xr, *fr;
    int t;
} tk_dw_iter_t;

static inline void tk_dw_next(tk_dw_iter_t *it, const tk_dw_taps_t *g) {
    it->x += g->x_step_x;
    it->f += g->f_step_x;
    if (++it->t == g->nx) {
        it->t = 0;
        it->xr += g->x_step_y;
        it->fr += g->f_step_y;
        it->x = it->xr;
        it->f = it->fr;
    }
}

/* s[0] (channels 0..3), s[1] (4..7) += x_a * f_a + x_b * f_b; xv, fv: the taps' bytes
   interleaved (a0, b0, a1, b1, ...), off: the input offset in every int16 */
static inline void tk_dw_pair8(__m128i *s, __m128i xv, __m128i fv, __m128i off) {
    __m128i xlo = _mm_add_epi16(_mm_srai_epi16(_mm_unpacklo_epi8(xv, xv), 8), off);
    __m128i xhi = _mm_add_epi16(_mm_srai_epi16(_mm_unpackhi_epi8(xv, xv), 8), off);
    __m128i flo = _mm_srai_epi16(_mm_unpacklo_epi8(fv, fv), 8);
    __m128i fhi = _mm_srai_epi16(_mm_unpackhi_epi8(fv, fv), 8);
    s[0] = _mm_add_epi32(s[0], _mm_madd_epi16(xlo, flo));
    s[1] = _mm_add_epi32(s[1], _mm_madd_epi16(xhi, fhi));
}

static inline __m128i tk_ld8_sse2(const int8_t *p) {
    return _mm_loadl_epi64((const __m128i *)p);
}

/* acc[0..8) += taps of channels 0..7 (x, f: first tap, channel 0); depth multiplier 1 */
static inline void tk_dw_taps8_sse2(int32_t *acc, const int8_t *x, const int8_t *f,
                                    const tk_dw_taps_t *g, int32_t in_offset) {
    __m128i off = _mm_set1_epi16((int16_t)in_offset), s[2];
    s[0] = s[1] = _mm_setzero_si128();
    tk_dw_iter_t it = {x, f, x, f, 0};
    int n = g->ny * g->nx;
    for (; n >= 2; n -= 2) {
        __m128i xa = tk_ld8_sse2(it.x), fa = tk_ld8_sse2(it.f);
        tk_dw_next(&it, g);
        __m128i xb = tk_ld8_sse2(it.x), fb = tk_ld8_sse2(it.f);
        tk_dw_next(&it, g);
        tk_dw_pair8(s, _mm_unpacklo_epi8(xa, xb), _mm_unpacklo_epi8(fa, fb), off);
    }
    if (n) {
        __m128i xa = tk_ld8_sse2(it.x), fa = tk_ld8_sse2(it.f), z = _mm_setzero_si128();
        tk_dw_pair8(s, _mm_unpacklo_epi8(xa, xa), _mm_unpacklo_epi8(fa, z), off);
    }
    tk_acc4_sse2(acc, s[0]);
    tk_acc4_sse2(acc + 4, s[1]);
}

/* the same for eight output channels that read one input channel (depth multiplier a
   multiple of 8): x is that channel's byte at each tap */
static inline void tk_dw_bcast8_sse2(int32_t *acc, const int8_t *x, const int8_t *f,
                                     const tk_dw_taps_t *g, int32_t in_offset) {
    __m128i s[2], z = _mm_setzero_si128();
    s[0] = s[1] = z;
    tk_dw_iter_t it = {x, f, x, f, 0};
    int n = g->ny * g->nx;
    for (; n > 0; n -= 2) {
        uint32_t xa = (uint16_t)(*it.x + in_offset);
        __m128i fa = tk_ld8_sse2(it.f), fb = z;
        tk_dw_next(&it, g);
        uint32_t xb = 0;
        if (n >= 2) {
            xb = (uint16_t)(*it.x + in_offset);
            fb = tk_ld8_sse2(it.f);
            tk_dw_next(&it, g);
        }
        __m128i xv = _mm_set1_epi32((int32_t)(xa | xb << 16));
        __m128i fv = _mm_unpacklo_epi8(fa, fb);
        s[0] = _mm_add_epi32(s[0], _mm_madd_epi16(xv, _mm_srai_epi16(_mm_unpacklo_epi8(fv, fv), 8)));
        s[1] = _mm_add_epi32(s[1], _mm_madd_epi16(xv, _mm_srai_epi16(_mm_unpackhi_epi8(fv, fv), 8)));
    }
    tk_acc4_sse2(acc, s[0]);
    tk_acc4_sse2(acc + 4, s[1]);
}

/* channels [0, 8 * (out_c / 8)) of one output pixel, depth multiplier 1; returns how many */
static inline int tk_dw_pixel8_sse2(int8_t *out, const int8_t *x, const int8_t *f,
                                    const tk_dw_taps_t *g, const int32_t *p, const tk_rq_t *rq) {
    int out_c = p[CV_OUT_C], c = 0;
    const int32_t *bias = p + CV_HDR;
    int32_t acc[8];
    for (; c + 8 <= out_c; c += 8) {
        for (int j = 0; j < 8; j++) {
            acc[j] = bias[c + j];
        }
        tk_dw_taps8_sse2(acc, x + c, f + c, g, p[CV_IN_OFFSET]);
        for (int j = 0; j < 8; j++) {
            out[c + j] = tk_rq_s8(rq, acc[j], c + j);
        }
    }
    return c;
}

/* first and one-past-last tap k with 0 <= origin + k * dil < size */
static inline void tk_dw_clip_sse2(int origin, int dil, int taps, int size, int *k0, int *k1) {
    int a = 0, b = taps;
    while (a < b && origin + a * dil < 0) {
        a++;
    }
    while (b > a && origin + (b - 1) * dil >= size) {
        b--;
    }
    *k0 = a;
    *k1 = b;
}

/* one output pixel, depth multiplier a multiple of 8; x: input pixel of the window's first
   tap, f: the filter at that tap */
static void tk_dw_pixel_dm8_sse2(int8_t *out, const int8_t *x, const int8_t *f,
                                 const tk_dw_taps_t *g, const int32_t *p, const tk_rq_t *rq) {
    int dm = p[CV_DEPTH_MULT], oc = 0;
    const int32_t *bias = p + CV_HDR;
    int32_t acc[8];
    for (int ic = 0; ic < p[CV_IN_C]; ic++) {
        for (int m = 0; m < dm; m += 8, oc += 8) {
            for (int j = 0; j < 8; j++) {
                acc[j] = bias[oc + j];
            }
            tk_dw_bcast8_sse2(acc, x + ic, f + oc, g, p[CV_IN_OFFSET]);
            for (int j = 0; j < 8; j++) {
                out[oc + j] = tk_rq_s8(rq, acc[j], oc + j);
            }
        }
    }
}

/* DEPTHWISE_CONV_2D with a depth multiplier that is a multiple of 8 (micro_speech: 1 input
   channel, 8 outputs) */
static void tk_depthwise_s8_dm8_sse2(int8_t *out, const int8_t *in, const int8_t *w,
                                     const int32_t *p) {
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], out_c = p[CV_OUT_C];
    int k_h = p[CV_K_H], k_w = p[CV_K_W], dil_h = p[CV_DIL_H], dil_w = p[CV_DIL_W];
    const int32_t *bias = p + CV_HDR;
    const tk_rq_t rq = tk_rq(bias + out_c, bias + 2 * out_c, p[CV_OUT_OFFSET], p[CV_ACT_MIN],
                             p[CV_ACT_MAX]);
    tk_dw_taps_t g = {0, 0, dil_h * in_w * in_c, dil_w * in_c, k_w * out_c, out_c};
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        const int8_t *in_b = in + b * in_h * in_w * in_c;
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ky0, ky1;
            tk_dw_clip_sse2(iy0, dil_h, k_h, in_h, &ky0, &ky1);
            for (int ox = 0; ox < p[CV_OUT_W]; ox++, out += out_c) {
                int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT], kx0, kx1;
                tk_dw_clip_sse2(ix0, dil_w, k_w, in_w, &kx0, &kx1);
                g.ny = ky1 - ky0;
                g.nx = kx1 - kx0;
                const int8_t *x = in_b + ((iy0 + ky0 * dil_h) * in_w + ix0 + kx0 * dil_w) * in_c;
                tk_dw_pixel_dm8_sse2(out, x, w + (ky0 * k_w + kx0) * out_c, &g, p, &rq);
            }
        }
    }
}

#endif
