/* Quantized ADD (int8, TFLM left_shift 20 path via per-input tables) and MUL (int8 / int16)
   with 5-dim broadcasting, as in device/tinyml/kernels/python_eltwise.py. */
#include "kernels.h"
#include "requant.h"

typedef void (*bc_row_t)(void *out, int o, const void *a, int ia, int sa, const void *b, int ib,
                         int sb, int n, const int32_t *p, int elem_size);

/* call row() once per innermost run of the dense row-major output */
static void bc_run(bc_row_t row, void *out, const void *a, const void *b, const int32_t *p,
                   int elem_size) {
    int n = p[4], o = 0;
    for (int i0 = 0; i0 < p[0]; i0++) {
        for (int i1 = 0; i1 < p[1]; i1++) {
            for (int i2 = 0; i2 < p[2]; i2++) {
                int ia = i0 * p[5] + i1 * p[6] + i2 * p[7];
                int ib = i0 * p[10] + i1 * p[11] + i2 * p[12];
                for (int i3 = 0; i3 < p[3]; i3++, o += n, ia += p[8], ib += p[13]) {
                    row(out, o, a, ia, p[9], b, ib, p[14], n, p, elem_size);
                }
            }
        }
    }
}

static void add8_row(void *out, int o, const void *a, int ia, int sa, const void *b, int ib,
                     int sb, int n, const int32_t *p, int elem_size) {
    const int8_t *x = a, *y = b;
    int8_t *z = out;
    const int32_t *ta = p + ADD_TABLE_A, *tb = p + ADD_TABLE_B;
    int32_t mult = p[ADD_OUT_MULT], rshift = -p[ADD_OUT_SHIFT];
    (void)elem_size;
    for (int i = 0; i < n; i++, ia += sa, ib += sb) {
        int32_t raw = ta[x[ia] & 255] + tb[y[ib] & 255];
        int32_t v = tk_rdbpot(tk_srdhm(raw, mult), rshift) + p[ADD_OUT_OFFSET];
        z[o + i] = (int8_t)tk_clamp(v, p[ADD_ACT_MIN], p[ADD_ACT_MAX]);
    }
}

void tk_add_int8(int8_t *out, const int8_t *a, const int8_t *b, const int32_t *p) {
    bc_run(add8_row, out, a, b, p, 1);
}

static inline int32_t elem_get(const void *buf, int i, int elem_size) {
    return elem_size == 1 ? ((const int8_t *)buf)[i] : ((const int16_t *)buf)[i];
}

static void mul_row(void *out, int o, const void *a, int ia, int sa, const void *b, int ib,
                    int sb, int n, const int32_t *p, int elem_size) {
    int32_t o1 = p[MUL_IN1_OFFSET], o2 = p[MUL_IN2_OFFSET];
    for (int i = 0; i < n; i++, ia += sa, ib += sb) {
        uint32_t prod = (uint32_t)(elem_get(a, ia, elem_size) + o1)
                        * (uint32_t)(elem_get(b, ib, elem_size) + o2);
        int32_t v = tk_output((int32_t)prod, p[MUL_OUT_MULT], p[MUL_OUT_SHIFT],
                              p[MUL_OUT_OFFSET], p[MUL_ACT_MIN], p[MUL_ACT_MAX]);
        if (elem_size == 1) {
            ((int8_t *)out)[o + i] = (int8_t)v;
        } else {
            ((int16_t *)out)[o + i] = (int16_t)v;
        }
    }
}

void tk_mul_q(void *out, const void *a, const void *b, const int32_t *p, int elem_size) {
    bc_run(mul_row, out, a, b, p, elem_size);
}
