/* Recurrent-op kernels: C twins of device/tinyml/kernels/python_rnn.py (TFLM lstm_eval.cc,
   svdf_common.cc), bit for bit. int32 sums wrap (uint32 arithmetic) where the python kernels
   wrap before requantizing; the 16x8 LSTM keeps an int64 sum and TFLM's 64-bit
   MultiplyByQuantizedMultiplier, done in 32-bit pieces (no libgcc helpers on armv6m). */
#include "rnn.h"
#include "requant.h"
#include "dot.h"

/* sigmoid(k / 24) in Q0.16: TFLM's int16 LOGISTIC / TANH table (python_eltwise.SIGMOID_TABLE) */
static const uint16_t sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535
};

static inline int32_t sat16(int32_t v) {
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

/* python_rnn.requant: MultiplyByQuantizedMultiplier of an int32 (wrapped) sum, mult >= 0 */
static inline int32_t rq32(uint32_t acc, int32_t mult, int32_t shift) {
    if (shift > 0) {
        return tk_srdhm_pos((int32_t)(acc << shift), mult);
    }
    return tk_rdbpot(tk_srdhm_pos((int32_t)acc, mult), -shift);
}

/* zp + r before a clamp to an int16 (or narrower) range: r is first limited to +-2**30,
   which the clamp maps the same way (|zp| <= 2**16, the binding checks), so the int32 sum
   cannot overflow where the python kernel's exact one does not */
static inline int32_t add_zp(int32_t r, int32_t zp) {
    r = r > (1 << 30) ? (1 << 30) : (r < -(1 << 30) ? -(1 << 30) : r);
    return r + zp;
}

/* arithmetic right shift of an int64 by s in [0, 31] from 32-bit halves */
static inline int64_t sra64(int64_t v, int s) {
    if (s == 0) {
        return v;
    }
    uint32_t lo = (uint32_t)v;
    int32_t hi = (int32_t)(v >> 32);
    uint32_t nlo = (lo >> s) | ((uint32_t)hi << (32 - s));
    int32_t nhi = hi >> s;
    return (int64_t)(((uint64_t)(uint32_t)nhi << 32) | nlo);
}

/* quant.multiply_by_quantized_multiplier_64: wrap32((x * reduced + 2**(ts-1)) >> ts),
   ts = 15 - shift in [1, 46], evaluated exactly (x * reduced may exceed 64 bits) */
static int32_t rq64(int64_t x, int32_t mult, int32_t shift) {
    uint32_t r = mult < 0x7FFF0000 ? (uint32_t)((mult + (1 << 15)) >> 16) : 0x7FFFu;
    int ts = 15 - shift;
    uint32_t xl = (uint32_t)x;
    int32_t xh = (int32_t)(x >> 32);
    int64_t high = tk_mul64(xh, (int32_t)r);                        /* |high| < 2**46 */
    uint64_t low = ((uint64_t)((xl >> 16) * r) << 16) + (xl & 0xFFFF) * r;   /* < 2**47 */
    low += ts <= 32 ? (uint64_t)(1u << (ts - 1)) : (uint64_t)(1u << (ts - 33)) << 32;
    if (ts < 32) {
        uint32_t lo_part = ((uint32_t)low >> ts) | ((uint32_t)(low >> 32) << (32 - ts));
        return (int32_t)(((uint32_t)high << (32 - ts)) + lo_part);
    }
    if (ts == 32) {
        return (int32_t)((uint32_t)high + (uint32_t)(low >> 32));
    }
    int64_t t = high + (int64_t)(low >> 32);
    return (int32_t)(uint32_t)sra64(t, ts - 32);
}

/* python_rnn.sigmoid16: TFLM Logistic of one Q3.12 int16 -> Q0.15 */
static inline int32_t sigmoid16(int32_t x) {
    x *= 3;
    int32_t ax = x < 0 ? -x : x;
    int32_t uh = ax >> 9, r;
    if (uh >= 255) {
        r = 0x7FFF << 10;
    } else {
        int32_t ua = sigmoid_table[uh];
        r = (ua << 9) + (ax & 0x1FF) * (sigmoid_table[uh + 1] - ua);
    }
    r = x >= 0 ? r + 512 : (1 << 25) - r + 511;
    r >>= 10;
    return r > 32767 ? r - 65536 : r;
}

/* python_rnn.tanh16 after the input scaling: x already (x * mult + round) >> shift */
static inline int32_t tanh16_scaled(int32_t x) {
    int32_t ax = x < 0 ? -x : x;
    int32_t uh = ax >> 8, r;
    if (uh >= 255) {
        r = 0xFFFF << 8;
    } else {
        int32_t ua = sigmoid_table[uh];
        r = (ua << 8) + (ax & 0xFF) * (sigmoid_table[uh + 1] - ua);
    }
    r = x >= 0 ? r - (1 << 23) + 128 : -r + (1 << 23) + 127;
    return r >> 8;
}

/* tanh16(x, mult, shift) for any mult (int32) and shift in [0, 31]: the scaled input is
   clamped to +-2**20 first, past the table's saturation (|x| >= 255 * 256) either way */
static inline int32_t tanh16(int32_t x, int32_t mult, int shift) {
    int64_t v = tk_mul64(x, mult);
    if (shift > 0) {
        v = sra64(v + (int64_t)(1u << (shift - 1)), shift);
    }
    int32_t s = v > (1 << 20) ? (1 << 20) : (v < -(1 << 20) ? -(1 << 20) : (int32_t)v);
    return tanh16_scaled(s);
}

/* sum_k w[k] * x[k] exactly (int16 x): |w * x| <= 2**22, so int32 blocks of 256 terms */
static inline int64_t dot_s16x8(const int8_t *w, const int16_t *x, int n) {
    int64_t acc = 0;
    int k = 0;
    while (k < n) {
        int end = n - k > 256 ? k + 256 : n;
        int32_t part = 0;
        for (; k < end; k++) {
            part += w[k] * x[k];
        }
        acc += part;
    }
    return acc;
}

/* int8 x int8 rows through the blocked dot products of dot.h (SMLAD on Armv7E-M, the
   Cortex-M0 loop, 4 rows per column pass elsewhere): x widened once per batch row into an
   int16 (M0: int32) column, no offset (the zero point is folded into the biases). The dot
   product alone cannot overflow int32 (|w x| <= 2**14 and the binding keeps n_in <= 2**16);
   the bias is added in uint32, wrapping as the python kernel's requant does. */
static int col_stride(int n) {
    return (n + 3) & ~3;
}

/* the column, then (DSP) its packed form */
size_t tk_rnn_fc_scratch(int32_t n_in) {
    return (size_t)col_stride(n_in) * (sizeof(tk_col_t) + (TK_DSP ? 2 : 0)) + 8;
}

static inline void put_col(tk_col_t *col, uint32_t *packed, const int8_t *x, int n) {
#if TK_DSP
    int k4 = n & ~3;
    tk_pack_run(packed, x, n, 0, 2);
    tk_col_put(col + k4, x + k4, n - k4, 0);
#else
    (void)packed;
    tk_col_put(col, x, n, 0);
#endif
}

static inline int32_t gate_value(int32_t v, int32_t mode, int32_t prev) {
    if (mode) {
        v = sat16(v + prev);
        if (mode == RF_MODE_SIGMOID) {
            v = sigmoid16(v);
        } else if (mode == RF_MODE_TANH) {
            v = tanh16_scaled(3 * v);
        }
    }
    return v;
}

/* rows batch rows of x (n_in each, int8 or int16 when wide) -> rows * n_out gate values at o;
   mult, shift, mode and biases from the gate FC block blk (layout RF_*) */
static void gate_fc(int16_t *o, const void *xv, const int8_t *w, const int32_t *blk, int rows,
                    int n_out, int n_in, int wide, void *scratch) {
    int32_t mult = blk[RF_MULT], shift = blk[RF_SHIFT], mode = blk[RF_MODE];
    const int32_t *bias = blk + RF_BIAS;
    tk_col_t *col = scratch;
    uint32_t *packed = (uint32_t *)(col + col_stride(n_in));
    for (int b = 0; b < rows; b++) {
        if (wide) {
            const int8_t *wr = w;
            const int16_t *x = (const int16_t *)xv + b * n_in;
            for (int j = 0; j < n_out; j++, wr += n_in) {
                int64_t acc = (int64_t)(((uint64_t)(uint32_t)bias[2 * j + 1] << 32)
                                        | (uint32_t)bias[2 * j]);
                acc += dot_s16x8(wr, x, n_in);
                *o = (int16_t)gate_value(sat16(rq64(acc, mult, shift)), mode, *o);
                o++;
            }
            continue;
        }
        put_col(col, packed, (const int8_t *)xv + b * n_in, n_in);
        int j = 0;
        for (; j + 4 <= n_out; j += 4, o += 4) {
            int32_t acc[4];
            acc[0] = acc[1] = acc[2] = acc[3] = 0;   /* no initializer: armv6m has no memset */
            tk_dot_1x4(col, packed, w + j * n_in, n_in, acc);
            for (int t = 0; t < 4; t++) {
                uint32_t sum = (uint32_t)bias[j + t] + (uint32_t)acc[t];
                o[t] = (int16_t)gate_value(sat16(rq32(sum, mult, shift)), mode, o[t]);
            }
        }
        for (; j < n_out; j++, o++) {
            uint32_t sum = (uint32_t)bias[j] + (uint32_t)tk_dot_1x1(col, packed, 2, w + j * n_in,
                                                                    n_in, 0);
            *o = (int16_t)gate_value(sat16(rq32(sum, mult, shift)), mode, *o);
        }
    }
}

void tk_lstm_gate_fc(int16_t *out, const void *xv, const int8_t *w, const int32_t *p,
                     void *scratch) {
    int wide = p[RF_WIDE];
    const void *x = (const uint8_t *)xv + (size_t)p[RF_X_START] * (wide ? 2 : 1);
    gate_fc(out + p[RF_OUT_START], x, w, p, p[RF_BATCHES], p[RF_OUT], p[RF_IN], wide, scratch);
}

/* n cells c from the activated forget, input and cell gates; multipliers from p (RCU_*) */
static void cell_update(int16_t *c, const int16_t *f, const int16_t *in, const int16_t *g,
                        int n, const int32_t *p) {
    int32_t m1 = p[RCU_FC_MULT], s1 = p[RCU_FC_SHIFT], m2 = p[RCU_IG_MULT], s2 = p[RCU_IG_SHIFT];
    int32_t clip_on = p[RCU_CLIP_ON], hi = p[RCU_CLIP], lo = -hi;
    for (int k = 0; k < n; k++) {
        int32_t v = sat16(rq32((uint32_t)(f[k] * c[k]), m1, s1));
        v = sat16(v + sat16(rq32((uint32_t)(in[k] * g[k]), m2, s2)));
        if (clip_on) {
            v = v > hi ? hi : (v < lo ? lo : v);
        }
        c[k] = (int16_t)v;
    }
}

void tk_lstm_cell_update(int16_t *cell, const int16_t *gates, const int32_t *p) {
    cell_update(cell + p[RCU_CELL], gates + p[RCU_F], gates + p[RCU_I], gates + p[RCU_G],
                p[RCU_COUNT], p);
}

/* n hidden values (int8 or int16 by elem, starting at element h) from the cells c and the
   output gate o; multipliers, zero point and range from p (RHU_*) */
static void hidden_update(void *hidden, int32_t h, const int16_t *c, const int16_t *o, int n,
                          const int32_t *p, int elem) {
    int32_t tm = p[RHU_TANH_MULT], ts = p[RHU_TANH_SHIFT], m = p[RHU_MULT], s = p[RHU_SHIFT];
    int32_t zp = p[RHU_ZP], lo = p[RHU_MIN], hi = p[RHU_MAX];
    for (int k = 0; k < n; k++) {
        int32_t v = add_zp(rq32((uint32_t)(tanh16(c[k], tm, ts) * o[k]), m, s), zp);
        v = v > hi ? hi : (v < lo ? lo : v);
        if (elem == 1) {
            ((int8_t *)hidden)[h + k] = (int8_t)v;
        } else {
            ((int16_t *)hidden)[h + k] = (int16_t)v;
        }
    }
}

void tk_lstm_hidden_update(void *hidden, const int16_t *cell, const int16_t *gates,
                           const int32_t *p, int elem) {
    hidden_update(hidden, p[RHU_HIDDEN], cell + p[RHU_CELL], gates + p[RHU_O], p[RHU_COUNT], p,
                  elem);
}

static void copy_bytes(uint8_t *d, const uint8_t *s, size_t n) {
    for (size_t k = 0; k < n; k++) {     /* forward, as the python loop */
        d[k] = s[k];
    }
}

void tk_rnn_copy(void *out, const void *a, const int32_t *p, int elem) {
    copy_bytes((uint8_t *)out + (size_t)p[RCP_OUT_START] * elem,
               (const uint8_t *)a + (size_t)p[RCP_A_START] * elem, (size_t)p[RCP_COUNT] * elem);
}

/* the newest state slot of one filter from its (wrapped) feature sum */
static inline void feature_store(void *state, int32_t si, uint32_t acc, const int32_t *p,
                                 int elem) {
    int32_t lo = p[RSF_STATE_MIN], hi = p[RSF_STATE_MAX];
    int32_t v = rq32(acc, p[RSF_MULT], p[RSF_SHIFT]);
    v = p[RSF_STATE_ZP] + (v > hi ? hi : (v < lo ? lo : v));
    if (v > hi) {
        v -= hi - lo + 1;
    } else if (v < lo) {
        v += hi - lo + 1;
    }
    if (elem == 1) {
        ((int8_t *)state)[si] = (int8_t)v;
    } else {
        ((int16_t *)state)[si] = (int16_t)v;
    }
}

void tk_svdf_feature(void *state, const int8_t *x, const int8_t *wf, const int32_t *p, int elem,
                     void *scratch) {
    int n_in = p[RSF_IN], n_filter = p[RSF_FILTERS], n_mem = p[RSF_MEMORY];
    int32_t total = p[RSF_BATCHES] * n_filter * n_mem;
    const int32_t *bias = p + RSF_BIAS;
    /* drop the oldest element: shift the whole state left by one */
    if (elem == 1) {
        int8_t *s = state;
        for (int32_t k = 0; k + 1 < total; k++) {
            s[k] = s[k + 1];
        }
    } else {
        int16_t *s = state;
        for (int32_t k = 0; k + 1 < total; k++) {
            s[k] = s[k + 1];
        }
    }
    int32_t si = n_mem - 1;
    const int8_t *xb = x;
    tk_col_t *col = scratch;
    uint32_t *packed = (uint32_t *)(col + col_stride(n_in));
    for (int b = 0; b < p[RSF_BATCHES]; b++, xb += n_in) {
        put_col(col, packed, xb, n_in);
        int f = 0;
        for (; f + 4 <= n_filter; f += 4) {     /* four filters per pass over x */
            int32_t acc[4];
            acc[0] = acc[1] = acc[2] = acc[3] = 0;   /* no initializer: armv6m has no memset */
            tk_dot_1x4(col, packed, wf + f * n_in, n_in, acc);
            for (int t = 0; t < 4; t++, si += n_mem) {
                feature_store(state, si, (uint32_t)bias[f + t] + (uint32_t)acc[t], p, elem);
            }
        }
        for (; f < n_filter; f++, si += n_mem) {
            int32_t dot = tk_dot_1x1(col, packed, 2, wf + f * n_in, n_in, 0);
            feature_store(state, si, (uint32_t)bias[f] + (uint32_t)dot, p, elem);
        }
    }
}

void tk_svdf_time(int8_t *out, const void *state, const void *wt, const int32_t *p,
                  int32_t n_unit, int elem) {
    int32_t span = p[RST_RANK] * p[RST_MEMORY];
    int32_t zp = p[RST_STATE_ZP], mult = p[RST_MULT], shift = p[RST_SHIFT];
    int32_t out_zp = p[RST_OUT_ZP];
    int32_t si = 0;
    for (int b = 0; b < p[RST_BATCHES]; b++) {
        int32_t wi = 0;
        for (int32_t u = 0; u < n_unit; u++, wi += span, si += span) {
            uint32_t acc = (uint32_t)p[RST_BIAS + u];
            if (elem == 1) {
                const int8_t *w = (const int8_t *)wt + wi, *s = (const int8_t *)state + si;
                for (int32_t k = 0; k < span; k++) {
                    acc += (uint32_t)(w[k] * (s[k] - zp));   /* zp in int8 range: no overflow */
                }
            } else {
                const int16_t *w = (const int16_t *)wt + wi, *s = (const int16_t *)state + si;
                for (int32_t k = 0; k < span; k++) {
                    acc += (uint32_t)w[k] * (uint32_t)(s[k] - zp);
                }
            }
            int32_t v = add_zp(rq32(acc, mult, shift), out_zp);
            *out++ = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
        }
    }
}

/* ---- whole-op kernels: one call per invoke ---- */

/* gate g (GATES order: input, forget, cell, output) of one step: the input FC writes the
   gate's slot, the recurrent FC adds to it and activates (the blocks' modes) */
static const uint8_t gate_slot[4] = {1, 0, 2, 3};   /* ops/lstm.py SLOT */

typedef struct {
    const int32_t *p;
    const int8_t *const *w;     /* 8 weight matrices: input FCs, then recurrent FCs */
    int16_t *gates;
    const uint8_t *x;           /* step input rows */
    const uint8_t *h;           /* hidden state rows */
    int rows, n_in, n_cell, wide, fc_len;
    void *scratch;
} lstm_step_t;

static void lstm_gate(const lstm_step_t *s, int g) {
    const int32_t *fc = s->p + RL_FC;
    int16_t *o = s->gates + gate_slot[g] * s->rows * s->n_cell;
    gate_fc(o, s->x, s->w[g], fc + g * s->fc_len, s->rows, s->n_cell, s->n_in, s->wide,
            s->scratch);
    gate_fc(o, s->h, s->w[4 + g], fc + (4 + g) * s->fc_len, s->rows, s->n_cell, s->n_cell,
            s->wide, s->scratch);
}

/* one LSTM step over s->rows batch rows: forget, input and cell gates, the cell update,
   the output gate, the hidden update (in place), then the hidden rows to out */
static void lstm_step(lstm_step_t *s, int16_t *cell, uint8_t *out) {
    int span = s->rows * s->n_cell, elem = s->wide ? 2 : 1;
    lstm_gate(s, 1);
    lstm_gate(s, 0);
    lstm_gate(s, 2);
    cell_update(cell, s->gates, s->gates + span, s->gates + 2 * span, span, s->p + RL_CU);
    lstm_gate(s, 3);
    hidden_update((void *)s->h, 0, cell, s->gates + 3 * span, span, s->p + RL_HU, elem);
    copy_bytes(out, s->h, (size_t)span * elem);
}

void tk_lstm_int(void *out, const void *x, void *hidden, int16_t *cell, int16_t *gates,
                 const int8_t *const *w, const int32_t *p, void *scratch) {
    int batch = p[RL_BATCH], steps = p[RL_STEPS], n_in = p[RL_N_IN], n_cell = p[RL_N_CELL];
    int wide = p[RL_WIDE], elem = wide ? 2 : 1;
    lstm_step_t s = {p, w, gates, x, hidden, 1, n_in, n_cell, wide,
                     RF_BIAS + n_cell * (1 + wide), scratch};
    size_t x_row = (size_t)n_in * elem, h_row = (size_t)n_cell * elem;
    if (p[RL_TIME_MAJOR]) {
        s.rows = batch;
        for (int t = 0; t < steps; t++) {
            s.x = (const uint8_t *)x + (size_t)t * batch * x_row;
            lstm_step(&s, cell, (uint8_t *)out + (size_t)t * batch * h_row);
        }
        return;
    }
    for (int b = 0; b < batch; b++) {
        s.h = (const uint8_t *)hidden + b * h_row;
        for (int t = 0; t < steps; t++) {
            size_t i = (size_t)b * steps + t;
            s.x = (const uint8_t *)x + i * x_row;
            lstm_step(&s, cell + b * n_cell, (uint8_t *)out + i * h_row);
        }
    }
}

void tk_svdf_int(int8_t *out, const int8_t *x, void *state, const int8_t *wf, const void *wt,
                 const int32_t *p, int32_t n_unit, int elem, void *scratch) {
    tk_svdf_feature(state, x, wf, p, elem, scratch);
    tk_svdf_time(out, state, wt, p + RSF_BIAS + p[RSF_FILTERS], n_unit, elem);
}
