/* DEPTHWISE_CONV_2D int8: NHWC input, filter [1, k_h, k_w, out_c], out channel oc reads input
   channel oc / depth_multiplier (TFLM semantics). tk_depthwise_s8_ref is TFLM's reference
   loop; tk_depthwise_s8 (depth multiplier 1) clips the window once per pixel and accumulates
   four channels at a time across all taps in registers; the 3x3 variant unrolls the taps. */
#include "kernels.h"
#include "requant.h"
#include "dot.h"
#if TK_SSE2
#include "depthwise_sse2.h"
#endif

void tk_depthwise_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], out_c = p[CV_OUT_C];
    int k_h = p[CV_K_H], k_w = p[CV_K_W], dm = p[CV_DEPTH_MULT];
    int32_t in_offset = p[CV_IN_OFFSET];
    const int32_t *bias = p + CV_HDR, *mult = bias + out_c, *shift = mult + out_c;
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        const int8_t *in_b = in + b * in_h * in_w * in_c;
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
            for (int ox = 0; ox < p[CV_OUT_W]; ox++) {
                int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
                for (int ic = 0, oc = 0; ic < in_c; ic++) {
                    for (int m = 0; m < dm; m++, oc++) {
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
                                acc += (in_b[(iy * in_w + ix) * in_c + ic] + in_offset)
                                       * w[(ky * k_w + kx) * out_c + oc];
                            }
                        }
                        *out++ = (int8_t)tk_output(acc, mult[oc], shift[oc], p[CV_OUT_OFFSET],
                                                   p[CV_ACT_MIN], p[CV_ACT_MAX]);
                    }
                }
            }
        }
    }
}

/* first and one-past-last tap k with 0 <= origin + k * dil < size */
static void dw_clip(int origin, int dil, int taps, int size, int *k0, int *k1) {
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

typedef struct {
    const int8_t *x;     /* input at (iy0 + ky0*dil_h, ix0 + kx0*dil_w), channel 0 */
    const int8_t *f;     /* filter at (ky0, kx0), channel 0 */
    int ny, nx;          /* taps in the clipped window */
    int x_step_y, x_step_x, f_step_y;   /* byte steps between taps */
} dw_window_t;

/* acc[0..4) += taps of channels c..c+3 (x and f already offset by c) */
static inline void dw_taps4(const dw_window_t *win, int c, int32_t in_offset, int out_c,
                            int32_t *acc) {
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
#if TK_DSP
    uint32_t off2 = ((uint32_t)in_offset & 0xFFFF) * 0x10001u;
#endif
    const int8_t *xr = win->x + c, *fr = win->f + c;
    for (int y = 0; y < win->ny; y++, xr += win->x_step_y, fr += win->f_step_y) {
        const int8_t *x = xr, *f = fr;
        for (int t = 0; t < win->nx; t++, x += win->x_step_x, f += out_c) {
#if TK_DSP
            uint32_t xv = tk_ld32(x), fv = tk_ld32(f);
            int32_t x02 = tk_sxtab16(off2, xv), x13 = tk_sxtab16_ror8(off2, xv);
            int32_t f02 = tk_sxtb16(fv), f13 = tk_sxtb16_ror8(fv);
            __asm__ ("smlabb %0, %1, %2, %0" : "+r" (a0) : "r" (x02), "r" (f02));
            __asm__ ("smlatt %0, %1, %2, %0" : "+r" (a2) : "r" (x02), "r" (f02));
            __asm__ ("smlabb %0, %1, %2, %0" : "+r" (a1) : "r" (x13), "r" (f13));
            __asm__ ("smlatt %0, %1, %2, %0" : "+r" (a3) : "r" (x13), "r" (f13));
#else
            a0 += (x[0] + in_offset) * f[0];
            a1 += (x[1] + in_offset) * f[1];
            a2 += (x[2] + in_offset) * f[2];
            a3 += (x[3] + in_offset) * f[3];
#endif
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

static inline int32_t dw_taps1(const dw_window_t *win, int c, int32_t in_offset, int out_c,
                               int32_t acc) {
    const int8_t *xr = win->x + c, *fr = win->f + c;
    for (int y = 0; y < win->ny; y++, xr += win->x_step_y, fr += win->f_step_y) {
        const int8_t *x = xr, *f = fr;
        for (int t = 0; t < win->nx; t++, x += win->x_step_x, f += out_c) {
            acc += (*x + in_offset) * *f;
        }
    }
    return acc;
}

#if TK_DSP
#define DW_CHUNK 64     /* channels accumulated per call of the assembler loops */

/* channels [0, out_c & ~3) of a dilation-1 window: the assembler loops of dot_dsp.c
   accumulate up to DW_CHUNK channels, then they are requantized */
static int dw_groups_dsp(int8_t *out, const dw_window_t *win, const int32_t *p,
                         const tk_rq_t *rq) {
    int out_c = p[CV_OUT_C], n4 = out_c & ~3;
    int32_t acc[DW_CHUNK];
    tk_dw_job_t job;
    job.x = win->x;
    job.f = win->f;
    job.bias = p + CV_HDR;
    job.c = out_c;
    job.row = win->x_step_y;
    job.off2 = (int32_t)(((uint32_t)p[CV_IN_OFFSET] & 0xFFFF) * 0x10001u);
    job.ny = win->ny;
    job.nx = win->nx;
    job.f_row = win->f_step_y;
    int full3x3 = win->ny == 3 && win->nx == 3 && p[CV_K_H] == 3 && p[CV_K_W] == 3;
    for (int c = 0; c < n4; c += DW_CHUNK) {
        int n = n4 - c < DW_CHUNK ? n4 - c : DW_CHUNK;
        job.acc = acc;
        job.groups = n / 4;
        if (full3x3) {
            tk_dw_3x3_dsp(&job);
        } else {
            tk_dw_window_dsp(&job);
        }
        for (int j = 0; j < n; j++) {
            out[c + j] = tk_rq_s8(rq, acc[j], c + j);
        }
    }
    return n4;
}
#endif

static void dw_pixel(int8_t *out, const dw_window_t *win, const int32_t *p) {
    int out_c = p[CV_OUT_C], c = 0;
    int32_t in_offset = p[CV_IN_OFFSET];
    const int32_t *bias = p + CV_HDR;
    const tk_rq_t rq = tk_rq(bias + out_c, bias + 2 * out_c, p[CV_OUT_OFFSET], p[CV_ACT_MIN],
                             p[CV_ACT_MAX]);
#if TK_DSP
    if (win->x_step_x == out_c && win->ny > 0 && win->nx > 0) {  /* dilation_w 1 */
        c = dw_groups_dsp(out, win, p, &rq);
    }
#endif
    int32_t acc[4];
#if TK_SSE2
    tk_dw_taps_t g = {win->ny, win->nx, win->x_step_y, win->x_step_x, win->f_step_y, out_c};
    c = tk_dw_pixel8_sse2(out, win->x, win->f, &g, p, &rq);
#endif
    for (; c + 4 <= out_c; c += 4) {
        for (int j = 0; j < 4; j++) {
            acc[j] = bias[c + j];
        }
        dw_taps4(win, c, in_offset, out_c, acc);
        for (int j = 0; j < 4; j++) {
            out[c + j] = tk_rq_s8(&rq, acc[j], c + j);
        }
    }
    for (; c < out_c; c++) {
        int32_t a = dw_taps1(win, c, in_offset, out_c, bias[c]);
        out[c] = tk_rq_s8(&rq, a, c);
    }
}

void tk_depthwise_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    if (p[CV_DEPTH_MULT] != 1) {
#if TK_SSE2
        if ((p[CV_DEPTH_MULT] & 7) == 0) {
            tk_depthwise_s8_dm8_sse2(out, in, w, p);
            return;
        }
#endif
        tk_depthwise_s8_ref(out, in, w, p);
        return;
    }
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], out_c = p[CV_OUT_C];
    int k_h = p[CV_K_H], k_w = p[CV_K_W], dil_h = p[CV_DIL_H], dil_w = p[CV_DIL_W];
    dw_window_t win;
    win.x_step_y = dil_h * in_w * in_c;
    win.x_step_x = dil_w * in_c;
    win.f_step_y = k_w * out_c;
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        const int8_t *in_b = in + b * in_h * in_w * in_c;
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ky0, ky1;
            dw_clip(iy0, dil_h, k_h, in_h, &ky0, &ky1);
            for (int ox = 0; ox < p[CV_OUT_W]; ox++, out += out_c) {
                int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT], kx0, kx1;
                dw_clip(ix0, dil_w, k_w, in_w, &kx0, &kx1);
                win.ny = ky1 - ky0;
                win.nx = kx1 - kx0;
                win.x = in_b + ((iy0 + ky0 * dil_h) * in_w + ix0 + kx0 * dil_w) * in_c;
                win.f = w + (ky0 * k_w + kx0) * out_c;
                dw_pixel(out, &win, p);
            }
        }
    }
}
