/* CONV_2D int8: NHWC input, OHWI filter, per-channel requantization (TFLM semantics).
   tk_conv_s8_ref is TFLM's reference loop; tk_conv_s8 gathers two output pixels at a time
   into int16 columns (input + offset, 0 for out-of-image taps) and runs the blocked dot
   products of dot.h over them. 1x1 convolutions read their columns straight from the input. */
#include "kernels.h"
#include "requant.h"
#include "dot.h"

void tk_conv_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], out_c = p[CV_OUT_C];
    int k_h = p[CV_K_H], k_w = p[CV_K_W];
    int32_t in_offset = p[CV_IN_OFFSET];
    const int32_t *bias = p + CV_HDR, *mult = bias + out_c, *shift = mult + out_c;
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        const int8_t *in_b = in + b * in_h * in_w * in_c;
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
            for (int ox = 0; ox < p[CV_OUT_W]; ox++) {
                int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
                for (int oc = 0; oc < out_c; oc++) {
                    int32_t acc = bias[oc];
                    for (int ky = 0; ky < k_h; ky++) {
                        int iy = iy0 + ky * p[CV_DIL_H];
                        if (iy < 0 || iy >= in_h) {
                            continue;
                        }
                        for (int kx = 0; kx < k_w; kx++) {
                            int ix = ix0 + kx * p[CV_DIL_W];
                            if (ix < 0 || ix >= in_w) {
                                continue;
                            }
                            const int8_t *x = in_b + (iy * in_w + ix) * in_c;
                            const int8_t *f = w + ((oc * k_h + ky) * k_w + kx) * in_c;
                            for (int c = 0; c < in_c; c++) {
                                acc += (x[c] + in_offset) * f[c];
                            }
                        }
                    }
                    *out++ = (int8_t)tk_output(acc, mult[oc], shift[oc], p[CV_OUT_OFFSET],
                                               p[CV_ACT_MIN], p[CV_ACT_MAX]);
                }
            }
        }
    }
}

static int conv_depth(const int32_t *p) {
    return p[CV_K_H] * p[CV_K_W] * p[CV_IN_C];
}

/* int16 items per column: K rounded up so every column starts 8-byte aligned */
static int col_stride(int K) {
    return (K + 3) & ~3;
}

size_t tk_conv_s8_scratch(const int32_t *p) {
    return 2 * (size_t)col_stride(conv_depth(p)) * sizeof(int16_t);
}

/* the column of output pixel (oy, ox): taps in (ky, kx, c) order like the filter rows */
static void conv_fill_col(int16_t *col, const int8_t *in_b, const int32_t *p, int oy, int ox) {
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_w = p[CV_K_W];
    int dil_w = p[CV_DIL_W], row = k_w * in_c;
    int32_t in_offset = p[CV_IN_OFFSET];
    int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
    int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
    int16_t *d = col;
    for (int ky = 0; ky < p[CV_K_H]; ky++, d += row) {
        int iy = iy0 + ky * p[CV_DIL_H];
        if (iy < 0 || iy >= in_h) {
            tk_col_zero(d, row);
            continue;
        }
        const int8_t *src = in_b + iy * in_w * in_c;
        if (dil_w == 1 && ix0 >= 0 && ix0 + k_w <= in_w) {
            tk_col_put(d, src + ix0 * in_c, row, in_offset);
            continue;
        }
        for (int kx = 0; kx < k_w; kx++) {
            int ix = ix0 + kx * dil_w;
            if (ix < 0 || ix >= in_w) {
                tk_col_zero(d + kx * in_c, in_c);
            } else {
                tk_col_put(d + kx * in_c, src + ix * in_c, in_c, in_offset);
            }
        }
    }
    tk_col_finish(col, row * p[CV_K_H]);
}

static inline int8_t conv_out(int32_t acc, const int32_t *p, int oc) {
    int out_c = p[CV_OUT_C];
    const int32_t *mult = p + CV_HDR + out_c;
    return (int8_t)tk_output(acc, mult[oc], mult[out_c + oc], p[CV_OUT_OFFSET],
                             p[CV_ACT_MIN], p[CV_ACT_MAX]);
}

/* all output channels of one pixel (c1 == NULL) or of two pixels (out, out + out_c) */
static void conv_cols(int8_t *out, const int16_t *c0, const int16_t *c1, const int8_t *w,
                      int K, const int32_t *p) {
    int out_c = p[CV_OUT_C];
    const int32_t *bias = p + CV_HDR;
    int oc = 0;
    int32_t acc[4];
    if (c1) {
        for (; oc + 2 <= out_c; oc += 2) {
            acc[0] = acc[2] = bias[oc];
            acc[1] = acc[3] = bias[oc + 1];
            tk_dot_2x2(c0, c1, w + oc * K, w + (oc + 1) * K, K, acc);
            out[oc] = conv_out(acc[0], p, oc);
            out[oc + 1] = conv_out(acc[1], p, oc + 1);
            out[out_c + oc] = conv_out(acc[2], p, oc);
            out[out_c + oc + 1] = conv_out(acc[3], p, oc + 1);
        }
        for (; oc < out_c; oc++) {
            out[oc] = conv_out(tk_dot_1x1(c0, w + oc * K, K, bias[oc]), p, oc);
            out[out_c + oc] = conv_out(tk_dot_1x1(c1, w + oc * K, K, bias[oc]), p, oc);
        }
        return;
    }
    for (; oc + 4 <= out_c; oc += 4) {
        acc[0] = bias[oc];
        acc[1] = bias[oc + 1];
        acc[2] = bias[oc + 2];
        acc[3] = bias[oc + 3];
        tk_dot_1x4(c0, w + oc * K, K, acc);
        for (int j = 0; j < 4; j++) {
            out[oc + j] = conv_out(acc[j], p, oc + j);
        }
    }
    for (; oc < out_c; oc++) {
        out[oc] = conv_out(tk_dot_1x1(c0, w + oc * K, K, bias[oc]), p, oc);
    }
}

/* 1x1 kernel, no padding, every output pixel inside the input: columns are input runs */
static int conv_is_1x1(const int32_t *p) {
    return p[CV_K_H] == 1 && p[CV_K_W] == 1 && p[CV_PAD_TOP] == 0 && p[CV_PAD_LEFT] == 0
           && (p[CV_OUT_H] - 1) * p[CV_STRIDE_H] < p[CV_IN_H]
           && (p[CV_OUT_W] - 1) * p[CV_STRIDE_W] < p[CV_IN_W];
}

static void conv_col_1x1(int16_t *col, const int8_t *in_b, const int32_t *p, int oy, int ox) {
    int in_c = p[CV_IN_C];
    const int8_t *x = in_b + (oy * p[CV_STRIDE_H] * p[CV_IN_W] + ox * p[CV_STRIDE_W]) * in_c;
    tk_col_from_run(col, x, in_c, p[CV_IN_OFFSET]);
}

void tk_conv_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p, void *scratch) {
    int K = conv_depth(p), out_c = p[CV_OUT_C], out_h = p[CV_OUT_H], out_w = p[CV_OUT_W];
    int16_t *col0 = (int16_t *)scratch, *col1 = col0 + col_stride(K);
    void (*fill)(int16_t *, const int8_t *, const int32_t *, int, int) =
        conv_is_1x1(p) ? conv_col_1x1 : conv_fill_col;
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        const int8_t *in_b = in + b * p[CV_IN_H] * p[CV_IN_W] * p[CV_IN_C];
        int oy = 0, ox = 0;
        for (int left = out_h * out_w; left > 0; left -= 2) {
            fill(col0, in_b, p, oy, ox);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
            if (left == 1) {
                conv_cols(out, col0, 0, w, K, p);
                out += out_c;
                break;
            }
            fill(col1, in_b, p, oy, ox);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
            conv_cols(out, col0, col1, w, K, p);
            out += 2 * out_c;
        }
    }
}
