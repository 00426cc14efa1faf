/* requant_int16 (python_eltwise.py layout): int16 RELU / LEAKY_RELU / RELU6 / RELU_N1_TO_1 and
   QUANTIZE's int16/int32 -> int8/int16/int32 requantization. Plain C99; the binding has
   checked lengths, shifts, multipliers and the clamp range. Element types: size 1, 2 or 4,
   `uns` for unsigned 1/2-byte inputs. */
#include "copy.h"
#include "requant.h"

static int32_t load(const void *a, int elem, int uns, int32_t i) {
    if (elem == 1) {
        return uns ? (int32_t)((const uint8_t *)a)[i] : (int32_t)((const int8_t *)a)[i];
    }
    if (elem == 2) {
        return uns ? (int32_t)((const uint16_t *)a)[i] : (int32_t)((const int16_t *)a)[i];
    }
    return ((const int32_t *)a)[i];
}

static void store(void *out, int elem, int32_t i, int32_t v) {
    if (elem == 1) {
        ((int8_t *)out)[i] = (int8_t)v;
    } else if (elem == 2) {
        ((int16_t *)out)[i] = (int16_t)v;
    } else {
        ((int32_t *)out)[i] = v;
    }
}

void tk_requant_int16(void *out, int oe, const void *a, int ae, int au, const int32_t *p) {
    int32_t n = p[RQ_N], izp = p[RQ_IZP];
    int64_t ozp = p[RQ_OZP], lo = p[RQ_LO], hi = p[RQ_HI];
    int32_t mp = p[RQ_MPOS], sp = p[RQ_SPOS], mn = p[RQ_MNEG], sn = p[RQ_SNEG];
    int neg = p[RQ_NEGATE], mode = p[RQ_MODE];
    for (int32_t i = 0; i < n; i++) {
        int64_t x = load(a, ae, au, i);
        if (mode) {
            int32_t v = (int32_t)(x - izp);
            if (v >= 0) {
                x = ozp + tk_requantize(v, mp, sp);
            } else {
                int32_t y = tk_requantize(v, mn, sn);
                x = ozp + (neg ? -(int64_t)y : (int64_t)y);
            }
        }
        store(out, oe, i, (int32_t)(x < lo ? lo : (x > hi ? hi : x)));
    }
}

/* reduce_int (python_eltwise layout): quantized MEAN / SUM. The sum wraps to int32 like
   TFLM's int32 accumulator (unsigned arithmetic, no 64-bit multiply needed). */
void tk_reduce_int(void *out, int oe, const void *a, int ae, int au, const int32_t *p) {
    int32_t n_out = p[RI_N_OUT], n_red = p[RI_N_RED];
    int32_t ozp = p[RI_OZP], mult = p[RI_MULT], shift = p[RI_SHIFT];
    int32_t lo = p[RI_LO], hi = p[RI_HI];
    uint32_t bias = (uint32_t)p[RI_IZP] * (uint32_t)n_red;
    const int32_t *bases = p + RI_HDR, *red = p + RI_HDR + n_out;
    for (int32_t o = 0; o < n_out; o++) {
        int32_t base = bases[o];
        uint32_t s = 0;
        if (ae == 1 && !au) {
            const int8_t *x = (const int8_t *)a + base;
            for (int32_t r = 0; r < n_red; r++) {
                s += (uint32_t)(int32_t)x[red[r]];
            }
        } else {
            for (int32_t r = 0; r < n_red; r++) {
                s += (uint32_t)load(a, ae, au, base + red[r]);
            }
        }
        int64_t x = (int64_t)tk_requantize((int32_t)(s - bias), mult, shift) + ozp;
        store(out, oe, o, (int32_t)(x < lo ? lo : (x > hi ? hi : x)));
    }
}
