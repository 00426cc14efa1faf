/* FULLY_CONNECTED int8: out[b][o] = requant(bias[o] + sum_i (in[b][i] + in_offset) * w[o][i]).
   tk_fully_connected_s8_ref is TFLM's reference loop; tk_fully_connected_s8 widens the input
   into an int16 (Cortex-M0: int32) column and runs the blocked dot products of dot.h: a single
   input row FC_CHUNK values at a time, so the scratch stays small whatever the input depth;
   pairs of rows (not on Cortex-M0) whole. */
#include "kernels.h"
#include "requant.h"
#include "dot.h"

static tk_rq_t fc_rq(const int32_t *p) {
    const int32_t *mult = p + FC_HDR + p[FC_OUT];
    return tk_rq(mult, mult + p[FC_OUT], p[FC_OUT_OFFSET], p[FC_ACT_MIN], p[FC_ACT_MAX]);
}

void tk_fully_connected_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT];
    int32_t in_offset = p[FC_IN_OFFSET];
    const int32_t *bias = p + FC_HDR;
    const tk_rq_t rq = fc_rq(p);
    for (int b = 0; b < p[FC_BATCHES]; b++) {
        const int8_t *x = in + b * n_in;
        for (int o = 0; o < n_out; o++) {
            const int8_t *wo = w + o * n_in;
            int32_t acc = bias[o];
            for (int i = 0; i < n_in; i++) {
                acc += (x[i] + in_offset) * wo[i];
            }
            *out++ = tk_rq_s8(&rq, acc, o);
        }
    }
}

/* int16 items per column, rounded so the next one stays 8-byte aligned */
static int fc_stride(int n_in) {
    return (n_in + 3) & ~3;
}

#define FC_CHUNK 512    /* input values per column pass of a single row (a multiple of 4) */

/* rows are paired (two columns) when there are two and the arch has 2x2 blocks */
static int fc_pairs(const int32_t *p) {
    return TK_PAIRS && p[FC_BATCHES] >= 2;
}

/* column items: both whole rows when paired, else one chunk */
static int fc_col_items(const int32_t *p) {
    if (fc_pairs(p)) {
        return 2 * fc_stride(p[FC_IN]);
    }
    return fc_stride(p[FC_IN] < FC_CHUNK ? p[FC_IN] : FC_CHUNK);
}

/* bytes of the tk_pair_rows_dsp accumulators and table (pairs only) */
static size_t fc_pairs_bytes(const int32_t *p) {
    return fc_pairs(p) ? TK_MAT_ACC_BYTES + TK_RQ_TAB_BYTES(p[FC_OUT]) : 0;
}

/* the natural columns, (DSP) their packed form of the same item count, the pairs' tables,
   then a single row's accumulators (Cortex-M0: in its requantization table) */
size_t tk_fully_connected_s8_scratch(const int32_t *p) {
    size_t items = (size_t)fc_col_items(p), n_out = (size_t)p[FC_OUT];
    size_t row_acc = TK_M0 ? TK_RQ_M0_BYTES(n_out) : 4 * n_out;
    return items * sizeof(tk_col_t) + (TK_DSP ? 2 * items : 0) + fc_pairs_bytes(p) + row_acc;
}

/* column j of a block of `pair ? 2 : 1` input rows (DSP: packed + natural tail only) */
static void fc_column(tk_col_t *col, uint32_t *packed, int j, const int8_t *x, int n_in,
                      int32_t offset, int pair) {
#if TK_DSP
    int k4 = n_in & ~3;
    tk_pack_run(packed + 2 * j, x, n_in, offset, pair ? 4 : 2);
    tk_col_put(col + k4, x + k4, n_in - k4, offset);
#else
    (void)packed;
    (void)j;
    (void)pair;
    tk_col_put(col, x, n_in, offset);
#endif
}

/* one input row x into acc[0..n_out) (bias included), a chunk of the input at a time */
static void fc_row_acc(int32_t *acc, tk_col_t *col, uint32_t *packed, const int8_t *x,
                       const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT];
    const int32_t *bias = p + FC_HDR;
    for (int o = 0; o < n_out; o++) {
        acc[o] = bias[o];
    }
    for (int k0 = 0; k0 < n_in; k0 += FC_CHUNK) {
        int kc = n_in - k0 < FC_CHUNK ? n_in - k0 : FC_CHUNK, o = 0;
        const int8_t *wk = w + k0;
        fc_column(col, packed, 0, x + k0, kc, p[FC_IN_OFFSET], 0);
        for (; o + 4 <= n_out; o += 4) {
            tk_dot_1x4s(col, packed, wk + o * n_in, kc, n_in, acc + o);
        }
        for (; o < n_out; o++) {
            acc[o] = tk_dot_1x1(col, packed, 2, wk + o * n_in, kc, acc[o]);
        }
    }
}

/* two input rows: 2x2 blocks of (row, feature) */
static void fc_rows2(int8_t *out, const tk_col_t *c0, const tk_col_t *c1, const uint32_t *packed,
                     const int8_t *w, const int32_t *p, int32_t *tail) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    const tk_rq_t rq = fc_rq(p);
    int32_t acc[4];
#if TK_DSP
    o = tk_pair_rows_dsp(out, n_out, c0, c1, packed, w, n_in, n_out, bias, &rq, tail,
                         tail + TK_MAT_ACC_BYTES / 4, 0);
#else
    (void)tail;
#endif
    for (; o + 2 <= n_out; o += 2) {
        acc[0] = acc[2] = bias[o];
        acc[1] = acc[3] = bias[o + 1];
        tk_dot_2x2(c0, c1, packed, w + o * n_in, n_in, acc);
        tk_rq2_s8(&rq, o, acc[0], acc[2], &out[o], &out[n_out + o]);
        tk_rq2_s8(&rq, o + 1, acc[1], acc[3], &out[o + 1], &out[n_out + o + 1]);
    }
    if (o < n_out) {
        out[o] = tk_rq_s8(&rq, tk_dot_1x1(c0, packed, 4, w + o * n_in, n_in, bias[o]), o);
        int32_t a = tk_dot_1x1(c1, packed + 2, 4, w + o * n_in, n_in, bias[o]);
        out[n_out + o] = tk_rq_s8(&rq, a, o);
    }
}

void tk_fully_connected_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p,
                           void *scratch) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], b = 0, items = fc_col_items(p);
    const tk_rq_t rq = fc_rq(p);
    tk_col_t *c0 = (tk_col_t *)scratch;
    uint32_t *packed = (uint32_t *)(c0 + items);
    int32_t *tail = (int32_t *)(packed + (TK_DSP ? items / 2 : 0));
    if (fc_pairs(p)) {
        tk_col_t *c1 = c0 + fc_stride(n_in);
#if TK_DSP
        tk_rq_table_dsp(tail + TK_MAT_ACC_BYTES / 4, &rq, n_out);
#endif
        for (; b + 2 <= p[FC_BATCHES]; b += 2) {
            fc_column(c0, packed, 0, in + b * n_in, n_in, p[FC_IN_OFFSET], 1);
            fc_column(c1, packed, 1, in + (b + 1) * n_in, n_in, p[FC_IN_OFFSET], 1);
            fc_rows2(out + b * n_out, c0, c1, packed, w, p, tail);
        }
    }
    tail += fc_pairs_bytes(p) / 4;
#if TK_M0
    tk_rq_m0_t r;
    tk_rq_m0_init(&r, tail, &rq, n_out);
    for (; b < p[FC_BATCHES]; b++) {
        fc_row_acc(r.acc, c0, packed, in + b * n_in, w, p);
        tk_rq_m0_run(&r, &rq, out + b * n_out);
    }
#else
    for (; b < p[FC_BATCHES]; b++) {
        fc_row_acc(tail, c0, packed, in + b * n_in, w, p);
        for (int o = 0; o < n_out; o++) {
            out[b * n_out + o] = tk_rq_s8(&rq, tail[o], o);
        }
    }
#endif
}

/* Small layers take their weights as a quads stream (quads.h) built once, at load: no
   widening of weights per call, requantization from the accumulators. FC_STREAM_MAX bounds
   the RAM this costs beside the int8 weights (KWS's 64 -> 12 layer: 1776 bytes). */
#define FC_STREAM_MAX 4096
#define FC_QUADS (TK_DSP || TK_SSE2)

size_t tk_fully_connected_s8_stream_bytes(const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT];
    if (!FC_QUADS || n_in > FC_STREAM_MAX || n_out > FC_STREAM_MAX) {
        return 0;
    }
    size_t bytes = 4 * (size_t)tk_quads_stream_words(n_out, fc_stride(n_in));
    return bytes <= FC_STREAM_MAX ? bytes : 0;
}

size_t tk_fully_connected_s8_packed_bytes(const int32_t *p) {
    int n_out = p[FC_OUT];
    const int32_t *bias = p + FC_HDR;
    int32_t offset = tk_quads_offset(p[FC_OUT_OFFSET], p[FC_ACT_MIN], p[FC_ACT_MAX]);
    size_t bytes = tk_fully_connected_s8_stream_bytes(p);
    return bytes && tk_mm_rq_fits(bias, bias + 2 * n_out, n_out, p[FC_IN], offset) ? bytes : 0;
}

void tk_fully_connected_s8_pack(int32_t *stream, const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT];
    const int32_t *bias = p + FC_HDR;
    tk_quads_stream(stream, w, n_in, n_in, fc_stride(n_in), bias, bias + n_out,
                    bias + 2 * n_out, n_out, tk_quads_offset(p[FC_OUT_OFFSET], p[FC_ACT_MIN],
                                                             p[FC_ACT_MAX]));
}

/* the packed column, then (outputs not in whole quads) a row's outputs in whole quads */
size_t tk_fully_connected_s8_packed_scratch(const int32_t *p) {
    return 2 * (size_t)fc_stride(p[FC_IN]) + (p[FC_OUT] % 4 ? (size_t)fc_stride(p[FC_OUT]) : 0);
}

/* one input row plus the offset as packed groups, the last one padded (its weights are 0) */
static void fc_quads_col(uint32_t *col, const int8_t *x, int n, int32_t offset) {
    int k4 = n & ~3;
#if TK_DSP
    tk_pack_run(col, x, k4, offset, 2);
#else
    for (int k = 0; k < k4; k += 4) {
        col[k / 2] = tk_pack16(x[k] + offset, x[k + 2] + offset);
        col[k / 2 + 1] = tk_pack16(x[k + 1] + offset, x[k + 3] + offset);
    }
#endif
    if (k4 < n) {
        int32_t t[4];
        for (int j = 0; j < 4; j++) {
            t[j] = k4 + j < n ? x[k4 + j] + offset : 0;
        }
        col[k4 / 2] = tk_pack16(t[0], t[2]);
        col[k4 / 2 + 1] = tk_pack16(t[1], t[3]);
    }
}

void tk_fully_connected_s8_packed(int8_t *out, const int8_t *in, const int32_t *stream,
                                  const int32_t *p, void *scratch) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], K4 = fc_stride(n_in);
    uint32_t *col = (uint32_t *)scratch;
    int8_t *quads_out = (int8_t *)(col + K4 / 2);
    tk_quads_job_t job = {col, col + K4 / 2, stream, stream + tk_quads_stream_words(n_out, K4),
                          out, K4 / 4, {0, 0}};
    int clamp = tk_quads_clamped(p[FC_ACT_MIN], p[FC_ACT_MAX]);
    tk_clamp4(job.clamp, p[FC_ACT_MIN], p[FC_ACT_MAX]);
    for (int b = 0; b < p[FC_BATCHES]; b++, in += n_in, out += n_out) {
        fc_quads_col(col, in, n_in, p[FC_IN_OFFSET]);
        job.out = n_out % 4 ? quads_out : out;
        tk_quads_run(&job, clamp);
        for (int o = 0; n_out % 4 && o < n_out; o++) {
            out[o] = quads_out[o];
        }
    }
}
