/* int32 / float32 elementwise kernels and CAST (see eltwise32.h). */
#include "eltwise32.h"
#include "udiv.h"

/* One call of ROW per innermost output run: o (output offset), ia, ib (input offsets). */
#define BROADCAST_ROWS(p, ROW)                                                          \
    do {                                                                                \
        int32_t o = 0;                                                                  \
        for (int32_t i0 = 0; i0 < (p)[0]; i0++) {                                       \
            for (int32_t i1 = 0; i1 < (p)[1]; i1++) {                                   \
                for (int32_t i2 = 0; i2 < (p)[2]; i2++) {                               \
                    int32_t ia = i0 * (p)[5] + i1 * (p)[6] + i2 * (p)[7];               \
                    int32_t ib = i0 * (p)[10] + i1 * (p)[11] + i2 * (p)[12];            \
                    for (int32_t i3 = 0; i3 < (p)[3]; i3++) {                           \
                        ROW;                                                            \
                        o += (p)[4];                                                    \
                        ia += (p)[8];                                                   \
                        ib += (p)[13];                                                  \
                    }                                                                   \
                }                                                                       \
            }                                                                           \
        }                                                                               \
    } while (0)

/* ---------------------------------------------------------------- int32 arithmetic */

/* C's truncating x / y (y != 0), INT32_MIN / -1 wrapping to INT32_MIN */
static int32_t div_int32(int32_t x, int32_t y) {
    uint32_t ux = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
    uint32_t uy = y < 0 ? 0u - (uint32_t)y : (uint32_t)y;
    uint32_t q = tk_udiv32(ux, uy);
    return (int32_t)((x < 0) != (y < 0) ? 0u - q : q);
}

static int32_t clamp32(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

static int32_t int32_op(int32_t op, int32_t x, int32_t y) {
    if (op == EW_ADD) {
        return (int32_t)((uint32_t)x + (uint32_t)y);
    }
    if (op == EW_SUB) {
        return (int32_t)((uint32_t)x - (uint32_t)y);
    }
    if (op == EW_MUL) {
        return (int32_t)((uint32_t)x * (uint32_t)y);
    }
    if (op == EW_DIV) {
        return div_int32(x, y);
    }
    if (op == EW_MAX) {
        return x > y ? x : y;
    }
    if (op == EW_MIN) {
        return x < y ? x : y;
    }
    uint32_t d = (uint32_t)x - (uint32_t)y;
    return (int32_t)(d * d);
}

/* returns -1 at the first zero divisor */
static int int32_row(int32_t *out, const int32_t *a, int32_t sa, const int32_t *b, int32_t sb,
                     int32_t n, const int32_t *p) {
    int32_t op = p[BI_OP], lo = p[BI_LO], hi = p[BI_HI];
    for (int32_t i = 0; i < n; i++, a += sa, b += sb) {
        if (op == EW_DIV && *b == 0) {
            return -1;
        }
        out[i] = clamp32(int32_op(op, *a, *b), lo, hi);
    }
    return 0;
}

int tk_binary_int32(int32_t *out, const int32_t *a, const int32_t *b, const int32_t *p) {
    BROADCAST_ROWS(p, if (int32_row(out + o, a + ia, p[BC_SA4], b + ib, p[BC_SB4], p[BC_D4], p))
                          return -1);
    return 0;
}

/* ---------------------------------------------------------------- MAXIMUM / MINIMUM */

/* IEEE x > y on float32 bit patterns: false with a NaN or two zeros, else the order of
   the sign-magnitude patterns turned into two's complement */
static int f32_greater(uint32_t x, uint32_t y) {
    if ((x & 0x7FFFFFFF) > 0x7F800000 || (y & 0x7FFFFFFF) > 0x7F800000) {
        return 0;
    }
    if (((x | y) & 0x7FFFFFFF) == 0) {
        return 0;
    }
    int32_t kx = (int32_t)(x ^ ((uint32_t)((int32_t)x >> 31) & 0x7FFFFFFF));
    int32_t ky = (int32_t)(y ^ ((uint32_t)((int32_t)y >> 31) & 0x7FFFFFFF));
    return kx > ky;
}

/* MAXIMUM picks x when x > y, MINIMUM x when x < y, else y */
#define MINMAX_ROW(T, GREATER)                                                          \
    do {                                                                                \
        T *ob = (T *)out + o;                                                           \
        const T *ab = (const T *)a + ia, *bb = (const T *)b + ib;                       \
        for (int32_t i = 0; i < n; i++, ab += sa, bb += sb) {                           \
            ob[i] = (is_max ? GREATER(*ab, *bb) : GREATER(*bb, *ab)) ? *ab : *bb;       \
        }                                                                               \
    } while (0)
#define INT_GREATER(x, y) ((x) > (y))

void tk_minmax(void *out, const void *a, const void *b, const int32_t *p) {
    int32_t n = p[BC_D4], sa = p[BC_SA4], sb = p[BC_SB4], is_max = p[MM_MAX];
    int32_t dt = p[MM_DTYPE];
    if (dt == DT_INT8) {
        BROADCAST_ROWS(p, MINMAX_ROW(int8_t, INT_GREATER));
    } else if (dt == DT_INT16) {
        BROADCAST_ROWS(p, MINMAX_ROW(int16_t, INT_GREATER));
    } else if (dt == DT_INT32) {
        BROADCAST_ROWS(p, MINMAX_ROW(int32_t, INT_GREATER));
    } else {
        BROADCAST_ROWS(p, MINMAX_ROW(uint32_t, f32_greater));
    }
}

/* ---------------------------------------------------------------- CAST */

int tk_cast_elem_size(int32_t code) {
    return code == CT_INT8 || code == CT_BOOL ? 1 : (code == CT_INT16 ? 2 : 4);
}

/* element i of an integer/bool buffer as 32 bits (signed types sign-extended) */
static uint32_t load_int(const void *a, int32_t i, int32_t code) {
    if (code == CT_INT8) {
        return (uint32_t)(int32_t)((const int8_t *)a)[i];
    }
    if (code == CT_BOOL) {
        return ((const uint8_t *)a)[i];
    }
    if (code == CT_INT16) {
        return (uint32_t)(int32_t)((const int16_t *)a)[i];
    }
    return ((const uint32_t *)a)[i];
}

/* store v modulo 2**bits of the destination (bool: v != 0) */
static void store_int(void *out, int32_t i, int32_t code, uint32_t v) {
    if (code == CT_INT8) {
        ((int8_t *)out)[i] = (int8_t)v;
    } else if (code == CT_BOOL) {
        ((uint8_t *)out)[i] = v != 0;
    } else if (code == CT_INT16) {
        ((int16_t *)out)[i] = (int16_t)v;
    } else {
        ((uint32_t *)out)[i] = v;
    }
}

/* static_cast of a float32 (bits f) to an integer type, modulo 2**32, as the x86 reference
   does: through int32 (wide = 0) or int64 (wide = 1, uint32 targets); NaN and values out of
   that range give its minimum. Integer operations only. */
static uint32_t f32_to_int(uint32_t f, int wide) {
    uint32_t mag = f & 0x7FFFFFFF;
    int e = (int)(mag >> 23) - 127;
    if (e >= (wide ? 63 : 31)) {      /* also inf and NaN; -2**31 / -2**63 land here too */
        return wide ? 0 : 0x80000000u;
    }
    if (e < 0) {
        return 0;
    }
    uint32_t mant = (mag & 0x7FFFFF) | 0x800000, t;
    int sh = e - 23;
    if (sh >= 32) {
        t = 0;
    } else {
        t = sh >= 0 ? mant << sh : mant >> -sh;
    }
    return f >> 31 ? 0u - t : t;
}

/* int32 <-> uint32 (and same-type) casts keep every bit: a word copy */
static int cast_is_word_copy(int32_t src, int32_t dst) {
    int src_word = src == CT_INT32 || src == CT_UINT32;
    int dst_word = dst == CT_INT32 || dst == CT_UINT32;
    return (src_word && dst_word) || (src == CT_FLOAT32 && dst == CT_FLOAT32);
}

/* int16 -> int32/uint32: sign extension */
static void cast_int16_to_word(uint32_t *out, const int16_t *a, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        out[i] = (uint32_t)(int32_t)a[i];
    }
}

void tk_cast(void *out, const void *a, const int32_t *p) {
    int32_t n = p[CA_N], src = p[CA_SRC], dst = p[CA_DST];
    int wide = dst == CT_UINT32;
    if (cast_is_word_copy(src, dst)) {
        for (int32_t i = 0; i < n; i++) {
            ((uint32_t *)out)[i] = ((const uint32_t *)a)[i];
        }
        return;
    }
    if (src == CT_INT16 && (dst == CT_INT32 || dst == CT_UINT32)) {
        cast_int16_to_word(out, a, n);
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        if (src != CT_FLOAT32 && dst != CT_FLOAT32) {
            store_int(out, i, dst, load_int(a, i, src));
        } else if (src == CT_FLOAT32 && dst == CT_FLOAT32) {
            ((uint32_t *)out)[i] = ((const uint32_t *)a)[i];
        } else if (src == CT_FLOAT32) {
            uint32_t f = ((const uint32_t *)a)[i];
            store_int(out, i, dst, dst == CT_BOOL ? (f & 0x7FFFFFFF) != 0 : f32_to_int(f, wide));
        } else {
#if TK_HAVE_FLOAT_DSP
            uint32_t v = load_int(a, i, src);
            ((float *)out)[i] = src == CT_UINT32 || src == CT_BOOL ? (float)v : (float)(int32_t)v;
#endif
        }
    }
}

/* ---------------------------------------------------------------- float32 arithmetic */
#if TK_HAVE_FLOAT_DSP
typedef union {
    uint32_t u;
    float f;
} f32_bits;

static float from_bits(uint32_t u) {
    f32_bits v;
    v.u = u;
    return v.f;
}

static uint32_t to_bits(float f) {
    f32_bits v;
    v.f = f;
    return v.u;
}

/* the python twin's x / y: IEEE, with its own results for a zero divisor */
static float div_f32(float x, float y) {
    if (y != 0.0f) {
        return x / y;
    }
    if (x != x || x == 0.0f) {
        return from_bits(0x7FC00000);
    }
    return (x < 0.0f) != (int)(to_bits(y) >> 31) ? from_bits(0xFF800000) : from_bits(0x7F800000);
}

static float float_op(int32_t op, float x, float y) {
    if (op == EW_ADD) {
        return x + y;
    }
    if (op == EW_SUB) {
        return x - y;
    }
    if (op == EW_MUL) {
        return x * y;
    }
    if (op == EW_DIV) {
        return div_f32(x, y);
    }
    if (op == EW_MAX) {
        return x > y ? x : y;
    }
    if (op == EW_MIN) {
        return x < y ? x : y;
    }
    if (op == EW_SQDIFF) {
        float d = x - y;
        return d * d;
    }
    return x >= 0.0f ? x : x * y;
}

/* TFLM ActivationFunctionWithMinMax for the clamp codes of binary_float */
static float float_act(float r, int32_t act) {
    if (act == 0) {
        return r;
    }
    float lo = -3.40282347e38f, hi = 3.40282347e38f;
    if (act == 1) {
        lo = 0.0f;
    } else if (act == 2) {
        lo = -1.0f;
        hi = 1.0f;
    } else if (act == 3) {
        lo = 0.0f;
        hi = 6.0f;
    }
    if (r < lo) {
        r = lo;
    }
    return hi < r ? hi : r;
}

/* a NaN result is the quiet NaN 0x7FC00000 on every arch: an invalid operation (inf - inf,
   0 * inf) gives 0xFFC00000 on x86 but 0x7FC00000 on Arm */
static float canonical_nan(float r) {
    return r != r ? from_bits(0x7FC00000) : r;
}

static void float_row(float *out, const float *a, int32_t sa, const float *b, int32_t sb,
                      int32_t n, int32_t op, int32_t act) {
    for (int32_t i = 0; i < n; i++, a += sa, b += sb) {
        out[i] = float_act(canonical_nan(float_op(op, *a, *b)), act);
    }
}

void tk_binary_float(float *out, const float *a, const float *b, const int32_t *p) {
    BROADCAST_ROWS(p, float_row(out + o, a + ia, p[BC_SA4], b + ib, p[BC_SB4], p[BC_D4],
                                p[BF_OP], p[BF_ACT]));
}
#endif
