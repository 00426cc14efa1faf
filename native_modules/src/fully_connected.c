/* FULLY_CONNECTED int8: out[b][o] = requant(bias[o] + sum_i (in[b][i] + in_offset) * w[o][i]).
   tk_fully_connected_s8_ref is TFLM's reference loop; tk_fully_connected_s8 widens each input
   row once into an int16 column and runs the blocked dot products of dot.h. */
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

/* two natural columns, then (DSP) the packed pair of the same size and the accumulators of
   tk_pair_rows_dsp */
size_t tk_fully_connected_s8_scratch(const int32_t *p) {
    return 4 * (size_t)fc_stride(p[FC_IN]) * sizeof(tk_col_t) + TK_MAT_ACC_BYTES
           + TK_RQ_TAB_BYTES(p[FC_OUT]) + TK_RQ_M0_BYTES(p[FC_OUT]);
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

#if TK_M0
/* one input row: four output features at a time, requantized together */
static void fc_row_m0(int8_t *out, const tk_col_t *col, const int8_t *w, const int32_t *p,
                      const tk_rq_m0_t *r) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    const tk_rq_t rq = fc_rq(p);
    int32_t *acc = r->acc;
    for (; o + 4 <= n_out; o += 4) {
        for (int j = 0; j < 4; j++) {
            acc[o + j] = bias[o + j];
        }
        tk_dot_1x4(col, 0, w + o * n_in, n_in, acc + o);
    }
    for (; o < n_out; o++) {
        acc[o] = tk_dot_1x1(col, 0, 2, w + o * n_in, n_in, bias[o]);
    }
    tk_rq_m0_run(r, &rq, out);
}
#endif

/* one input row: four output features at a time */
static void fc_row(int8_t *out, const tk_col_t *col, const uint32_t *packed, const int8_t *w,
                   const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    const tk_rq_t rq = fc_rq(p);
    int32_t acc[4];
    for (; o + 4 <= n_out; o += 4) {
        for (int j = 0; j < 4; j++) {
            acc[j] = bias[o + j];
        }
        tk_dot_1x4(col, packed, w + o * n_in, n_in, acc);
        for (int j = 0; j < 4; j++) {
            out[o + j] = tk_rq_s8(&rq, acc[j], o + j);
        }
    }
    for (; o < n_out; o++) {
        out[o] = tk_rq_s8(&rq, tk_dot_1x1(col, packed, 2, w + o * n_in, n_in, bias[o]), o);
    }
}

/* two input rows: 2x2 blocks of (row, feature) */
static void fc_rows2(int8_t *out, const tk_col_t *c0, const tk_col_t *c1, const uint32_t *packed,
                     const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    const tk_rq_t rq = fc_rq(p);
    int32_t acc[4];
#if TK_DSP
    int32_t *acc2 = (int32_t *)(packed + fc_stride(n_in));
    o = tk_pair_rows_dsp(out, n_out, c0, c1, packed, w, n_in, n_out, bias, &rq, acc2,
                         acc2 + TK_MAT_ACC_BYTES / 4, 0);
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
    int n_in = p[FC_IN], n_out = p[FC_OUT], b = 0;
    int32_t offset = p[FC_IN_OFFSET];
    tk_col_t *c0 = (tk_col_t *)scratch, *c1 = c0 + fc_stride(n_in);
    uint32_t *packed = (uint32_t *)(c1 + fc_stride(n_in));
#if TK_DSP
    if (p[FC_BATCHES] >= 2) {
        const tk_rq_t rq = fc_rq(p);
        tk_rq_table_dsp((int32_t *)(packed + fc_stride(n_in)) + TK_MAT_ACC_BYTES / 4, &rq, n_out);
    }
#endif
    for (; TK_PAIRS && b + 2 <= p[FC_BATCHES]; b += 2) {
        fc_column(c0, packed, 0, in + b * n_in, n_in, offset, 1);
        fc_column(c1, packed, 1, in + (b + 1) * n_in, n_in, offset, 1);
        fc_rows2(out + b * n_out, c0, c1, packed, w, p);
    }
#if TK_M0
    tk_rq_m0_t r;
    const tk_rq_t rq = fc_rq(p);
    tk_rq_m0_init(&r, (int32_t *)(packed + fc_stride(n_in)), &rq, n_out);
    for (; b < p[FC_BATCHES]; b++) {
        fc_column(c0, packed, 0, in + b * n_in, n_in, offset, 0);
        fc_row_m0(out + b * n_out, c0, w, p, &r);
    }
#endif
    for (; b < p[FC_BATCHES]; b++) {
        fc_column(c0, packed, 0, in + b * n_in, n_in, offset, 0);
        fc_row(out + b * n_out, c0, packed, w, p);
    }
}
