/* AVERAGE_POOL_2D / MAX_POOL_2D, int8 or int16 elements (TFLM integer semantics): the window is
   clipped to the image; the average is rounded half away from zero. */
#include "kernels.h"
#include "requant.h"
#include "udiv.h"
#include "dot.h"

static inline int32_t pool_get(const void *buf, int i, int elem_size) {
    return elem_size == 1 ? ((const int8_t *)buf)[i] : ((const int16_t *)buf)[i];
}

static inline void pool_put(void *buf, int i, int32_t v, int elem_size) {
    if (elem_size == 1) {
        ((int8_t *)buf)[i] = (int8_t)v;
    } else {
        ((int16_t *)buf)[i] = (int16_t)v;
    }
}

/* the window of output (oy, ox) clipped to the input: rows [*ya, *yb), columns [*xa, *xb) */
static void pool_window(const int32_t *p, int oy, int ox, int *ya, int *yb, int *xa, int *xb) {
    int iy0 = oy * p[PL_STRIDE_H] - p[PL_PAD_TOP], ix0 = ox * p[PL_STRIDE_W] - p[PL_PAD_LEFT];
    int y0 = iy0 > 0 ? 0 : -iy0, x0 = ix0 > 0 ? 0 : -ix0;
    int y1 = p[PL_K_H] < p[PL_IN_H] - iy0 ? p[PL_K_H] : p[PL_IN_H] - iy0;
    int x1 = p[PL_K_W] < p[PL_IN_W] - ix0 ? p[PL_K_W] : p[PL_IN_W] - ix0;
    *ya = iy0 + y0;
    *yb = iy0 + y1;
    *xa = ix0 + x0;
    *xb = ix0 + x1;
}

#define POOL_CHUNK 64     /* channels summed at once (their int32 sums live on the stack) */

/* sum[c] += the n window pixels of one input row (x: the first pixel's channel 0, pixels
   `step` items apart), for nc channels */
static void pool_sum_s8(int32_t *sum, const int8_t *x, int n, int step, int nc) {
    for (int i = 0; i < n; i++, x += step) {
        for (int c = 0; c < nc; c++) {
            sum[c] += x[c];
        }
    }
}

static void pool_sum_s16(int32_t *sum, const int16_t *x, int n, int step, int nc) {
    for (int i = 0; i < n; i++, x += step) {
        for (int c = 0; c < nc; c++) {
            sum[c] += x[c];
        }
    }
}

#if TK_DSP
/* int8 sums of four channels in the int16 lanes of two words (SXTAB16), exact while the
   window has at most 256 pixels (|sum| <= 128 * 256); x: the window's first pixel, rows
   `row_step` bytes apart, pixels `step` bytes apart */
static void pool_sum4_dsp(int32_t *sum, const int8_t *x, int rows, int row_step, int n,
                          int step) {
    uint32_t s02 = 0, s13 = 0;
    for (int y = 0; y < rows; y++, x += row_step) {
        const int8_t *px = x;
        for (int i = 0; i < n; i++, px += step) {
            uint32_t v = tk_ld32(px);
            s02 = (uint32_t)tk_sxtab16(s02, v);
            s13 = (uint32_t)tk_sxtab16_ror8(s13, v);
        }
    }
    sum[0] += (int16_t)s02;
    sum[1] += (int16_t)s13;
    sum[2] += (int16_t)(s02 >> 16);
    sum[3] += (int16_t)(s13 >> 16);
}
#endif

/* the means of the window rows [ya, yb) x columns [xa, xb) for channels [c0, c0 + nc) */
static void pool_means(void *out, int o, const void *in, const int32_t *p, int base, int ya,
                       int yb, int xa, int xb, int c0, int nc, int elem_size) {
    int32_t sum[POOL_CHUNK];
    int in_w = p[PL_IN_W], ch = p[PL_CH];
    int32_t count = (yb - ya) * (xb - xa), half = count >> 1;
    int c4 = 0;
    for (int c = 0; c < nc; c++) {
        sum[c] = 0;
    }
#if TK_DSP
    if (elem_size == 1 && count <= 256) {
        const int8_t *x = (const int8_t *)in + base + (ya * in_w + xa) * ch + c0;
        for (; c4 + 4 <= nc; c4 += 4) {
            pool_sum4_dsp(sum + c4, x + c4, yb - ya, in_w * ch, xb - xa, ch);
        }
    }
#endif
    for (int iy = ya; iy < yb && c4 < nc; iy++) {
        int r = base + (iy * in_w + xa) * ch + c0 + c4;
        if (elem_size == 1) {
            pool_sum_s8(sum + c4, (const int8_t *)in + r, xb - xa, ch, nc - c4);
        } else {
            pool_sum_s16(sum + c4, (const int16_t *)in + r, xb - xa, ch, nc - c4);
        }
    }
    for (int c = 0; c < nc; c++) {
        int32_t acc = sum[c];
        if (acc > 0) {
            acc = (int32_t)tk_udiv32((uint32_t)(acc + half), (uint32_t)count);
        } else {
            acc = -(int32_t)tk_udiv32((uint32_t)(half - acc), (uint32_t)count);
        }
        pool_put(out, o + c, tk_clamp(acc, p[PL_ACT_MIN], p[PL_ACT_MAX]), elem_size);
    }
}

int tk_avgpool(void *out, const void *in, const int32_t *p, int elem_size) {
    int in_h = p[PL_IN_H], in_w = p[PL_IN_W], ch = p[PL_CH], o = 0;
    for (int b = 0; b < p[PL_BATCHES]; b++) {
        int base = b * in_h * in_w * ch;
        for (int oy = 0; oy < p[PL_OUT_H]; oy++) {
            for (int ox = 0; ox < p[PL_OUT_W]; ox++, o += ch) {
                int ya, yb, xa, xb;
                pool_window(p, oy, ox, &ya, &yb, &xa, &xb);
                if (yb - ya < 0 && xb - xa < 0) {
                    /* the reference's count is then positive and its sums empty: mean 0 */
                    for (int c = 0; c < ch; c++) {
                        pool_put(out, o + c, tk_clamp(0, p[PL_ACT_MIN], p[PL_ACT_MAX]),
                                 elem_size);
                    }
                    continue;
                }
                if (yb - ya <= 0 || xb - xa <= 0) {
                    return -1;
                }
                for (int c0 = 0; c0 < ch; c0 += POOL_CHUNK) {
                    int nc = ch - c0 < POOL_CHUNK ? ch - c0 : POOL_CHUNK;
                    pool_means(out, o + c0, in, p, base, ya, yb, xa, xb, c0, nc, elem_size);
                }
            }
        }
    }
    return 0;
}

void tk_maxpool(void *out, const void *in, const int32_t *p, int elem_size) {
    int in_h = p[PL_IN_H], in_w = p[PL_IN_W], ch = p[PL_CH], o = 0;
    for (int b = 0; b < p[PL_BATCHES]; b++) {
        int base = b * in_h * in_w * ch;
        for (int oy = 0; oy < p[PL_OUT_H]; oy++) {
            for (int ox = 0; ox < p[PL_OUT_W]; ox++) {
                int ya, yb, xa, xb;
                pool_window(p, oy, ox, &ya, &yb, &xa, &xb);
                for (int c = 0; c < ch; c++, o++) {
                    int32_t mx = p[PL_ACT_MIN];
                    for (int iy = ya; iy < yb; iy++) {
                        int r = base + iy * in_w * ch + c;
                        for (int ix = xa; ix < xb; ix++) {
                            int32_t v = pool_get(in, r + ix * ch, elem_size);
                            mx = v > mx ? v : mx;
                        }
                    }
                    pool_put(out, o, mx < p[PL_ACT_MAX] ? mx : p[PL_ACT_MAX], elem_size);
                }
            }
        }
    }
}
