/* FULLY_CONNECTED int8: out[b][o] = requant(bias[o] + sum_i (in[b][i] + in_offset) * w[o][i]) */
#include "kernels.h"
#include "requant.h"

static inline int8_t fc_output(int32_t acc, const int32_t *p, int o) {
    int n_out = p[FC_OUT];
    const int32_t *mult = p + FC_HDR + n_out;
    const int32_t *shift = mult + n_out;
    int32_t v = tk_requantize(acc, mult[o], shift[o]) + p[FC_OUT_OFFSET];
    return (int8_t)tk_clamp(v, p[FC_ACT_MIN], p[FC_ACT_MAX]);
}

void tk_fully_connected_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    int batches = p[FC_BATCHES], n_in = p[FC_IN], n_out = p[FC_OUT];
    int32_t in_offset = p[FC_IN_OFFSET];
    const int32_t *bias = p + FC_HDR;
    for (int b = 0; b < batches; b++) {
        const int8_t *x = in + b * n_in;
        for (int o = 0; o < n_out; o++) {
            const int8_t *wo = w + o * n_in;
            int32_t acc = bias[o];
            for (int i = 0; i < n_in; i++) {
                acc += (x[i] + in_offset) * wo[i];
            }
            *out++ = fc_output(acc, p, o);
        }
    }
}

void tk_fully_connected_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p) {
    tk_fully_connected_s8_ref(out, in, w, p);
}
