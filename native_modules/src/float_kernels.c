/* Float32 kernels (see float_kernels.h). Taps outside the image read as -in_offset, as the
   python kernels' im2col does (0 for float models). */
#include "float_kernels.h"

#if TK_HAVE_FLOAT_DSP

static inline float clampf(float v, float lo, float hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* the input pixel (iy, ix) of this batch (channel 0), or NULL outside the image */
static inline const float *tap_at(const float *base, const int32_t *p, int inside_y, int32_t iy,
                                  int32_t ix) {
    if (!inside_y || ix < 0 || ix >= p[CV_IN_W]) {
        return NULL;
    }
    return base + ((size_t)iy * p[CV_IN_W] + ix) * p[CV_IN_C];
}

/* acc[j] += sum over one tap's in_c values of x[c] * w_j[c], w_j = w + j * K, for j < n (<= 4);
   x NULL: the tap is outside the image and reads zp. Separate accumulators keep each output's
   sum in TFLM's order while the four chains overlap in the pipeline. */
static void conv_tap_f32(float *acc, const float *x, float zp, const float *w, int32_t K,
                         int32_t in_c, int32_t n) {
    if (n == 4) {
        float a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
        const float *w1 = w + K, *w2 = w1 + K, *w3 = w2 + K;
        for (int32_t c = 0; c < in_c; c++) {
            const float v = x ? x[c] : zp;
            a0 += v * w[c];
            a1 += v * w1[c];
            a2 += v * w2[c];
            a3 += v * w3[c];
        }
        acc[0] = a0;
        acc[1] = a1;
        acc[2] = a2;
        acc[3] = a3;
        return;
    }
    for (int32_t j = 0; j < n; j++, w += K) {
        float a = acc[j];
        for (int32_t c = 0; c < in_c; c++) {
            a += (x ? x[c] : zp) * w[c];
        }
        acc[j] = a;
    }
}

void tk_conv_f32(float *out, const float *in, const float *b, const int32_t *p) {
    const int32_t batches = p[CV_BATCHES], in_h = p[CV_IN_H], in_w = p[CV_IN_W];
    const int32_t in_c = p[CV_IN_C], out_h = p[CV_OUT_H], out_w = p[CV_OUT_W];
    const int32_t out_c = p[CV_OUT_C], k_h = p[CV_K_H], k_w = p[CV_K_W];
    const int32_t K = k_h * k_w * in_c;
    const float zp = (float)(-p[CV_IN_OFFSET]);
    const float act_min = b[0], act_max = b[1];
    const float *bias = b + 2, *wts = b + 2 + out_c;
    float acc[4];
    float *o = out;
    for (int32_t bt = 0; bt < batches; bt++) {
        const float *base = in + (size_t)bt * in_h * in_w * in_c;
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
                for (int32_t oc = 0; oc < out_c; oc += 4) {
                    const int32_t n = out_c - oc < 4 ? out_c - oc : 4;
                    const float *wk = wts + (size_t)oc * K;
                    acc[0] = acc[1] = acc[2] = acc[3] = 0.0f;
                    for (int32_t ky = 0; ky < k_h; ky++) {
                        const int32_t iy = iy0 + ky * p[CV_DIL_H];
                        const int inside_y = iy >= 0 && iy < in_h;
                        for (int32_t kx = 0; kx < k_w; kx++, wk += in_c) {
                            const float *x = tap_at(base, p, inside_y, iy, ix0 + kx * p[CV_DIL_W]);
                            conv_tap_f32(acc, x, zp, wk, K, in_c, n);
                        }
                    }
                    for (int32_t j = 0; j < n; j++) {
                        *o++ = clampf(acc[j] + bias[oc + j], act_min, act_max);
                    }
                }
            }
        }
    }
}

/* acc[i] += x(channel oc) * w[i] for oc = c0 + i, oc reading input channel oc / dm; x NULL:
   the tap is outside the image and reads zp */
static void dw_tap_f32(float *acc, const float *x, float zp, const float *w, int32_t c0,
                       int32_t n, int32_t dm) {
    if (x == NULL) {
        for (int32_t i = 0; i < n; i++) {
            acc[i] += zp * w[i];
        }
    } else if (dm == 1) {
        x += c0;
        for (int32_t i = 0; i < n; i++) {
            acc[i] += x[i] * w[i];
        }
    } else {
        int32_t ic = c0 / dm, m = c0 - ic * dm;
        for (int32_t i = 0; i < n; ic++, m = 0) {
            const float xv = x[ic];
            const int32_t run = dm - m < n - i ? dm - m : n - i;
            for (int32_t j = 0; j < run; j++, i++) {
                acc[i] += xv * w[i];
            }
        }
    }
}

/* Taps outer, channels inner (in chunks of DW_CHUNK accumulators): each output still sums its
   taps in (ky, kx) order from 0.0f and adds the bias last, as TFLM does. */
#define DW_CHUNK 64

void tk_depthwise_f32(float *out, const float *in, const float *b, const int32_t *p) {
    const int32_t batches = p[CV_BATCHES], in_h = p[CV_IN_H], in_w = p[CV_IN_W];
    const int32_t in_c = p[CV_IN_C], out_h = p[CV_OUT_H], out_w = p[CV_OUT_W];
    const int32_t out_c = p[CV_OUT_C], k_h = p[CV_K_H], k_w = p[CV_K_W];
    const int32_t dm = p[CV_DEPTH_MULT];
    const float zp = (float)(-p[CV_IN_OFFSET]);
    const float act_min = b[0], act_max = b[1];
    const float *bias = b + 2, *wts = b + 2 + out_c;
    float acc[DW_CHUNK];
    float *o = out;
    for (int32_t bt = 0; bt < batches; bt++) {
        const float *base = in + (size_t)bt * in_h * in_w * in_c;
        for (int32_t oy = 0; oy < out_h; oy++) {
            const int32_t iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
            for (int32_t ox = 0; ox < out_w; ox++) {
                const int32_t ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
                for (int32_t c0 = 0; c0 < out_c; c0 += DW_CHUNK) {
                    const int32_t n = out_c - c0 < DW_CHUNK ? out_c - c0 : DW_CHUNK;
                    for (int32_t i = 0; i < n; i++) {
                        acc[i] = 0.0f;
                    }
                    const float *w = wts + c0;
                    for (int32_t ky = 0; ky < k_h; ky++) {
                        const int32_t iy = iy0 + ky * p[CV_DIL_H];
                        const int inside_y = iy >= 0 && iy < in_h;
                        for (int32_t kx = 0; kx < k_w; kx++, w += out_c) {
                            const float *x = tap_at(base, p, inside_y, iy, ix0 + kx * p[CV_DIL_W]);
                            dw_tap_f32(acc, x, zp, w, c0, n, dm);
                        }
                    }
                    for (int32_t i = 0; i < n; i++) {
                        *o++ = clampf(acc[i] + bias[c0 + i], act_min, act_max);
                    }
                }
            }
        }
    }
}

void tk_fully_connected_f32(float *out, const float *in, const float *b, const int32_t *p) {
    const int32_t batches = p[FC_BATCHES], depth = p[FC_IN], out_d = p[FC_OUT];
    const float act_min = b[0], act_max = b[1];
    const float *bias = b + 2;
    float *o = out;
    for (int32_t bt = 0; bt < batches; bt++) {
        const float *x = in + (size_t)bt * depth;
        const float *w = b + 2 + out_d;
        for (int32_t oc = 0; oc < out_d; oc++) {
            float acc = 0.0f;
            for (int32_t i = 0; i < depth; i++) {
                acc += x[i] * w[i];
            }
            w += depth;
            acc += bias[oc];
            *o++ = clampf(acc, act_min, act_max);
        }
    }
}

/* the clipped window: [*y0, *y1) x [*x0, *x1) */
static void window(const int32_t *p, int32_t oy, int32_t ox, int32_t *y0, int32_t *y1,
                   int32_t *x0, int32_t *x1) {
    const int32_t iy0 = oy * p[PL_STRIDE_H] - p[PL_PAD_TOP];
    const int32_t ix0 = ox * p[PL_STRIDE_W] - p[PL_PAD_LEFT];
    *y0 = iy0 > 0 ? iy0 : 0;
    *y1 = iy0 + p[PL_K_H] < p[PL_IN_H] ? iy0 + p[PL_K_H] : p[PL_IN_H];
    *x0 = ix0 > 0 ? ix0 : 0;
    *x1 = ix0 + p[PL_K_W] < p[PL_IN_W] ? ix0 + p[PL_K_W] : p[PL_IN_W];
}

int tk_avgpool_f32(float *out, const float *in, const float *b, const int32_t *p) {
    const int32_t batches = p[PL_BATCHES], in_h = p[PL_IN_H], in_w = p[PL_IN_W];
    const int32_t ch = p[PL_CH], out_h = p[PL_OUT_H], out_w = p[PL_OUT_W];
    const float act_min = b[0], act_max = b[1];
    float *o = out;
    for (int32_t bt = 0; bt < batches; bt++) {
        const float *base = in + (size_t)bt * in_h * in_w * ch;
        for (int32_t oy = 0; oy < out_h; oy++) {
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t y0, y1, x0, x1;
                window(p, oy, ox, &y0, &y1, &x0, &x1);
                if (y1 <= y0 || x1 <= x0) {
                    return -1;
                }
                const float count = (float)((y1 - y0) * (x1 - x0));
                for (int32_t c = 0; c < ch; c++) {
                    float acc = 0.0f;
                    for (int32_t iy = y0; iy < y1; iy++) {
                        const float *x = base + ((size_t)iy * in_w + x0) * ch + c;
                        for (int32_t ix = x0; ix < x1; ix++) {
                            acc += *x;
                            x += ch;
                        }
                    }
                    *o++ = clampf(acc / count, act_min, act_max);
                }
            }
        }
    }
    return 0;
}

void tk_maxpool_f32(float *out, const float *in, const float *b, const int32_t *p) {
    const int32_t batches = p[PL_BATCHES], in_h = p[PL_IN_H], in_w = p[PL_IN_W];
    const int32_t ch = p[PL_CH], out_h = p[PL_OUT_H], out_w = p[PL_OUT_W];
    const float act_min = b[0], act_max = b[1];
    float *o = out;
    for (int32_t bt = 0; bt < batches; bt++) {
        const float *base = in + (size_t)bt * in_h * in_w * ch;
        for (int32_t oy = 0; oy < out_h; oy++) {
            for (int32_t ox = 0; ox < out_w; ox++) {
                int32_t y0, y1, x0, x1;
                window(p, oy, ox, &y0, &y1, &x0, &x1);
                for (int32_t c = 0; c < ch; c++) {
                    float mx = -3.40282347e38f;
                    for (int32_t iy = y0; iy < y1; iy++) {
                        const float *x = base + ((size_t)iy * in_w + x0) * ch + c;
                        for (int32_t ix = x0; ix < x1; ix++) {
                            if (*x > mx) {
                                mx = *x;
                            }
                            x += ch;
                        }
                    }
                    *o++ = clampf(mx, act_min, act_max);
                }
            }
        }
    }
}

#endif

#if TK_HAVE_FLOAT_DSP
/* TFLM AffineQuantize: int32(round_half_away(float32(x / scale))) + zp (wrapping), clamped;
   NaN and quotients outside int32 give the x86 conversion result INT32_MIN (+ zp). */
static int32_t quantize_one(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
    float d = x / scale;
    int32_t q;
    if (!(d >= -2147483648.0f && d < 2147483648.0f)) {
        q = (int32_t)(0x80000000u + (uint32_t)zp);
    } else {
        int32_t t = (int32_t)d;                 /* toward zero */
        float frac = d - (float)t;              /* exact */
        if (frac >= 0.5f) {
            t += 1;
        } else if (frac <= -0.5f) {
            t -= 1;
        }
        q = (int32_t)((uint32_t)t + (uint32_t)zp);
    }
    return q < lo ? lo : (q > hi ? hi : q);
}

void tk_quantize_f32(void *out, const float *in, float scale, const int32_t *p, int elem) {
    const int32_t n = p[QF_N], zp = p[QF_ZP], lo = p[QF_LO], hi = p[QF_HI];
    if (elem == 1) {
        int8_t *o = out;
        for (int32_t i = 0; i < n; i++) {
            o[i] = (int8_t)quantize_one(in[i], scale, zp, lo, hi);
        }
    } else {
        int16_t *o = out;
        for (int32_t i = 0; i < n; i++) {
            o[i] = (int16_t)quantize_one(in[i], scale, zp, lo, hi);
        }
    }
}

/* scale * (x - zp): the exact product of a float32 scale and a 17-bit integer rounded once
   to float32, as TFLM's double product cast to float */
void tk_dequantize_f32(float *out, const void *in, float scale, const int32_t *p) {
    const int32_t n = p[DQ_N], zp = p[DQ_ZP];
    if (p[DQ_KIND] == 0) {
        const int8_t *x = in;
        for (int32_t i = 0; i < n; i++) {
            out[i] = scale * (float)(x[i] - zp);
        }
    } else if (p[DQ_KIND] == 1) {
        const uint8_t *x = in;
        for (int32_t i = 0; i < n; i++) {
            out[i] = scale * (float)(x[i] - zp);
        }
    } else {
        const int16_t *x = in;
        for (int32_t i = 0; i < n; i++) {
            out[i] = scale * (float)(x[i] - zp);
        }
    }
}
#endif
