/* CONV_2D int8: NHWC input, OHWI filter, per-channel requantization (TFLM semantics).
   tk_conv_s8_ref is TFLM's reference loop; tk_conv_s8 gathers two output pixels at a time
   into int16 columns (input + offset, 0 for out-of-image taps) and runs the blocked dot
   products of dot.h over them. 1x1 convolutions read their columns straight from the input;
   on DSP, other kernels with dilation_w 1 pack each kernel row's run of inputs straight from
   word loads (row-run columns, see conv_runs_ok), and small filters with output channels in
   fours run pixel by pixel in quads of channels (conv_quads). On Cortex-M0 (int32 columns,
   one pixel at a time) blocks of eight channels run over a filter re-laid in scratch
   (conv_blocks8). */
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

static int conv_is_1x1(const int32_t *p);

static int conv_depth(const int32_t *p) {
    return p[CV_K_H] * p[CV_K_W] * p[CV_IN_C];
}

/* int16 items per column: K rounded up so every column starts 8-byte aligned */
static int col_stride(int K) {
    return (K + 3) & ~3;
}

#if TK_DSP
/* Row-run columns (DSP, dilation_w 1, not 1x1): each kernel row's k_w * in_c inputs are one
   run in memory. The column is reordered so runs pack straight from word loads: first every
   kernel row's leading R4 = run & ~3 values (group-aligned), then the rows' run % 4 leftovers,
   zero-padded to a whole group. With leftovers the filter rows are copied into scratch in the
   same order; with none the order is the filter's own. */
static int conv_runs_ok(const int32_t *p) {
    return p[CV_DIL_W] == 1 && !conv_is_1x1(p) && p[CV_K_W] * p[CV_IN_C] >= 3;
}

#define CONV_W16_MAX 8192    /* bytes of unpacked filter rows in scratch at most */

/* filter rows in scratch, only when enough output pixels share the copies: reordered bytes
   with leftovers; unpacked (tk_unpack_rows_dsp) for tk_dot_2x2n_w16_dsp when small */
static int conv_runs_reorder(const int32_t *p) {
    int pixels = p[CV_BATCHES] * p[CV_OUT_H] * p[CV_OUT_W];
    return conv_runs_ok(p) && (p[CV_K_W] * p[CV_IN_C]) % 4 != 0 && pixels >= 8;
}

/* row-run columns, or 1x1 input runs of whole groups, for enough pixels */
static int conv_runs_shape(const int32_t *p) {
    int pixels = p[CV_BATCHES] * p[CV_OUT_H] * p[CV_OUT_W];
    return (conv_runs_ok(p) || (conv_is_1x1(p) && conv_depth(p) % 4 == 0)) && pixels >= 8;
}

static int conv_runs_w16(const int32_t *p) {
    return conv_runs_shape(p) && 2 * p[CV_OUT_C] * col_stride(conv_depth(p)) <= CONV_W16_MAX;
}

/* Quads (tk_quads_dsp): with the filter rows unpacked and the output channels a multiple of
   4, whole pixels run in assembler, requantized from the accumulators in registers (dot.h:
   tk_mm_rq_*). */
#define CONV_QUAD_COL_BYTES 1024

/* packed columns per tk_quads_dsp call: as many as fit CONV_QUAD_COL_BYTES, 1 to 16 */
static int conv_quad_cols(const int32_t *p) {
    int n = CONV_QUAD_COL_BYTES / (2 * col_stride(conv_depth(p)));
    return n < 1 ? 1 : (n > 16 ? 16 : n);
}

/* the out_offset of the quads' constants (quads.h) */
static int32_t conv_quads_offset(const int32_t *p) {
    return tk_quads_offset(p[CV_OUT_OFFSET], p[CV_ACT_MIN], p[CV_ACT_MAX]);
}

/* output channels per quads stream: all when their rows unpacked fit CONV_W16_MAX, else (1x1
   filters, whose columns are cheap to pack again per block, and pixels enough to pay for
   each block's stream) the multiple of 4 that does; 0 when not even four rows fit */
static int conv_quad_block(const int32_t *p) {
    int quads = CONV_W16_MAX / (8 * col_stride(conv_depth(p)));
    if (quads >= p[CV_OUT_C] / 4) {
        return p[CV_OUT_C] & ~3;
    }
    return conv_is_1x1(p) && p[CV_BATCHES] * p[CV_OUT_H] * p[CV_OUT_W] >= 16 ? 4 * quads : 0;
}

static int conv_quads_ok(const int32_t *p) {
    int out_c = p[CV_OUT_C];
    int reordered = conv_runs_reorder(p) ? out_c * col_stride(conv_depth(p)) : 0;
    return out_c % 4 == 0 && conv_runs_shape(p) && conv_quad_block(p) >= 4
           && reordered <= CONV_W16_MAX
           && tk_mm_rq_fits(p + CV_HDR, p + CV_HDR + 2 * out_c, out_c, conv_depth(p),
                            conv_quads_offset(p));
}

/* int32 words of a block's quads stream (K padded to whole groups) */
static int conv_quads_words(const int32_t *p) {
    return tk_quads_stream_words(conv_quad_block(p), col_stride(conv_depth(p)));
}

static int conv_runs_w_bytes(const int32_t *p) {
    int n = p[CV_OUT_C] * col_stride(conv_depth(p));
    if (conv_quads_ok(p)) {
        return (conv_runs_reorder(p) ? n : 0) + 4 * conv_quads_words(p)
               + conv_quad_cols(p) * 2 * col_stride(conv_depth(p));
    }
    return (conv_runs_reorder(p) ? n : 0) + (conv_runs_w16(p) ? 2 * n : 0);
}

static void conv_runs_weights(int8_t *wr, const int8_t *w, const int32_t *p) {
    int run = p[CV_K_W] * p[CV_IN_C], r4 = run & ~3, rem = run - r4, k_h = p[CV_K_H];
    int K = conv_depth(p), Kr = col_stride(K), tail = k_h * r4;
    for (int oc = 0; oc < p[CV_OUT_C]; oc++, w += K, wr += Kr) {
        for (int ky = 0; ky < k_h; ky++) {
            for (int i = 0; i < r4; i++) {
                wr[ky * r4 + i] = w[ky * run + i];
            }
            for (int i = 0; i < rem; i++) {
                wr[tail + ky * rem + i] = w[ky * run + r4 + i];
            }
        }
        for (int k = tail + k_h * rem; k < Kr; k++) {
            wr[k] = 0;
        }
    }
}

/* n (a multiple of 4) natural values as packed groups, `step` words apart */
static void conv_pack_groups(uint32_t *dst, const int16_t *c, int n, int step) {
    for (int k = 0; k < n; k += 4, dst += step) {
        dst[0] = tk_pack16(c[k], c[k + 2]);
        dst[1] = tk_pack16(c[k + 1], c[k + 3]);
    }
}
#elif TK_M0
#define CONV_W8_MAX 16384    /* bytes of re-laid filter blocks in scratch at most */

/* output channels done in blocks of eight (tk_dot_1x8_m0), when enough output pixels share
   the re-laid filter: a multiple of 8, or 0 */
static int conv_blocks8(const int32_t *p) {
    int pixels = p[CV_BATCHES] * p[CV_OUT_H] * p[CV_OUT_W], n8 = p[CV_OUT_C] & ~7;
    return pixels >= 16 && n8 * col_stride(conv_depth(p)) <= CONV_W8_MAX ? n8 : 0;
}

static int conv_runs_w_bytes(const int32_t *p) {
    return conv_blocks8(p) * col_stride(conv_depth(p));
}

/* filter rows [0, n8) as tk_dot_1x8_m0's blocks, k in [K, Kp) zero; four k a pass */
static void conv_blocks8_weights(uint8_t *dst, const int8_t *w, int n8, int K, int Kp) {
    for (int oc = 0; oc < n8; oc++, w += K) {
        uint8_t *d = dst + (oc >> 3) * 8 * Kp + (oc & 7);
        const int8_t *s = w, *end = w + (K & ~3);
        for (; s != end; s += 4, d += 32) {
            d[0] = (uint8_t)(s[0] + 128);
            d[8] = (uint8_t)(s[1] + 128);
            d[16] = (uint8_t)(s[2] + 128);
            d[24] = (uint8_t)(s[3] + 128);
        }
        for (int k = K & ~3; k < Kp; k++, d += 8) {
            *d = k < K ? (uint8_t)(w[k] + 128) : 0;
        }
    }
}
#else
static int conv_runs_w_bytes(const int32_t *p) {
    (void)p;
    return 0;
}
#endif

/* the natural columns (two with pixel pairs, else one), then (DSP) the packed pair */
static size_t conv_cols_bytes(int K) {
    return (TK_PAIRS ? 2 : 1) * (size_t)col_stride(K) * sizeof(tk_col_t)
           + (TK_DSP ? 4 * (size_t)col_stride(K) : 0);
}

/* the columns, then (DSP) the accumulators and table of tk_pair_rows_dsp and the re-laid-out
   filter, or (Cortex-M0) the requantization table */
size_t tk_conv_s8_scratch(const int32_t *p) {
    return conv_cols_bytes(conv_depth(p)) + TK_MAT_ACC_BYTES + TK_RQ_TAB_BYTES(p[CV_OUT_C])
           + (size_t)conv_runs_w_bytes(p) + TK_RQ_M0_BYTES(p[CV_OUT_C]);
}

/* the column of output pixel (oy, ox), natural order: taps in (ky, kx, c) order like the
   filter rows; out-of-image taps are 0 (input zero point + offset) */
static void conv_fill_col(tk_col_t *col, const int8_t *in_b, const int32_t *p, int oy, int ox) {
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_w = p[CV_K_W];
    int dil_w = p[CV_DIL_W], row = k_w * in_c;
    int32_t in_offset = p[CV_IN_OFFSET];
    int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP];
    int ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
    tk_col_t *d = col;
#if TK_M0
    if (dil_w == 1 && ix0 >= 0 && ix0 + k_w <= in_w && iy0 >= 0
        && iy0 + (p[CV_K_H] - 1) * p[CV_DIL_H] < in_h) {     /* whole window inside */
        tk_col_rows_m0_job_t job = {col, in_b + (iy0 * in_w + ix0) * in_c, row, p[CV_K_H],
                                    p[CV_DIL_H] * in_w * in_c, in_offset};
        tk_col_rows_m0(&job);
        return;
    }
#endif
    for (int ky = 0; ky < p[CV_K_H]; ky++, d += row) {
        int iy = iy0 + ky * p[CV_DIL_H];
        if (iy < 0 || iy >= in_h) {
            tk_col_zero(d, row);
            continue;
        }
        const int8_t *src = in_b + iy * in_w * in_c;
        if (dil_w == 1 && ix0 >= 0 && ix0 + k_w <= in_w) {    /* whole kernel row inside */
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
}

/* 1x1 kernel, no padding, every output pixel inside the input: columns are input runs */
static int conv_is_1x1(const int32_t *p) {
    return p[CV_K_H] == 1 && p[CV_K_W] == 1 && p[CV_PAD_TOP] == 0 && p[CV_PAD_LEFT] == 0
           && (p[CV_OUT_H] - 1) * p[CV_STRIDE_H] < p[CV_IN_H]
           && (p[CV_OUT_W] - 1) * p[CV_STRIDE_W] < p[CV_IN_W];
}

typedef struct {
    const int8_t *in_b;     /* this batch's input */
    const int32_t *p;
    int K, is_1x1;
    tk_col_t *col[2];        /* natural columns (1x1 on DSP: just the K % 4 tail) */
    uint32_t *packed;       /* DSP: the packed single column or pair */
    int32_t *acc;           /* DSP: tk_pair_rows_dsp's accumulators, then its table */
    int runs;               /* DSP: row-run columns (K: their padded depth) */
    const uint32_t *w16;    /* DSP: the filter rows unpacked, or NULL */
#if TK_M0
    tk_rq_m0_t rq_m0;       /* accumulators and requantization table of one pixel */
    const uint8_t *w8;      /* channels [0, n8) as tk_dot_1x8_m0's blocks, or NULL */
    int n8;
#endif
    const int8_t *w;        /* filter rows in column order */
} conv_cols_t;

#if TK_DSP
/* a window wholly inside the input: k_h runs of r4 + rem bytes, row_stride apart, packed
   at dst (groups `step` words apart); the leftovers gathered at left, then packed */
static __attribute__((noinline)) void conv_runs_inside(uint32_t *dst, int step,
                                                       const int8_t *src, int row_stride,
                                                       int k_h, int r4, int rem,
                                                       int32_t in_offset, int16_t *left) {
    uint32_t off2 = ((uint32_t)in_offset & 0xFFFF) * 0x10001u;
    int16_t *l = left;
    for (int ky = 0; ky < k_h; ky++, src += row_stride) {
        const int8_t *s = src, *end = src + r4;
        for (; s != end; s += 4, dst += step) {
            tk_pack4(dst, s, off2);
        }
        for (int i = 0; i < rem; i++) {
            *l++ = (int16_t)(s[i] + in_offset);
        }
    }
    if (rem) {
        for (; (l - left) & 3; l++) {
            *l = 0;
        }
        conv_pack_groups(dst, left, (int)(l - left), step);
    }
}

/* a column touching the padding: col[0] holds a clipped kernel row, col[1] the leftovers */
static __attribute__((noinline)) void conv_runs_clipped(conv_cols_t *cc, uint32_t *dst,
                                                        int step, int iy0, int ix0) {
    const int32_t *p = cc->p;
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_w = p[CV_K_W];
    int run = k_w * in_c, r4 = run & ~3, rem = run - r4, k_h = p[CV_K_H];
    int32_t in_offset = p[CV_IN_OFFSET];
    int16_t *row = cc->col[0], *left = cc->col[1];
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = in_w - ix0 < k_w ? in_w - ix0 : k_w;   /* taps inside */
    kx0 = kx0 < k_w ? kx0 : k_w;
    kx1 = kx1 > kx0 ? kx1 : kx0;
    for (int ky = 0; ky < k_h; ky++, dst += step * (r4 / 4), left += rem) {
        int iy = iy0 + ky * p[CV_DIL_H];
        if (iy < 0 || iy >= in_h) {
            for (int g = 0; g < r4 / 4; g++) {
                dst[g * step] = dst[g * step + 1] = 0;
            }
            tk_col_zero(left, rem);
            continue;
        }
        const int8_t *src = cc->in_b + (iy * in_w + ix0) * in_c;
        if (ix0 >= 0 && ix0 + k_w <= in_w) {
            tk_pack_run(dst, src, r4, in_offset, step);
            tk_col_put(left, src + r4, rem, in_offset);
            continue;
        }
        tk_col_zero(row, kx0 * in_c);
        tk_col_put(row + kx0 * in_c, src + kx0 * in_c, (kx1 - kx0) * in_c, in_offset);
        tk_col_zero(row + kx1 * in_c, (k_w - kx1) * in_c);
        conv_pack_groups(dst, row, r4, step);
        for (int i = 0; i < rem; i++) {
            left[i] = row[r4 + i];
        }
    }
    if (rem) {
        int n = k_h * rem;
        left = cc->col[1];
        for (int i = n; i < ((n + 3) & ~3); i++) {
            left[i] = 0;
        }
        conv_pack_groups(dst, left, (n + 3) & ~3, step);
    }
}

/* a window touching the padding as k_h runs of bytes at win: its taps inside the input, and
   fill (the input zero point: 0 once offset) for the others */
static __attribute__((noinline)) void conv_window_bytes(int8_t *win, const conv_cols_t *cc,
                                                        int iy0, int ix0, int8_t fill) {
    const int32_t *p = cc->p;
    int in_h = p[CV_IN_H], in_w = p[CV_IN_W], in_c = p[CV_IN_C], k_w = p[CV_K_W];
    int run = k_w * in_c;
    int kx0 = ix0 < 0 ? -ix0 : 0, kx1 = in_w - ix0 < k_w ? in_w - ix0 : k_w;   /* taps inside */
    kx0 = kx0 < k_w ? kx0 : k_w;
    kx1 = kx1 > kx0 ? kx1 : kx0;
    for (int ky = 0; ky < p[CV_K_H]; ky++, win += run) {
        int iy = iy0 + ky * p[CV_DIL_H], i = 0;
        if (iy >= 0 && iy < in_h) {
            const int8_t *row = cc->in_b + iy * in_w * in_c;
            for (; i < kx0 * in_c; i++) {
                win[i] = fill;
            }
            for (; i < kx1 * in_c; i++) {
                win[i] = row[ix0 * in_c + i];
            }
        }
        for (; i < run; i++) {
            win[i] = fill;
        }
    }
}

/* the packed row-run column of output pixel (oy, ox) at dst, groups `step` words apart */
static void conv_runs_column(conv_cols_t *cc, uint32_t *dst, int step, int oy, int ox) {
    const int32_t *p = cc->p;
    int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
    int k_h = p[CV_K_H], k_w = p[CV_K_W], in_w = p[CV_IN_W], in_c = p[CV_IN_C];
    if (iy0 < 0 || iy0 + (k_h - 1) * p[CV_DIL_H] >= p[CV_IN_H] || ix0 < 0
        || ix0 + k_w > in_w) {
        conv_runs_clipped(cc, dst, step, iy0, ix0);
        return;
    }
    int r4 = (k_w * in_c) & ~3;
    conv_runs_inside(dst, step, cc->in_b + (iy0 * in_w + ix0) * in_c, p[CV_DIL_H] * in_w * in_c,
                     k_h, r4, k_w * in_c - r4, p[CV_IN_OFFSET], cc->col[1]);
}
#endif

/* natural column j of output pixel (oy, ox), on DSP packed as conv_column says (out of line
   there: its frame stays off the runs path) */
#if TK_DSP
__attribute__((noinline))
#endif
static void conv_column_filled(conv_cols_t *cc, int j, int oy, int ox, int pair) {
    conv_fill_col(cc->col[j], cc->in_b, cc->p, oy, ox);
#if TK_DSP
    if (!pair) {
        tk_pack_col(cc->packed, cc->col[0], cc->K);
    } else if (j == 1) {
        tk_pack_pair(cc->packed, cc->col[0], cc->col[1], cc->K);
    }
#else
    (void)pair;
#endif
}

/* column j (0, 1) of output pixel (oy, ox); pair: it is part of a two-pixel block */
static void conv_column(conv_cols_t *cc, int j, int oy, int ox, int pair) {
    const int32_t *p = cc->p;
    int K = cc->K;
#if TK_DSP
    if (cc->runs) {
        conv_runs_column(cc, cc->packed + (pair ? 2 * j : 0), pair ? 4 : 2, oy, ox);
        return;
    }
#endif
    if (!cc->is_1x1) {
        conv_column_filled(cc, j, oy, ox, pair);
        return;
    }
    const int8_t *x = cc->in_b + (oy * p[CV_STRIDE_H] * p[CV_IN_W] + ox * p[CV_STRIDE_W]) * K;
#if TK_DSP
    int k4 = K & ~3;
    tk_pack_run(cc->packed + 2 * j, x, K, p[CV_IN_OFFSET], pair ? 4 : 2);
    tk_col_put(cc->col[j] + k4, x + k4, K - k4, p[CV_IN_OFFSET]);
#else
    (void)pair;
    tk_col_put(cc->col[j], x, K, p[CV_IN_OFFSET]);
#endif
}

static tk_rq_t conv_rq(const int32_t *p) {
    const int32_t *mult = p + CV_HDR + p[CV_OUT_C];
    return tk_rq(mult, mult + p[CV_OUT_C], p[CV_OUT_OFFSET], p[CV_ACT_MIN], p[CV_ACT_MAX]);
}

/* all output channels of two pixels (out, out + out_c): 2x2 blocks of (pixel, channel) */
static void conv_pair(int8_t *out, const conv_cols_t *cc, const int8_t *w) {
    const int32_t *p = cc->p, *bias = p + CV_HDR;
    int out_c = p[CV_OUT_C], K = cc->K, oc = 0;
    const tk_col_t *c0 = cc->col[0], *c1 = cc->col[1];
    const tk_rq_t rq = conv_rq(p);
    int32_t acc[4];
#if TK_DSP
    oc = tk_pair_rows_dsp(out, out_c, c0, c1, cc->packed, w, K, out_c, bias, &rq, cc->acc,
                          cc->acc + TK_MAT_ACC_BYTES / 4, cc->w16);
#endif
    for (; oc + 2 <= out_c; oc += 2) {
        acc[0] = acc[2] = bias[oc];
        acc[1] = acc[3] = bias[oc + 1];
        tk_dot_2x2(c0, c1, cc->packed, w + oc * K, K, acc);
        tk_rq2_s8(&rq, oc, acc[0], acc[2], &out[oc], &out[out_c + oc]);
        tk_rq2_s8(&rq, oc + 1, acc[1], acc[3], &out[oc + 1], &out[out_c + oc + 1]);
    }
    if (oc < out_c) {
        out[oc] = tk_rq_s8(&rq, tk_dot_1x1(c0, cc->packed, 4, w + oc * K, K, bias[oc]), oc);
        out[out_c + oc] = tk_rq_s8(&rq, tk_dot_1x1(c1, cc->packed + 2, 4, w + oc * K, K, bias[oc]),
                                   oc);
    }
}

/* all output channels of one pixel: on Cortex-M0 the re-laid blocks of eight first, then
   four channels at a time */
static void conv_single(int8_t *out, const conv_cols_t *cc, const int8_t *w) {
    const int32_t *p = cc->p, *bias = p + CV_HDR;
    int out_c = p[CV_OUT_C], K = cc->K, oc = 0;
    const tk_rq_t rq = conv_rq(p);
#if TK_M0
    int32_t *acc = cc->rq_m0.acc;
    if (cc->w8) {
        tk_dot8_m0_job_t job = {cc->col[0], cc->col[0] + col_stride(K), cc->w8, bias, acc,
                                acc + cc->n8};
        tk_dot_1x8_m0(&job);
        oc = cc->n8;
    }
    for (; oc + 4 <= out_c; oc += 4) {
        for (int j = 0; j < 4; j++) {
            acc[oc + j] = bias[oc + j];
        }
        tk_dot_1x4(cc->col[0], cc->packed, w + oc * K, K, acc + oc);
    }
    for (; oc < out_c; oc++) {
        acc[oc] = tk_dot_1x1(cc->col[0], cc->packed, 2, w + oc * K, K, bias[oc]);
    }
    tk_rq_m0_run(&cc->rq_m0, &rq, out);
#else
    int32_t acc[4];
    for (; oc + 4 <= out_c; oc += 4) {
        for (int j = 0; j < 4; j++) {
            acc[j] = bias[oc + j];
        }
        tk_dot_1x4(cc->col[0], cc->packed, w + oc * K, K, acc);
        for (int j = 0; j < 4; j++) {
            out[oc + j] = tk_rq_s8(&rq, acc[j], oc + j);
        }
    }
    for (; oc < out_c; oc++) {
        int32_t a = tk_dot_1x1(cc->col[0], cc->packed, 2, w + oc * K, K, bias[oc]);
        out[oc] = tk_rq_s8(&rq, a, oc);
    }
#endif
}

#if TK_DSP
/* conv_quads's column packing */
typedef struct {
    tk_runs_geom_t g;           /* the input's row runs */
    int ox_a, ox_b;             /* tk_inside_span */
    /* row-run windows of three runs of 3 or 9 inputs (one-channel or RGB 3x3 filters) */
    void (*pack)(uint32_t *, uint32_t *, const int8_t *, const tk_runs_geom_t *);
    int8_t fill;                /* the input zero point, if in int8 (such windows) */
} conv_quads_t;

/* columns from output pixel (oy, ox) on, at most `room`, packed at dst; returns how many */
static int conv_quads_cols(conv_cols_t *cc, const conv_quads_t *q, uint32_t *dst, int oy, int ox,
                           int room) {
    const int32_t *p = cc->p;
    int k_h = p[CV_K_H], run = p[CV_K_W] * p[CV_IN_C], n = 1;
    int iy0 = oy * p[CV_STRIDE_H] - p[CV_PAD_TOP], ix0 = ox * p[CV_STRIDE_W] - p[CV_PAD_LEFT];
    int rows_in = iy0 >= 0 && iy0 + (k_h - 1) * p[CV_DIL_H] < p[CV_IN_H];
    if (cc->is_1x1 && p[CV_STRIDE_W] == 1) {        /* the row's pixels: one run of inputs */
        n = p[CV_OUT_W] - ox < room ? p[CV_OUT_W] - ox : room;
        tk_pack_run(dst, cc->in_b + (iy0 * p[CV_IN_W] + ox) * cc->K, n * cc->K,
                    p[CV_IN_OFFSET], 2);
    } else if (cc->runs && rows_in && ox >= q->ox_a && ox < q->ox_b) {
        const int8_t *x = cc->in_b + (iy0 * p[CV_IN_W] + ix0) * p[CV_IN_C];
        if (q->pack) {
            n = q->ox_b - ox < room ? q->ox_b - ox : room;
            q->pack(dst, dst + n * cc->K / 2, x, &q->g);
        } else {
            conv_runs_inside(dst, 2, x, q->g.row_stride, k_h, run & ~3, run & 3,
                             p[CV_IN_OFFSET], cc->col[1]);
        }
    } else if (q->pack && q->fill + p[CV_IN_OFFSET] == 0) {
        conv_window_bytes((int8_t *)cc->col[0], cc, iy0, ix0, q->fill);
        tk_runs_geom_t g_win = {q->g.off2, run, 0};       /* conv_window_bytes's rows */
        q->pack(dst, dst + cc->K / 2, (const int8_t *)cc->col[0], &g_win);
    } else {
        cc->packed = dst;
        conv_column(cc, 0, oy, ox, 0);
    }
    return n;
}

/* every pixel's n_ch channels of the stream (from out on, pixels out_c apart) by
   tk_quads_dsp, up to conv_quad_cols columns packed at cols per call */
static void conv_quads(int8_t *out, conv_cols_t *cc, const int8_t *in, const int32_t *stream,
                       int n_ch, uint32_t *cols) {
    const int32_t *p = cc->p;
    int out_c = p[CV_OUT_C], in_c = p[CV_IN_C], run = p[CV_K_W] * in_c, n = 0;
    int clamp = tk_quads_clamped(p[CV_ACT_MIN], p[CV_ACT_MAX]), cols_max = conv_quad_cols(p);
    uint32_t off2 = ((uint32_t)p[CV_IN_OFFSET] & 0xFFFF) * 0x10001u;
    conv_quads_t q = {{off2, p[CV_DIL_H] * p[CV_IN_W] * in_c, p[CV_STRIDE_W] * in_c}, 0, 0,
                      NULL, (int8_t)-p[CV_IN_OFFSET]};
    if (cc->runs && p[CV_K_H] == 3 && (run == 3 || run == 9)) {
        q.pack = run == 3 ? tk_pack_3x3_dsp : tk_pack_3x9_dsp;
    }
    tk_quads_job_t job = {cols, cols, stream, stream + tk_quads_stream_words(n_ch, cc->K), out,
                          cc->K / 4, {0, 0}, out_c - n_ch};
    tk_clamp4(job.clamp, p[CV_ACT_MIN], p[CV_ACT_MAX]);
    tk_inside_span(p[CV_OUT_W], p[CV_IN_W], p[CV_K_W], p[CV_STRIDE_W], p[CV_PAD_LEFT], &q.ox_a,
                   &q.ox_b);
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        cc->in_b = in + b * p[CV_IN_H] * p[CV_IN_W] * in_c;
        for (int oy = 0; oy < p[CV_OUT_H]; oy++) {
            for (int ox = 0; ox < p[CV_OUT_W];) {
                int m = conv_quads_cols(cc, &q, cols + n * cc->K / 2, oy, ox, cols_max - n);
                ox += m;
                n += m;
                if (n == cols_max) {
                    job.cols_end = cols + n * cc->K / 2;
                    tk_quads_run(&job, clamp);
                    job.out += n * out_c;
                    n = 0;
                }
            }
        }
    }
    if (n) {
        job.cols_end = cols + n * cc->K / 2;
        tk_quads_run(&job, clamp);
    }
}
#endif

void tk_conv_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p, void *scratch) {
    int out_c = p[CV_OUT_C], out_w = p[CV_OUT_W];
    conv_cols_t cc;
    cc.p = p;
    cc.K = conv_depth(p);
    cc.is_1x1 = conv_is_1x1(p);
    cc.col[0] = (tk_col_t *)scratch;
    cc.col[1] = cc.col[0] + col_stride(cc.K);       /* pixel pairs only */
    cc.packed = (uint32_t *)(cc.col[0] + (TK_PAIRS ? 2 : 1) * col_stride(cc.K));
    cc.acc = (int32_t *)((char *)scratch + conv_cols_bytes(cc.K));
    cc.runs = 0;
    cc.w = w;
    cc.w16 = 0;
#if TK_M0
    const tk_rq_t rq = conv_rq(p);
    tk_rq_m0_init(&cc.rq_m0, cc.acc, &rq, out_c);
    cc.n8 = conv_blocks8(p);
    cc.w8 = 0;
    if (cc.n8) {
        uint8_t *w8 = (uint8_t *)(cc.rq_m0.acc + TK_RQ_M0_WORDS * out_c);
        conv_blocks8_weights(w8, w, cc.n8, cc.K, col_stride(cc.K));
        tk_col_zero(cc.col[0] + cc.K, col_stride(cc.K) - cc.K);
        cc.w8 = w8;
    }
#endif
#if TK_DSP
    int8_t *wr = (int8_t *)cc.acc + TK_MAT_ACC_BYTES + TK_RQ_TAB_BYTES(out_c);
    if (conv_runs_ok(p) && (conv_runs_reorder(p) || (p[CV_K_W] * p[CV_IN_C]) % 4 == 0)) {
        cc.runs = 1;
        if (conv_runs_reorder(p)) {
            conv_runs_weights(wr, w, p);
            cc.w = wr;
            wr += out_c * col_stride(cc.K);
        }
        cc.K = col_stride(cc.K);
    }
    if (conv_quads_ok(p)) {
        /* a block of channels at a time when their stream is too large in one piece */
        int32_t *stream = (int32_t *)wr;
        const int32_t *bias = p + CV_HDR;
        int block = conv_quad_block(p);
        for (int c0 = 0; c0 < out_c; c0 += block) {
            int n = out_c - c0 < block ? out_c - c0 : block;
            tk_quads_stream(stream, cc.w + c0 * cc.K, cc.K, cc.K, cc.K, bias + c0,
                            bias + out_c + c0, bias + 2 * out_c + c0, n, conv_quads_offset(p));
            conv_quads(out + c0, &cc, in, stream, n, (uint32_t *)(stream + conv_quads_words(p)));
        }
        return;
    }
    if (conv_runs_w16(p)) {
        tk_unpack_rows_dsp((uint32_t *)wr, cc.w, out_c, cc.K);
        cc.w16 = (const uint32_t *)wr;
    }
    const tk_rq_t rq = conv_rq(p);
    tk_rq_table_dsp(cc.acc + TK_MAT_ACC_BYTES / 4, &rq, out_c);
#endif
    for (int b = 0; b < p[CV_BATCHES]; b++) {
        cc.in_b = in + b * p[CV_IN_H] * p[CV_IN_W] * p[CV_IN_C];
        int oy = 0, ox = 0, left = p[CV_OUT_H] * out_w;
        for (; TK_PAIRS && left >= 2; left -= 2, out += 2 * out_c) {
            conv_column(&cc, 0, oy, ox, 1);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
            conv_column(&cc, 1, oy, ox, 1);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
            conv_pair(out, &cc, cc.w);
        }
        for (; left > 0; left--, out += out_c) {
            conv_column(&cc, 0, oy, ox, 0);
            conv_single(out, &cc, cc.w);
            if (++ox == out_w) {
                ox = 0;
                oy++;
            }
        }
    }
}
