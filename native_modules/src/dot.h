/* Shared inner loops of conv and fully connected: int16 "columns" (input + offset, one per
   output pixel or input row, 0 for padding) times int8 weight rows of length K.

   Columns are filled in natural order. On Armv7E-M (DSP extension) the dot products run the
   way CMSIS-NN's do: SXTB16 widens four int8 weights into the int16 pairs (w0, w2), (w1, w3)
   and SMLAD does two MACs per instruction, so each group of four column values is repacked
   as words (x0, x2), (x1, x3); a pair of columns is interleaved group by group so one LDM
   fetches both. The K % 4 tail is always done in C from the natural columns (conv's row-run
   columns are padded to whole groups and have none). Small filters are unpacked once per
   call into scratch (tk_unpack_rows_dsp), sparing the SXTB16s. Requantization constants
   are tabled once per call (tk_rq_table_dsp; tk_rq_m0_init on Cortex-M0). With such filters
   and output channels in fours, conv runs whole pixels in assembler (tk_quads_dsp) and, like
   the depthwise routines, requantizes from the accumulators in registers (tk_mm_rq_*). */
#ifndef TK_DOT_H
#define TK_DOT_H
#include <stdint.h>
#include "udiv.h"
#include "quads.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TK_DSP 1
#else
#define TK_DSP 0
#endif

/* Cortex-M0 loads signed bytes only with register offsets and multiplies in place, so its
   loop (tk_dot_1x4_m0) walks an int32 column with LDM and the four weight rows with one
   shared index; there, columns hold int32 values and pixels go one at a time. Conv with
   enough pixels re-lays its filter once per call for tk_dot_1x8_m0 (unsigned bytes, LDRB
   with immediate offsets, eight channels a pass). */
#if defined(__ARM_ARCH_6M__)
#define TK_M0 1
typedef int32_t tk_col_t;
#else
#define TK_M0 0
typedef int16_t tk_col_t;
#endif
#define TK_PAIRS (!TK_M0)       /* blocks of two pixels / input rows */

#if defined(__x86_64__) && defined(__SSE2__)
#define TK_SSE2 1
#include "dot_sse2.h"
#else
#define TK_SSE2 0
#endif

static inline uint32_t tk_ld32(const void *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

#if TK_M0
/* rows runs of n >= 1 inputs, stride bytes apart from src, to col one after another, each
   value + off (dot_dsp.c) */
typedef struct {
    int32_t *col;
    const int8_t *src;
    int32_t n, rows, stride, off;
} tk_col_rows_m0_job_t;
void tk_col_rows_m0(const tk_col_rows_m0_job_t *job);
#endif

/* col[0..n) = x[0..n) + offset */
static inline void tk_col_put(tk_col_t *col, const int8_t *x, int n, int32_t offset) {
#if TK_M0
    if (n > 0) {
        tk_col_rows_m0_job_t job = {col, x, n, 1, 0, offset};
        tk_col_rows_m0(&job);
    }
    return;
#endif
    int i = 0;
#if TK_SSE2
    i = tk_col_put_sse2(col, x, n, offset);
#endif
    for (; i < n; i++) {
        col[i] = (tk_col_t)(x[i] + offset);
    }
}

static inline void tk_col_zero(tk_col_t *col, int n) {
    for (int i = 0; i < n; i++) {
        col[i] = 0;
    }
}

#if TK_DSP
static inline int32_t tk_sxtb16(uint32_t x) {
    int32_t r;
    __asm__ ("sxtb16 %0, %1" : "=r" (r) : "r" (x));
    return r;
}
static inline int32_t tk_sxtb16_ror8(uint32_t x) {
    int32_t r;
    __asm__ ("sxtb16 %0, %1, ror #8" : "=r" (r) : "r" (x));
    return r;
}
static inline int32_t tk_sxtab16(uint32_t a, uint32_t x) {
    int32_t r;
    __asm__ ("sxtab16 %0, %1, %2" : "=r" (r) : "r" (a), "r" (x));
    return r;
}
static inline int32_t tk_sxtab16_ror8(uint32_t a, uint32_t x) {
    int32_t r;
    __asm__ ("sxtab16 %0, %1, %2, ror #8" : "=r" (r) : "r" (a), "r" (x));
    return r;
}

/* output columns [*a, *b) of [0, out_w) whose windows of k_w taps (dilation 1) lie inside the
   input row */
static inline void tk_inside_span(int out_w, int in_w, int k_w, int stride_w, int pad_l, int *a,
                                  int *b) {
    int last = in_w - k_w + pad_l;
    *a = pad_l > 0 ? (int)tk_udiv32((uint32_t)(pad_l + stride_w - 1), (uint32_t)stride_w) : 0;
    *b = last >= 0 ? (int)tk_udiv32((uint32_t)last, (uint32_t)stride_w) + 1 : 0;
    *b = *b < out_w ? *b : out_w;
}

/* depthwise (depth multiplier 1, dilation_w 1) over `groups` groups of four channels of
   `pixels` output pixels whose windows are alike (x_next / out_next apart), see
   dot_dsp.c, requantized in registers (tk_mm_rq_*). The chunk's weights are unpacked once:
   per group its four biases, per filter tap the words (f0, f2), (f1, f3), then per channel
   tk_mm_rq_words (biases and weights scaled). The job is left unchanged. */
typedef struct {
    const int8_t *x;            /* the window's first tap (input) at the first channel */
    const int32_t *w;           /* unpacked chunk: group 0's biases */
    int8_t *out;                /* the first channel's output */
    int32_t groups;             /* >= 1 */
    int32_t c, row, off2;       /* channel count (tap stride), input row stride, offset pair */
    int32_t ny, nx;             /* tk_dw_window_dsp only: window rows, taps per row (>= 1) */
    int32_t w_skip;             /* tk_dw_window_dsp: bytes from a window row's last unpacked
                                   tap to the next row */
    int32_t w_group;            /* bytes from one group's biases to the next's */
    int32_t w_first;            /* tk_dw_window_dsp: bytes from a group's biases to the
                                   window's first tap */
    int32_t w_rq;               /* bytes from a group's biases to its constants */
    uint32_t clamp[2];          /* tk_clamp4; the constants' Ra with out_offset - act_min */
    int32_t pixels;             /* >= 1; tk_dw_window_dsp: 1 */
    int32_t x_next, out_next;   /* bytes from a pixel's last group to the next pixel's first */
    const int32_t *w_end;       /* the chunk's end: w + groups * w_group / 4 */
} tk_dw_job_t;
void tk_dw_3x3_dsp(const tk_dw_job_t *job);
void tk_dw_window_dsp(const tk_dw_job_t *job);
/* windows of a 3x3 filter (w_group 152, w_rq 88) clipped to rows r.. and columns c.. */
void tk_dw_r01_c012_dsp(const tk_dw_job_t *job);
void tk_dw_r12_c012_dsp(const tk_dw_job_t *job);
void tk_dw_r012_c01_dsp(const tk_dw_job_t *job);
void tk_dw_r012_c12_dsp(const tk_dw_job_t *job);
void tk_dw_r01_c01_dsp(const tk_dw_job_t *job);
void tk_dw_r01_c12_dsp(const tk_dw_job_t *job);
void tk_dw_r12_c01_dsp(const tk_dw_job_t *job);
void tk_dw_r12_c12_dsp(const tk_dw_job_t *job);

/* 2x2 blocks down consecutive weight row pairs: per pair, acc gets (c0 r0, c0 r1, c1 r0,
   c1 r1) of its K & ~3 leading terms plus the rows' biases; job fields advance */
typedef struct {
    const void *cols;           /* the packed pair */
    const int8_t *w;            /* first row */
    int32_t k;                  /* row length */
    const int32_t *bias;        /* first row's bias */
    int32_t *acc;
    int32_t pairs;              /* >= 1 */
    int32_t k4;                 /* k & ~3 */
} tk_mat_job_t;
void tk_dot_2x2n_dsp(tk_mat_job_t *job);
/* the same over unpacked rows (job->w: tk_unpack_rows_dsp's words; k a multiple of 4) */
void tk_dot_2x2n_w16_dsp(tk_mat_job_t *job);

/* n rows of k (a multiple of 4) int8 weights as words (w0, w2), (w1, w3) per group */
static inline void tk_unpack_rows_dsp(uint32_t *dst, const int8_t *w, int n, int k) {
    for (int i = 0; i < n * k; i += 4, dst += 2) {
        uint32_t v = tk_ld32(w + i);
        dst[0] = (uint32_t)tk_sxtb16(v);
        dst[1] = (uint32_t)tk_sxtb16_ror8(v);
    }
}

/* the int16 pair (lo, hi) of w times the pair f (the products within int16) */
static inline uint32_t tk_scale_pair(uint32_t w, uint32_t f) {
    uint32_t lo, hi;
    __asm__ ("smulbb %0, %2, %3\n\t"
             "smultt %1, %2, %3\n\t"
             "pkhbt %0, %0, %1, lsl #16" : "=&r" (lo), "=&r" (hi) : "r" (w), "r" (f));
    return lo;
}

/* packed columns (step 2, one after another from dst to dst_end, 14 words each) of windows
   of three runs of nine inputs, the first window at src: each run's first eight values plus
   the offset, then the group (r0[8], r1[8], r2[8], x) whose fourth value x is arbitrary
   (conv.c's row-run columns: its weight is 0) */
typedef struct {
    uint32_t off2;              /* the input offset in both halves */
    int32_t row_stride;         /* bytes from one run to the next */
    int32_t step;               /* bytes from one window to the next */
} tk_runs_geom_t;
void tk_pack_3x9_dsp(uint32_t *dst, uint32_t *dst_end, const int8_t *src,
                     const tk_runs_geom_t *g);
/* the same for windows of three runs of three inputs (3x3 filters over one channel): 6 words
   a column, the last one arbitrary (its weights are 0) */
void tk_pack_3x3_dsp(uint32_t *dst, uint32_t *dst_end, const int8_t *src,
                     const tk_runs_geom_t *g);

/* requantization of such blocks (dot_dsp.c), tk_rq_s8 in assembler: pair j's acc (c0 r0,
   c0 r1, c1 r0, c1 r1) to out[2j], out[2j + 1] (column 0) and out[stride + 2j],
   out[stride + 2j + 1]; channel c's constants at tab + 4c (tk_rq_table_dsp) */
typedef struct {
    const int32_t *acc;
    int8_t *out;
    int32_t stride;
    const int32_t *tab;
    int32_t out_offset, act_min, act_max;
    const int32_t *acc_end;     /* > acc */
} tk_rq_job_t;
void tk_rq_2x2n_dsp(const tk_rq_job_t *job);

/* acc[0..4) += the block's dot products; cols: packed words, w: first row, k: row length */
void tk_dot_2x2_dsp(int32_t *acc, const void *cols, const int8_t *w, int32_t k);
void tk_dot_1x4s_dsp(int32_t *acc, const void *cols, const int8_t *w, int32_t k, int32_t ws);
void tk_dot_1x4_dsp(int32_t *acc, const void *cols, const int8_t *w, int32_t k);   /* ws = k */

/* one column's groups as words (x0, x2), (x1, x3) */
static inline void tk_pack_col(uint32_t *dst, const int16_t *c, int K) {
    for (int k = 0; k + 4 <= K; k += 4, dst += 2) {
        dst[0] = tk_pack16(c[k], c[k + 2]);
        dst[1] = tk_pack16(c[k + 1], c[k + 3]);
    }
}

/* two columns' groups interleaved: c0 (x0, x2), c0 (x1, x3), c1 (x0, x2), c1 (x1, x3) */
static inline void tk_pack_pair(uint32_t *dst, const int16_t *c0, const int16_t *c1, int K) {
    for (int k = 0; k + 4 <= K; k += 4, dst += 4) {
        dst[0] = tk_pack16(c0[k], c0[k + 2]);
        dst[1] = tk_pack16(c0[k + 1], c0[k + 3]);
        dst[2] = tk_pack16(c1[k], c1[k + 2]);
        dst[3] = tk_pack16(c1[k + 1], c1[k + 3]);
    }
}

/* pack straight from an input run (1x1 conv, fully connected): SXTAB16 adds the offset to
   bytes (0, 2) and, rotated, (1, 3) of four inputs at once. step 2: a single column, step 4:
   the first (dst) or second (dst + 2) column of an interleaved pair */
/* one group: four inputs at x plus the offset (off2: in both halves) as words (x0, x2), (x1, x3) */
static inline void tk_pack4(uint32_t *dst, const int8_t *x, uint32_t off2) {
    uint32_t v = tk_ld32(x);
    dst[0] = (uint32_t)tk_sxtab16(off2, v);
    dst[1] = (uint32_t)tk_sxtab16_ror8(off2, v);
}

static inline void tk_pack_run(uint32_t *dst, const int8_t *x, int K, int32_t offset, int step) {
    uint32_t off2 = ((uint32_t)offset & 0xFFFF) * 0x10001u;
    for (int k = 0; k + 4 <= K; k += 4, dst += step) {
        tk_pack4(dst, x + k, off2);
    }
}
#endif

#if TK_DSP
#include "requant.h"
#define TK_MAT_CHUNK 16         /* row pairs per tk_dot_2x2n_dsp call */
#define TK_MAT_ACC_BYTES (16 * TK_MAT_CHUNK)
#define TK_RQ_TAB_BYTES(n) (16 * (size_t)(n))

/* tk_rq_2x2n_dsp's per-channel words: shift <= -1 (e = -shift): the rounding constant's low
   and high words for a >= 0 (e >= 2: 2**30, 2**(e-2); e = 1: 3 * 2**30, 0), m, e - 1;
   shift >= 0: m and ~shift (negative) in the same places */
static inline void tk_rq_table_dsp(int32_t *tab, const tk_rq_t *rq, int n) {
    for (int c = 0; c < n; c++, tab += 4) {
        int32_t e = -rq->shift[c];
        tab[0] = e >= 2 ? 0x40000000 : (int32_t)0xC0000000u;
        tab[1] = rq->mult[c];
        tab[2] = e >= 2 ? (int32_t)(1u << (e - 2)) : 0;
        tab[3] = e >= 1 ? e - 1 : ~rq->shift[c];
    }
}

/* rows [0, n_out & ~1) of a block of two columns (pixels or input rows), requantized to
   out[r] (column 0) and out[stride + r] (column 1); returns the rows done. c0, c1: the
   natural columns, for the K % 4 tail; acc: TK_MAT_ACC_BYTES of scratch; tab: the rows'
   tk_rq_table_dsp; w16: the rows unpacked (K a multiple of 4), or NULL */
static inline int tk_pair_rows_dsp(int8_t *out, int stride, const int16_t *c0, const int16_t *c1,
                                   const void *packed, const int8_t *w, int K, int n_out,
                                   const int32_t *bias, const tk_rq_t *rq, int32_t *acc,
                                   const int32_t *tab, const uint32_t *w16) {
    tk_mat_job_t job = {packed, w16 ? (const int8_t *)w16 : w, K, bias, acc, 0, K & ~3};
    int n2 = n_out & ~1;
    for (int r = 0; r < n2; r += 2 * TK_MAT_CHUNK) {
        int pairs = (n2 - r) / 2 < TK_MAT_CHUNK ? (n2 - r) / 2 : TK_MAT_CHUNK;
        job.acc = acc;
        job.pairs = pairs;
        if (w16) {
            tk_dot_2x2n_w16_dsp(&job);
        } else {
            tk_dot_2x2n_dsp(&job);
        }
        for (int j = 0, o = r; (K & 3) && j < pairs; j++, o += 2) {
            int32_t *a = acc + 4 * j;
            const int8_t *w0 = w + o * K, *w1 = w0 + K;
            for (int k = K & ~3; k < K; k++) {
                a[0] += c0[k] * w0[k];
                a[1] += c0[k] * w1[k];
                a[2] += c1[k] * w0[k];
                a[3] += c1[k] * w1[k];
            }
        }
        tk_rq_job_t q = {acc, out + r, stride, tab + 4 * r, rq->out_offset, rq->act_min,
                         rq->act_max, acc + 4 * pairs};
        tk_rq_2x2n_dsp(&q);
    }
    return n2;
}
#else
#define TK_MAT_ACC_BYTES 0
#define TK_RQ_TAB_BYTES(n) ((size_t)0 * (n))
#endif

#if !TK_M0
#define TK_RQ_M0_BYTES(n) ((size_t)0 * (n))
#else
#include "requant.h"

/* depthwise 3x3 (depth multiplier 1, dilation_w 1), windows of 3 rows: acc[j] = init[j]
   + the taps of channel j of x_end - x consecutive channels, the input offset not added
   (init holds it times the window's filter sum) */
typedef struct {
    const int8_t *x, *f;        /* window's first tap (input, filter) at the first channel */
    int32_t *acc;
    const int8_t *x_end;        /* > x */
    int32_t c, row, off, f_row; /* tap stride, input / filter row strides, input offset */
    int32_t ny;                 /* tk_dw_rows*_m0: window rows (>= 1) */
    const int32_t *init;        /* the accumulators' initial values */
} tk_dw_m0_job_t;
void tk_dw_3x3_m0(const tk_dw_m0_job_t *job);
void tk_dw_3x2_m0(const tk_dw_m0_job_t *job);     /* 3 rows of 2 taps */
/* clipped windows of ny rows of 1, 2, 3 taps, the offset added to each input */
void tk_dw_rows1_m0(const tk_dw_m0_job_t *job);
void tk_dw_rows2_m0(const tk_dw_m0_job_t *job);
void tk_dw_rows3_m0(const tk_dw_m0_job_t *job);

/* acc[0..4) += dot(column, rows w, w + ws, w + 2ws, w + 3ws) over k >= 1 values; ws = k */
void tk_dot_1x4s_m0(int32_t *acc, const int32_t *col, const int8_t *w, int32_t k, int32_t ws);
void tk_dot_1x4_m0(int32_t *acc, const int32_t *col, const int8_t *w, int32_t k);

/* the accumulators of blocks of eight output channels for one column, each bias + the dot
   product. w: per block, per k the eight channels' weights + 128 as unsigned bytes (LDRB
   has an immediate offset, LDRSB has not); the loop's sum w_u x is corrected by 128 times
   the column sum, shared by all channels. */
typedef struct {
    const int32_t *col, *col_end;   /* a multiple of 4 values */
    const uint8_t *w;
    const int32_t *bias;
    int32_t *acc;
    const int32_t *acc_end;         /* acc + 8 * blocks, > acc */
} tk_dot8_m0_job_t;
void tk_dot_1x8_m0(const tk_dot8_m0_job_t *job);

/* tk_rq_s8 of acc[c] to out[c] in assembler (dot_dsp.c), channel by channel from a table
   entry: 4c, m & 0xFFFF, m >> 16, then for shift <= -1 (e = -shift) tk_rq_shr's
   rounding constant on magnitudes as high word 2**(e-2) (e >= 2) or 0 (e = 1) and low word
   2**30 or 3 * 2**30, and (c << 8) + e - 1; the entries of shift >= 0, after the others,
   hold shift, 2**30, c << 8 there. */
typedef struct {
    const int32_t *acc;
    int8_t *out;
    const int32_t *tab, *tab_end;   /* main entries */
    int32_t out_offset, act_min, act_max;
    const int32_t *fix_end;         /* entries of shift >= 0 from tab_end */
} tk_rq_m0_job_t;
void tk_rq_m0(const tk_rq_m0_job_t *job);

/* scratch words per channel: accumulator, table entry */
#define TK_RQ_M0_WORDS 7
#define TK_RQ_M0_BYTES(n) (4 * TK_RQ_M0_WORDS * (size_t)(n))

typedef struct {
    int32_t *acc, *tab, *fix;   /* fix: the entries of shift >= 0, at the table's end */
    const int32_t *tab_end;
} tk_rq_m0_t;

/* the table of channels [0, n) of rq in mem (TK_RQ_M0_WORDS * n words) */
static inline void tk_rq_m0_init(tk_rq_m0_t *r, int32_t *mem, const tk_rq_t *rq, int n) {
    int32_t *main_t = mem + n;
    r->acc = mem;
    r->tab = main_t;
    r->fix = main_t + 6 * n;
    r->tab_end = r->fix;
    for (int c = 0; c < n; c++) {
        int32_t m = rq->mult[c], e = -rq->shift[c], *t;
        if (e < 1) {
            r->fix -= 6;
            t = r->fix;
        } else {
            t = main_t;
            main_t += 6;
        }
        *t++ = 4 * c;
        t[0] = m & 0xFFFF;
        t[1] = (int32_t)((uint32_t)m >> 16);
        if (e < 1) {
            t[2] = -e;
            t[3] = 0x40000000;
            t[4] = c << 8;
        } else {
            t[2] = e >= 2 ? (int32_t)(1u << (e - 2)) : 0;
            t[3] = e >= 2 ? 0x40000000 : (int32_t)0xC0000000u;
            t[4] = (c << 8) + e - 1;
        }
    }
}

/* out[0..n) from r->acc */
static inline void tk_rq_m0_run(const tk_rq_m0_t *r, const tk_rq_t *rq, int8_t *out) {
    tk_rq_m0_job_t job = {r->acc, out, r->tab, r->fix, rq->out_offset, rq->act_min,
                          rq->act_max, r->tab_end};
    tk_rq_m0(&job);
}
#endif

/* acc[2*c + r] += dot(column c, weight row r), rows w0 and w0 + K. On DSP `packed` holds the
   pair as tk_pack_pair lays it out; c0/c1 (natural order) are still read for the tail. */
static inline void tk_dot_2x2(const tk_col_t *c0, const tk_col_t *c1, const void *packed,
                              const int8_t *w0, int K, int32_t *acc) {
    int k = 0;
#if TK_DSP
    tk_dot_2x2_dsp(acc, packed, w0, K);
    k = K & ~3;
#elif TK_SSE2
    (void)packed;
    k = tk_dot_2x2_sse2(acc, c0, c1, w0, K);
#else
    (void)packed;
#endif
    const int8_t *w1 = w0 + K;
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    for (; k < K; k++) {
        int32_t x0 = c0[k], x1 = c1[k], wa = w0[k], wb = w1[k];
        a00 += x0 * wa;
        a01 += x0 * wb;
        a10 += x1 * wa;
        a11 += x1 * wb;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* acc[r] += dot(column, weight row r) over K values, for rows w, w + ws, w + 2ws, w + 3ws; on
   DSP `packed` is the column as tk_pack_col lays it out */
static inline void tk_dot_1x4s(const tk_col_t *c, const void *packed, const int8_t *w, int K,
                               int ws, int32_t *acc) {
    int k = 0;
#if TK_DSP
    if (ws == K) {
        tk_dot_1x4_dsp(acc, packed, w, K);
    } else {
        tk_dot_1x4s_dsp(acc, packed, w, K, ws);
    }
    k = K & ~3;
#elif TK_M0
    (void)packed;
    if (ws == K) {          /* known when inlined: the 4-argument entry, no stack argument */
        tk_dot_1x4_m0(acc, c, w, K);
    } else {
        tk_dot_1x4s_m0(acc, c, w, K, ws);
    }
    k = K;
#elif TK_SSE2
    (void)packed;
    k = tk_dot_1x4_sse2(acc, c, w, K, ws);
#else
    (void)packed;
#endif
    const int8_t *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (; k < K; k++) {
        int32_t x = c[k];
        a0 += x * w[k];
        a1 += x * w1[k];
        a2 += x * w2[k];
        a3 += x * w3[k];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* the same for rows w, w + K, w + 2K, w + 3K */
static inline void tk_dot_1x4(const tk_col_t *c, const void *packed, const int8_t *w, int K,
                              int32_t *acc) {
    tk_dot_1x4s(c, packed, w, K, K, acc);
}

/* dot(column, weight row) + acc. On DSP the K / 4 groups come from packed words (stride:
   words from one group to the next: 2 for a single column, 4 inside a pair) and only the
   tail from the natural column c. */
static inline int32_t tk_dot_1x1(const tk_col_t *c, const void *packed, int stride,
                                 const int8_t *w, int K, int32_t acc) {
    int k = 0;
#if TK_DSP
    const uint32_t *x = packed;
    for (; k + 4 <= K; k += 4, x += stride) {
        uint32_t v = tk_ld32(w + k);
        int32_t lo = tk_sxtb16(v), hi = tk_sxtb16_ror8(v);
        __asm__ ("smlad %0, %1, %2, %0" : "+r" (acc) : "r" (lo), "r" (x[0]));
        __asm__ ("smlad %0, %1, %2, %0" : "+r" (acc) : "r" (hi), "r" (x[1]));
    }
#elif TK_SSE2
    (void)packed;
    (void)stride;
    k = tk_dot_1x1_sse2(&acc, c, w, K);
#else
    (void)packed;
    (void)stride;
#endif
    for (; k < K; k++) {
        acc += c[k] * w[k];
    }
    return acc;
}

#endif
