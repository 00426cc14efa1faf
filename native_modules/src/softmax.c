/* SOFTMAX int8 -> int8 / int16: TFLM's reference integer softmax (gemmlowp fixed point). */
#include "kernels.h"
#include "requant.h"

static int32_t sm_wrap_add(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* SaturatingRoundingMultiplyByPOT with exponent e in [1, 30] */
static int32_t sm_sat_shl(int32_t x, int e) {
    int32_t thr = (int32_t)(((uint32_t)1 << (31 - e)) - 1);
    if (x > thr) {
        return INT32_MAX;
    }
    if (x < -thr) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << e);
}

/* RoundingDivideByPOT for any exponent >= 0 (the int8 output path can ask for up to 35) */
static int32_t sm_rdbpot(int32_t x, int e) {
    if (e < 32) {
        return tk_rdbpot(x, e);
    }
    return (e == 32 && x == INT32_MIN) ? -1 : 0;
}

/* gemmlowp exp_on_negative_values, Q5.26 input a <= 0, Q0.31 output */
static int32_t sm_exp_q5(int32_t a) {
    static const int32_t barrel[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242
    };
    int32_t a_mod = (a & ((1 << 24) - 1)) - (1 << 24);
    int32_t x = sm_wrap_add(sm_sat_shl(a_mod, 5), 1 << 28);
    int32_t x2 = tk_srdhm(x, x), x3 = tk_srdhm(x2, x), x4 = tk_srdhm(x2, x2);
    int32_t x4_4 = tk_rdbpot(x4, 2);
    int32_t poly = tk_rdbpot(sm_wrap_add(tk_srdhm(sm_wrap_add(x4_4, x3), 715827883), x2), 1);
    const int32_t c = 1895147668;
    int32_t result = sm_wrap_add(c, tk_srdhm(c, sm_wrap_add(x, poly)));
    int32_t remainder = (int32_t)((uint32_t)a_mod - (uint32_t)a);
    for (int i = 0; i < 7; i++) {
        if (remainder & (1 << (24 + i))) {
            result = tk_srdhm(result, barrel[i]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1, Q0.31 */
static int32_t sm_one_over_one_plus_x(int32_t a) {
    int64_t s = (int64_t)a + INT32_MAX;
    int32_t half_den = (int32_t)(s >= 0 ? (s + 1) >> 1 : -((1 - s) >> 1));
    int32_t x = sm_wrap_add(1515870810, tk_srdhm(half_den, -1010580540));
    for (int i = 0; i < 3; i++) {
        int32_t one_minus = (int32_t)((uint32_t)(1 << 29) - (uint32_t)tk_srdhm(half_den, x));
        x = sm_wrap_add(x, sm_sat_shl(tk_srdhm(x, one_minus), 2));
    }
    return sm_sat_shl(x, 1);
}

static int sm_clz(uint32_t x) {
    int n = 32;
    while (x) {
        x >>= 1;
        n--;
    }
    return n;
}

static inline int32_t sm_exp_of_diff(int32_t diff, const int32_t *p) {
    return sm_exp_q5(tk_srdhm((int32_t)((uint32_t)diff << p[SM_LSHIFT]), p[SM_MULT]));
}

void tk_softmax_s8(void *out, const int8_t *in, const int32_t *p) {
    int depth = p[SM_DEPTH], bits = p[SM_BITS];
    int32_t out_min = -(1 << (bits - 1)), out_max = (1 << (bits - 1)) - 1;
    int32_t diff_min = p[SM_DIFF_MIN];
    for (int r = 0; r < p[SM_ROWS]; r++) {
        const int8_t *x = in + r * depth;
        int32_t mx = -128;
        for (int i = 0; i < depth; i++) {
            mx = x[i] > mx ? x[i] : mx;
        }
        int32_t total = 0;
        for (int i = 0; i < depth; i++) {
            int32_t diff = x[i] - mx;
            if (diff >= diff_min) {
                total = sm_wrap_add(total, tk_rdbpot(sm_exp_of_diff(diff, p), 12));
            }
        }
        int hp1 = sm_clz((uint32_t)total);
        uint32_t top = hp1 < 32 ? (uint32_t)total << hp1 : 0;
        int32_t scale = sm_one_over_one_plus_x((int32_t)(top - 0x80000000u));
        int exponent = 12 - hp1 + 31 - bits;
        for (int i = 0; i < depth; i++) {
            int32_t diff = x[i] - mx, v = out_min;
            if (diff >= diff_min) {
                v = sm_rdbpot(tk_srdhm(scale, sm_exp_of_diff(diff, p)), exponent) + out_min;
                v = tk_clamp(v, out_min, out_max);
            }
            if (bits == 8) {
                ((int8_t *)out)[r * depth + i] = (int8_t)v;
            } else {
                ((int16_t *)out)[r * depth + i] = (int16_t)v;
            }
        }
    }
}

/* ---- int8 table activations (LOGISTIC, TANH, ... as built by ops/activations.py) ---- */
#include "activation.h"

void tk_lut_int8(int8_t *out, const int8_t *in, const int32_t *table, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        out[i] = (int8_t)table[(uint8_t)in[i]];
    }
}

/* ---- float SOFTMAX (hardware float only) ---- */
#if TK_HAVE_FLOAT_DSP
static float pow2i(int k) {     /* 2**k for k in [-126, 127] */
    union { uint32_t u; float f; } v;
    v.u = (uint32_t)(k + 127) << 23;
    return v.f;
}

float tk_expf(float x) {
    if (!(x == x)) {
        return x;                                /* NaN */
    }
    if (x > 88.72283935546875f) {
        return pow2i(127) * 2.0f;                /* overflows to +inf */
    }
    if (x < -103.97208404541015625f) {
        return 0.0f;
    }
    /* x = k ln2 + r, |r| <= ln2 / 2; ln2 split so k * ln2_hi is exact */
    float kf = x * 1.44269502162933349609375f;
    int k = (int)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    float r = (x - (float)k * 0.693145751953125f) - (float)k * 1.428606765330187045e-06f;
    /* Taylor to degree 7: the truncation error is below 6e-9 for |r| <= 0.35 */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    if (k > 127) {
        return p * pow2i(127) * 2.0f;
    }
    if (k < -126) {
        return p * pow2i(k + 64) * pow2i(-64);   /* subnormal result */
    }
    return p * pow2i(k);
}

void tk_softmax_f32(float *out, const float *in, int32_t rows, int32_t depth, float beta) {
    for (int32_t r = 0; r < rows; r++, in += depth, out += depth) {
        float mx = in[0];
        for (int32_t i = 1; i < depth; i++) {
            mx = in[i] > mx ? in[i] : mx;
        }
        float sum = 0.0f;
        for (int32_t i = 0; i < depth; i++) {
            out[i] = tk_expf((in[i] - mx) * beta);
            sum += out[i];
        }
        for (int32_t i = 0; i < depth; i++) {
            out[i] = out[i] / sum;
        }
    }
}
#endif
