/* Shared inner loops of conv and fully connected: int16 "columns" (input + offset, one per
   output pixel) times int8 weight rows. Plain C99; on Armv7E-M the DSP extension is used the
   way CMSIS-NN does: SXTB16 widens four int8 weights into two int16 pairs and SMLAD does two
   MACs per instruction. For that, every group of four column values is stored as
   (x0, x2, x1, x3), matching SXTB16's lanes (bytes 0,2) and (bytes 1,3); the K % 4 tail is
   stored in natural order. */
#ifndef TK_DOT_H
#define TK_DOT_H
#include <stdint.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define TK_DSP 1
#else
#define TK_DSP 0
#endif

static inline uint32_t tk_ld32(const void *p) {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
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
static inline int32_t tk_smlad(uint32_t a, uint32_t b, int32_t acc) {
    int32_t r;
    __asm__ ("smlad %0, %1, %2, %3" : "=r" (r) : "r" (a), "r" (b), "r" (acc));
    return r;
}
#endif

/* col[0..n) = x[0..n) + offset, natural order */
static inline void tk_col_put(int16_t *col, const int8_t *x, int n, int32_t offset) {
    for (int i = 0; i < n; i++) {
        col[i] = (int16_t)(x[i] + offset);
    }
}

static inline void tk_col_zero(int16_t *col, int n) {
    for (int i = 0; i < n; i++) {
        col[i] = 0;
    }
}

/* after a column of K values was written in natural order: bring it to the dot layout */
static inline void tk_col_finish(int16_t *col, int K) {
#if TK_DSP
    for (int i = 0; i + 4 <= K; i += 4) {
        int16_t t = col[i + 1];
        col[i + 1] = col[i + 2];
        col[i + 2] = t;
    }
#else
    (void)col;
    (void)K;
#endif
}

/* a whole column from one contiguous input run (1x1 conv, fully connected), dot layout */
static inline void tk_col_from_run(int16_t *col, const int8_t *x, int K, int32_t offset) {
    int i = 0;
#if TK_DSP
    uint32_t off2 = ((uint32_t)offset & 0xFFFF) * 0x10001u;
    uint32_t *dst = (uint32_t *)col;
    for (; i + 4 <= K; i += 4) {
        uint32_t v = tk_ld32(x + i);
        *dst++ = (uint32_t)tk_sxtab16(off2, v);
        *dst++ = (uint32_t)tk_sxtab16_ror8(off2, v);
    }
#endif
    tk_col_put(col + i, x + i, K - i, offset);
}

/* acc[2*c + r] += dot(column c, weight row r) for two columns and two rows of length K */
static inline void tk_dot_2x2(const int16_t *c0, const int16_t *c1, const int8_t *w0,
                              const int8_t *w1, int K, int32_t *acc) {
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int k = 0;
#if TK_DSP
    const uint32_t *x0 = (const uint32_t *)c0, *x1 = (const uint32_t *)c1;
    for (; k + 4 <= K; k += 4) {
        uint32_t wa = tk_ld32(w0 + k), wb = tk_ld32(w1 + k);
        int32_t wa02 = tk_sxtb16(wa), wa13 = tk_sxtb16_ror8(wa);
        int32_t wb02 = tk_sxtb16(wb), wb13 = tk_sxtb16_ror8(wb);
        uint32_t p0 = x0[0], p1 = x0[1];
        x0 += 2;
        a00 = tk_smlad(wa02, p0, a00);
        a00 = tk_smlad(wa13, p1, a00);
        a01 = tk_smlad(wb02, p0, a01);
        a01 = tk_smlad(wb13, p1, a01);
        p0 = x1[0];
        p1 = x1[1];
        x1 += 2;
        a10 = tk_smlad(wa02, p0, a10);
        a10 = tk_smlad(wa13, p1, a10);
        a11 = tk_smlad(wb02, p0, a11);
        a11 = tk_smlad(wb13, p1, a11);
    }
#endif
    for (; k < K; k++) {
        int32_t x0v = c0[k], x1v = c1[k], wav = w0[k], wbv = w1[k];
        a00 += x0v * wav;
        a01 += x0v * wbv;
        a10 += x1v * wav;
        a11 += x1v * wbv;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* acc[r] += dot(column, weight row r) for one column and four rows w, w+K, w+2K, w+3K */
static inline void tk_dot_1x4(const int16_t *c, const int8_t *w, int K, int32_t *acc) {
    const int8_t *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int k = 0;
#if TK_DSP
    const uint32_t *x = (const uint32_t *)c;
    for (; k + 4 <= K; k += 4) {
        uint32_t p0 = x[0], p1 = x[1];
        x += 2;
        uint32_t v = tk_ld32(w0 + k);
        a0 = tk_smlad(tk_sxtb16(v), p0, a0);
        a0 = tk_smlad(tk_sxtb16_ror8(v), p1, a0);
        v = tk_ld32(w1 + k);
        a1 = tk_smlad(tk_sxtb16(v), p0, a1);
        a1 = tk_smlad(tk_sxtb16_ror8(v), p1, a1);
        v = tk_ld32(w2 + k);
        a2 = tk_smlad(tk_sxtb16(v), p0, a2);
        a2 = tk_smlad(tk_sxtb16_ror8(v), p1, a2);
        v = tk_ld32(w3 + k);
        a3 = tk_smlad(tk_sxtb16(v), p0, a3);
        a3 = tk_smlad(tk_sxtb16_ror8(v), p1, a3);
    }
#endif
    for (; k < K; k++) {
        int32_t xv = c[k];
        a0 += xv * w0[k];
        a1 += xv * w1[k];
        a2 += xv * w2[k];
        a3 += xv * w3[k];
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* dot(column, weight row) */
static inline int32_t tk_dot_1x1(const int16_t *c, const int8_t *w, int K, int32_t acc) {
    int k = 0;
#if TK_DSP
    const uint32_t *x = (const uint32_t *)c;
    for (; k + 4 <= K; k += 4) {
        uint32_t v = tk_ld32(w + k);
        acc = tk_smlad(tk_sxtb16(v), x[0], acc);
        acc = tk_smlad(tk_sxtb16_ror8(v), x[1], acc);
        x += 2;
    }
#endif
    for (; k < K; k++) {
        acc += c[k] * w[k];
    }
    return acc;
}

#endif
