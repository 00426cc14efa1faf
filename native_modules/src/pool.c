/* AVERAGE_POOL_2D / MAX_POOL_2D, int8 or int16 elements (TFLM integer semantics): the window is
   clipped to the image; the average is rounded half away from zero. */
#include "kernels.h"
#include "requant.h"
#include "udiv.h"

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

int tk_avgpool(void *out, const void *in, const int32_t *p, int elem_size) {
    int in_h = p[PL_IN_H], in_w = p[PL_IN_W], ch = p[PL_CH], o = 0;
    for (int b = 0; b < p[PL_BATCHES]; b++) {
        int base = b * in_h * in_w * ch;
        for (int oy = 0; oy < p[PL_OUT_H]; oy++) {
            for (int ox = 0; ox < p[PL_OUT_W]; ox++) {
                int ya, yb, xa, xb;
                pool_window(p, oy, ox, &ya, &yb, &xa, &xb);
                int32_t dy = yb - ya, dx = xb - xa;
                if (dy < 0 && dx < 0) {
                    /* the reference's count is then positive and its sums empty: mean 0 */
                    for (int c = 0; c < ch; c++, o++) {
                        pool_put(out, o, tk_clamp(0, p[PL_ACT_MIN], p[PL_ACT_MAX]), elem_size);
                    }
                    continue;
                }
                if (dy <= 0 || dx <= 0) {
                    return -1;
                }
                int32_t count = dy * dx;
                int32_t half = count >> 1;
                for (int c = 0; c < ch; c++, o++) {
                    int32_t acc = 0;
                    for (int iy = ya; iy < yb; iy++) {
                        int r = base + iy * in_w * ch + c;
                        for (int ix = xa; ix < xb; ix++) {
                            acc += pool_get(in, r + ix * ch, elem_size);
                        }
                    }
                    if (acc > 0) {
                        acc = (int32_t)tk_udiv32((uint32_t)(acc + half), (uint32_t)count);
                    } else {
                        acc = -(int32_t)tk_udiv32((uint32_t)(half - acc), (uint32_t)count);
                    }
                    pool_put(out, o, tk_clamp(acc, p[PL_ACT_MIN], p[PL_ACT_MAX]), elem_size);
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
