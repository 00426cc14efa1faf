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
#define DW_GROUPS 16        /* channel groups of four per chunk */
#define DW_WORDS (DW_GROUPS * (20 + 2 * 9))    /* unpacked chunk: 3x3 filters fill it */

/* unpacked words per group: biases, taps, requantization constants */
static int dw_group_words(const int32_t *p) {
    return 20 + 2 * p[CV_K_H] * p[CV_K_W];
}

/* channel groups per chunk: at most DW_GROUPS and the groups the layer has, and no more
   than fit DW_WORDS unpacked words (0: filters too large, the C loop runs) */
static int dw_max_groups(const int32_t *p) {
    int per_group = dw_group_words(p), n = p[CV_OUT_C] / 4;
    int g = DW_WORDS / per_group < DW_GROUPS ? DW_WORDS / per_group : DW_GROUPS;
    return g < n ? g : n;
}

/* per group: its four biases, per tap the words (f0, f2), (f1, f3), then per channel
   tk_mm_rq_words (out_offset - act_min: tk_clamp4); biases and weights scaled by
   tk_mm_rq_scale */
static void dw_unpack(int32_t *wu, const int8_t *w, const int32_t *p, int c0, int groups) {
    int out_c = p[CV_OUT_C], taps = p[CV_K_H] * p[CV_K_W];
    const int32_t *bias = p + CV_HDR, *mult = bias + out_c, *shift = mult + out_c;
    for (int c = c0; c < c0 + 4 * groups; c += 4) {
        int f[4];
        for (int j = 0; j < 4; j++) {
            f[j] = tk_mm_rq_scale(shift[c + j]);
            *wu++ = bias[c + j] * f[j];
        }
        uint32_t f02 = tk_pack16(f[0], f[2]), f13 = tk_pack16(f[1], f[3]);
        for (int t = 0; t < taps; t++, wu += 2) {
            uint32_t v = tk_ld32(w + t * out_c + c);
            wu[0] = (int32_t)tk_scale_pair((uint32_t)tk_sxtb16(v), f02);
            wu[1] = (int32_t)tk_scale_pair((uint32_t)tk_sxtb16_ror8(v), f13);
        }
        for (int j = 0; j < 4; j++, wu += 4) {
            tk_mm_rq_words(wu, mult[c + j], shift[c + j], p[CV_OUT_OFFSET] - p[CV_ACT_MIN]);
        }
    }
}

/* channels [c0, c0 + n) of a pixel whose window has no tap inside the input: the biases */
static void dw_bias_only(int8_t *out, const int32_t *p, int c0, int n) {
    const int32_t *bias = p + CV_HDR;
    const tk_rq_t rq = tk_rq(bias + p[CV_OUT_C], bias + 2 * p[CV_OUT_C], p[CV_OUT_OFFSET],
                             p[CV_ACT_MIN], p[CV_ACT_MAX]);
    for (int c = c0; c < c0 + n; c++) {
        out[c] = tk_rq_s8(&rq, bias[c], c);
    }
}
#endif

#if TK_M0
/* tk_dw_3x3_m0 / tk_dw_3x2_m0's initial values for a 3x3 filter, per channel bias + input
   offset * the sum of the filter's columns 0-2 (init), 0-1 (init + out_c), 1-2 (init +
   2 out_c) */
static void dw_init_3rows_m0(int32_t *init, const int8_t *w, const int32_t *p) {
    int out_c = p[CV_OUT_C];
    uint32_t off = (uint32_t)p[CV_IN_OFFSET];
    const int32_t *bias = p + CV_HDR;
    for (int c = 0; c < out_c; c++, w++) {
        const int8_t *w1 = w + 3 * out_c, *w2 = w1 + 3 * out_c;
        int32_t s0 = w[0] + w1[0] + w2[0], s1 = w[out_c] + w1[out_c] + w2[out_c];
        int32_t s2 = w[2 * out_c] + w1[2 * out_c] + w2[2 * out_c];
        uint32_t b = (uint32_t)bias[c];
        init[c] = (int32_t)(b + off * (uint32_t)(s0 + s1 + s2));
        init[out_c + c] = (int32_t)(b + off * (uint32_t)(s0 + s1));
        init[2 * out_c + c] = (int32_t)(b + off * (uint32_t)(s1 + s2));
    }
}

/* all channels of one output pixel: accumulators (bias included) by the assembler when the
   window steps by whole pixels, in C otherwise. 3x3 filters' windows of 3 rows start from
   init3 (offset folded): whole, columns 0-1 (right edge), columns 1-2 (left edge). */
static void dw_pixel_m0(int8_t *out, const dw_window_t *win, const int8_t *w,
                        const int32_t *p, const tk_rq_m0_t *r, const tk_rq_t *rq,
                        const int32_t *init3) {
    int out_c = p[CV_OUT_C], c = 0;
    int32_t in_offset = p[CV_IN_OFFSET], *acc = r->acc;
    const int32_t *bias = p + CV_HDR;
    tk_dw_m0_job_t job = {win->x, win->f, acc, win->x + out_c, out_c, win->x_step_y,
                          in_offset, win->f_step_y, win->ny, bias};
    if (win->x_step_x != out_c || win->ny < 1 || win->nx < 1 || win->nx > 3) {
        c = 0;
    } else if (win->ny == 3 && win->nx >= 2 && p[CV_K_H] == 3 && p[CV_K_W] == 3) {
        if (win->nx == 3) {
            job.init = init3;
            tk_dw_3x3_m0(&job);
        } else {
            job.init = init3 + (win->f == w ? out_c : 2 * out_c);
            tk_dw_3x2_m0(&job);
        }
        c = out_c;
    } else {
        if (win->nx == 1) {
            tk_dw_rows1_m0(&job);
        } else if (win->nx == 2) {
            tk_dw_rows2_m0(&job);
        } else {
            tk_dw_rows3_m0(&job);
        }
        c = out_c;
    }
    if (c < out_c) {
        for (; c + 4 <= out_c; c += 4) {
            for (int j = 0; j < 4; j++) {
                acc[c + j] = bias[c + j];
            }
            dw_taps4(win, c, in_offset, out_c, acc + c);
        }
        for (; c < out_c; c++) {
            acc[c] = dw_taps1(win, c, in_offset, out_c, bias[c]);
        }
    }
    tk_rq_m0_run(r, rq, out);
}
#endif

#if !TK_M0
/* channels [c, out_c) of one output pixel */
static void dw_pixel(int8_t *out, const dw_window_t *win, const int32_t *p, int c) {
    int out_c = p[CV_OUT_C];
    int32_t in_offset = p[CV_IN_OFFSET];
    const int32_t *bias = p + CV_HDR;
    const tk_rq_t rq = tk_rq(bias + out_c, bias + 2 * out_c, p[CV_OUT_OFFSET], p[CV_ACT_MIN],
                             p[CV_ACT_MAX]);
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
#endif

/* the clipped window of output pixel (oy, ox); returns its first tap's filter index */
static int dw_window(dw_window_t *win, const int8_t *in_b, const int8_t *w, const int32_t *p,
                     int oy, int ox) {
    int in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_w = p[CV_K_W];
    int dil_h = p[CV_DIL_H], dil_w = p[CV_DIL_W], ky0, ky1, kx0, kx1;
    int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
    dw_clip(iy0, dil_h, p[CV_K_H], p[CV_IN_H], &ky0, &ky1);
    dw_clip(ix0, dil_w, k_w, in_w, &kx0, &kx1);
    win->ny = ky1 - ky0;
    win->nx = kx1 - kx0;
    win->x = in_b + ((iy0 + ky0 * dil_h) * in_w + ix0 + kx0 * dil_w) * in_c;
    win->f = w + (ky0 * k_w + kx0) * p[CV_OUT_C];
    return ky0 * k_w + kx0;
}

static void dw_window_init(dw_window_t *win, const int32_t *p) {
    win->x_step_y = p[CV_DIL_H] * p[CV_IN_W] * p[CV_IN_C];
    win->x_step_x = p[CV_DIL_W] * p[CV_IN_C];
    win->f_step_y = p[CV_K_W] * p[CV_OUT_C];
}

#if TK_DSP
/* the assembler routine for a 3x3 window clipped to ny rows from ky0 and nx columns from kx0,
   or NULL (tk_dw_window_dsp) */
static void (*dw_3x3_routine(int ny, int nx, int ky0, int kx0))(const tk_dw_job_t *) {
    if (ny == 3 && nx == 3) {
        return tk_dw_3x3_dsp;
    } else if (ny == 2 && nx == 3) {
        return ky0 == 0 ? tk_dw_r01_c012_dsp : tk_dw_r12_c012_dsp;
    } else if (ny == 3 && nx == 2) {
        return kx0 == 0 ? tk_dw_r012_c01_dsp : tk_dw_r012_c12_dsp;
    } else if (ny == 2 && nx == 2 && ky0 == 0) {
        return kx0 == 0 ? tk_dw_r01_c01_dsp : tk_dw_r01_c12_dsp;
    } else if (ny == 2 && nx == 2) {
        return kx0 == 0 ? tk_dw_r12_c01_dsp : tk_dw_r12_c12_dsp;
    }
    return 0;
}

/* one chunk's channels of job->pixels pixels (more than one: 3x3 windows inside the row) */
static void dw_chunk_pixel(int8_t *restrict out, tk_dw_job_t *job, const dw_window_t *win,
                           int ky0, int kx0, const int32_t *p, int k3, int c0) {
    void (*routine)(const tk_dw_job_t *) = k3 ? dw_3x3_routine(win->ny, win->nx, ky0, kx0) : 0;
    job->x = win->x + c0;
    job->out = out + c0;
    if (routine) {
        routine(job);
    } else if (win->ny > 0 && win->nx > 0) {
        job->ny = win->ny;
        job->nx = win->nx;
        job->w_first = 16 + 8 * (ky0 * p[CV_K_W] + kx0);
        job->w_skip = 8 * (p[CV_K_W] - win->nx);
        tk_dw_window_dsp(job);
    } else {
        dw_bias_only(out, p, c0, 4 * job->groups);
    }
}

/* channels [0, out_c & ~3) of every pixel, chunk by chunk (dilation_w 1); returns the
   channels done */
static __attribute__((noinline)) int dw_chunks_dsp(int8_t *out, const int8_t *in,
                                                  const int8_t *w, const int32_t *p,
                         void *scratch) {
    int out_c = p[CV_OUT_C], n4 = out_c & ~3, per_group = dw_group_words(p);
    int max_groups = dw_max_groups(p);
    int px = p[CV_IN_H] * p[CV_IN_W] * p[CV_IN_C];
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_h = p[CV_K_H], k_w = p[CV_K_W];
    int stride_w = p[CV_STRIDE_W], pad_l = p[CV_PAD_LEFT], k3 = k_h == 3 && k_w == 3, ox_a, ox_b;
    if (max_groups == 0 || !tk_mm_rq_fits(p + CV_HDR, p + CV_HDR + 2 * out_c, n4, k_h * k_w,
                                          p[CV_OUT_OFFSET] - p[CV_ACT_MIN])) {
        return 0;
    }
    dw_window_t win;
    dw_window_init(&win, p);
    tk_dw_job_t job;
    job.w = scratch;
    job.c = out_c;
    job.row = win.x_step_y;
    job.off2 = (int32_t)(((uint32_t)p[CV_IN_OFFSET] & 0xFFFF) * 0x10001u);
    job.w_group = 4 * per_group;
    job.w_rq = 4 * (per_group - 16);
    tk_clamp4(job.clamp, p[CV_ACT_MIN], p[CV_ACT_MAX]);
    tk_inside_span(p[CV_OUT_W], in_w, k_w, stride_w, pad_l, &ox_a, &ox_b);
    for (int c0 = 0; c0 < n4; c0 += 4 * job.groups) {
        job.groups = (n4 - c0) / 4 < max_groups ? (n4 - c0) / 4 : max_groups;
        job.x_next = stride_w * in_c - 4 * job.groups;
        job.out_next = out_c - 4 * job.groups;
        job.w_end = job.w + job.groups * per_group;
        dw_unpack(scratch, w, p, c0, job.groups);
        int8_t *o = out;
        for (int b = 0; b < p[CV_BATCHES]; b++) {
            for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
                /* dw_window with the row clipped once and dilation_w 1 (nx <= 0: no tap) */
                int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ky0, ky1;
                dw_clip(iy0, p[CV_DIL_H], k_h, in_h, &ky0, &ky1);
                win.ny = ky1 - ky0;
                const int8_t *row = in + b * px + (iy0 + ky0 * p[CV_DIL_H]) * in_w * in_c;
                for (int ox = 0; ox < p[CV_OUT_W]; ox += job.pixels, o += job.pixels * out_c) {
                    int ix0 = ox * stride_w - pad_l;
                    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = in_w - ix0 < k_w ? in_w - ix0 : k_w;
                    win.nx = kx1 - kx0;
                    win.x = row + (ix0 + kx0) * in_c;
                    /* the 3x3 routines run along windows wholly inside the row */
                    job.pixels = k3 && ox >= ox_a && ox < ox_b && win.ny >= 2 ? ox_b - ox : 1;
                    dw_chunk_pixel(o, &job, &win, ky0, kx0, p, k3, c0);
                }
            }
        }
    }
    return n4;
}
#endif

/* One input channel and depth multiplier > 1 (the first layer of person_detect and
   micro_speech) is the conv of the transposed filter, same sums and requantization; the conv
   kernels block over output channels, where depthwise ones would have a single channel. x64
   keeps its eight-channel depthwise loop. */
static int dw_as_conv(const int32_t *p) {
    return !TK_SSE2 && p[CV_IN_C] == 1 && p[CV_DEPTH_MULT] > 1;
}

/* the conv's scratch, then the transposed filter */
static size_t dw_conv_filter_at(const int32_t *p) {
    return (tk_conv_s8_scratch(p) + 7) & ~(size_t)7;
}

/* the transposed filter in scratch (a separate frame: the conv is then a tail call) */
__attribute__((noinline)) static const int8_t *dw_conv_filter(const int8_t *w, const int32_t *p,
                                                              void *scratch) {
    int taps = p[CV_K_H] * p[CV_K_W], out_c = p[CV_OUT_C];
    int8_t *wt = (int8_t *)scratch + dw_conv_filter_at(p);
    for (int t = 0; t < taps; t++) {
        for (int o = 0; o < out_c; o++) {
            wt[o * taps + t] = w[t * out_c + o];
        }
    }
    return wt;
}

/* DSP: a chunk's unpacked weights and requantization constants (kept off the C stack:
   MicroPython runs native code on the port's small task stack) */
size_t tk_depthwise_s8_scratch(const int32_t *p) {
    if (dw_as_conv(p)) {
        return dw_conv_filter_at(p) + (size_t)p[CV_K_H] * p[CV_K_W] * p[CV_OUT_C];
    }
#if TK_DSP
    if (p[CV_DEPTH_MULT] == 1 && p[CV_DIL_W] == 1) {
        return 4 * (size_t)dw_max_groups(p) * (size_t)dw_group_words(p);
    }
#elif TK_M0
    if (p[CV_DEPTH_MULT] == 1) {
        return TK_RQ_M0_BYTES(p[CV_OUT_C]) + 3 * 4 * (size_t)p[CV_OUT_C];
    }
#endif
    (void)p;
    return 0;
}

/* not inlined into tk_depthwise_s8: its frame would then sit under the conv's too */
__attribute__((noinline)) static void dw_s8(int8_t *out, const int8_t *in, const int8_t *w,
                                            const int32_t *p, void *scratch) {
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
    int out_c = p[CV_OUT_C], c = 0, px = p[CV_IN_H] * p[CV_IN_W] * p[CV_IN_C];
#if TK_DSP
    if (p[CV_DIL_W] == 1) {
        c = dw_chunks_dsp(out, in, w, p, scratch);
    }
#elif !TK_M0
    (void)scratch;
#endif
    if (c == out_c) {
        return;
    }
    dw_window_t win;
    dw_window_init(&win, p);
#if TK_M0
    const int32_t *bias = p + CV_HDR;
    const tk_rq_t rq = tk_rq(bias + out_c, bias + 2 * out_c, p[CV_OUT_OFFSET], p[CV_ACT_MIN],
                             p[CV_ACT_MAX]);
    tk_rq_m0_t r;
    tk_rq_m0_init(&r, scratch, &rq, out_c);
    int32_t *init3 = r.acc + TK_RQ_M0_WORDS * out_c;
    if (p[CV_K_H] == 3 && p[CV_K_W] == 3) {
        dw_init_3rows_m0(init3, w, p);
    }
#endif
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            for (int ox = 0; ox < p[CV_OUT_W]; ox++, out += out_c) {
                dw_window(&win, in + b * px, w, p, oy, ox);
#if TK_M0
                dw_pixel_m0(out, &win, w, p, &r, &rq, init3);
#else
                dw_pixel(out, &win, p, c);
#endif
            }
        }
    }
}

void tk_depthwise_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p,
                     void *scratch) {
    if (dw_as_conv(p)) {
        tk_conv_s8(out, in, dw_conv_filter(w, p, scratch), p, scratch);
    } else {
        dw_s8(out, in, w, p, scratch);
    }
}
