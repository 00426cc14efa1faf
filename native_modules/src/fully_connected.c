/* FULLY_CONNECTED int8: out[b][o] = requant(bias[o] + sum_i (in[b][i] + in_offset) * w[o][i]).
   tk_fully_connected_s8_ref is TFLM's reference loop; tk_fully_connected_s8 widens each input
   row once into an int16 column and runs the blocked dot products of dot.h. */
#include "kernels.h"
#include "requant.h"
#include "dot.h"

static inline int8_t fc_out(int32_t acc, const int32_t *p, int o) {
    int n_out = p[FC_OUT];
    const int32_t *mult = p + FC_HDR + n_out;
    return (int8_t)tk_output(acc, mult[o], mult[n_out + o], p[FC_OUT_OFFSET],
                             p[FC_ACT_MIN], p[FC_ACT_MAX]);
}

void tk_fully_connected_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT];
    int32_t in_offset = p[FC_IN_OFFSET];
    const int32_t *bias = p + FC_HDR;
    for (int b = 0; b < p[FC_BATCHES]; b++) {
        const int8_t *x = in + b * n_in;
        for (int o = 0; o < n_out; o++) {
            const int8_t *wo = w + o * n_in;
            int32_t acc = bias[o];
            for (int i = 0; i < n_in; i++) {
                acc += (x[i] + in_offset) * wo[i];
            }
            *out++ = fc_out(acc, p, o);
        }
    }
}

/* int16 items per column, rounded so the second column stays 8-byte aligned */
static int fc_stride(int n_in) {
    return (n_in + 3) & ~3;
}

size_t tk_fully_connected_s8_scratch(const int32_t *p) {
    return 2 * (size_t)fc_stride(p[FC_IN]) * sizeof(int16_t);
}

/* one input row: four output features at a time */
static void fc_row(int8_t *out, const int16_t *col, const int8_t *w, const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    int32_t acc[4];
    for (; o + 4 <= n_out; o += 4) {
        for (int j = 0; j < 4; j++) {
            acc[j] = bias[o + j];
        }
        tk_dot_1x4(col, w + o * n_in, n_in, acc);
        for (int j = 0; j < 4; j++) {
            out[o + j] = fc_out(acc[j], p, o + j);
        }
    }
    for (; o < n_out; o++) {
        out[o] = fc_out(tk_dot_1x1(col, w + o * n_in, n_in, bias[o]), p, o);
    }
}

/* two input rows: 2x2 blocks of (row, feature) */
static void fc_rows2(int8_t *out, const int16_t *c0, const int16_t *c1, const int8_t *w,
                     const int32_t *p) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], o = 0;
    const int32_t *bias = p + FC_HDR;
    int32_t acc[4];
    for (; o + 2 <= n_out; o += 2) {
        acc[0] = acc[2] = bias[o];
        acc[1] = acc[3] = bias[o + 1];
        tk_dot_2x2(c0, c1, w + o * n_in, w + (o + 1) * n_in, n_in, acc);
        out[o] = fc_out(acc[0], p, o);
        out[o + 1] = fc_out(acc[1], p, o + 1);
        out[n_out + o] = fc_out(acc[2], p, o);
        out[n_out + o + 1] = fc_out(acc[3], p, o + 1);
    }
    for (; o < n_out; o++) {
        out[o] = fc_out(tk_dot_1x1(c0, w + o * n_in, n_in, bias[o]), p, o);
        out[n_out + o] = fc_out(tk_dot_1x1(c1, w + o * n_in, n_in, bias[o]), p, o);
    }
}

void tk_fully_connected_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p,
                           void *scratch) {
    int n_in = p[FC_IN], n_out = p[FC_OUT], b = 0;
    int16_t *c0 = (int16_t *)scratch, *c1 = c0 + fc_stride(n_in);
    for (; b + 2 <= p[FC_BATCHES]; b += 2) {
        tk_col_from_run(c0, in + b * n_in, n_in, p[FC_IN_OFFSET]);
        tk_col_from_run(c1, in + (b + 1) * n_in, n_in, p[FC_IN_OFFSET]);
        fc_rows2(out + b * n_out, c0, c1, w, p);
    }
    if (b < p[FC_BATCHES]) {
        tk_col_from_run(c0, in + b * n_in, n_in, p[FC_IN_OFFSET]);
        fc_row(out + b * n_out, c0, w, p);
    }
}
