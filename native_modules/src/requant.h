/* TFLite Micro's integer requantization, bit-exact (gemmlowp double rounding). Plain C99. */
#ifndef TK_REQUANT_H
#define TK_REQUANT_H
#include <stdint.h>

/* 32x32 -> 64 signed multiply. Cortex-M0 has no SMULL and no libgcc is linked here, so
   build it from 16-bit halves there. */
static inline int64_t tk_mul64(int32_t a, int32_t b) {
#if defined(__ARM_ARCH_6M__)
    int32_t ah = a >> 16, bh = b >> 16;
    uint32_t al = (uint32_t)a & 0xFFFF, bl = (uint32_t)b & 0xFFFF;
    uint64_t hi = (uint64_t)(int64_t)(ah * bh) << 32;
    uint64_t mid = (uint64_t)((int64_t)(ah * (int32_t)bl) + (int64_t)((int32_t)al * bh)) << 16;
    return (int64_t)(hi + mid + (uint64_t)(al * bl));
#else
    return (int64_t)a * b;
#endif
}

/* SaturatingRoundingDoublingHighMul. The reference nudges by +2**30 or 1 - 2**30 by sign and
   divides by 2**31 truncating toward zero; for every int64 product that equals
   floor((ab + 2**30) / 2**31), an add and an arithmetic shift. */
static inline int32_t tk_srdhm(int32_t a, int32_t b) {
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    return (int32_t)((tk_mul64(a, b) + (1 << 30)) >> 31);
}

/* RoundingDivideByPOT, exponent in [0, 31] */
static inline int32_t tk_rdbpot(int32_t x, int exponent) {
    int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0);
    return (x >> exponent) + (remainder > threshold);
}

/* MultiplyByQuantizedMultiplier(int32 x, multiplier, shift), shift in [-31, 31].
   x << left_shift wraps like the int32 arithmetic of the reference build. */
static inline int32_t tk_requantize(int32_t x, int32_t multiplier, int32_t shift) {
    if (shift > 0) {
        return tk_srdhm((int32_t)((uint32_t)x << shift), multiplier);
    }
    return tk_rdbpot(tk_srdhm(x, multiplier), -shift);
}

static inline int32_t tk_clamp(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

/* requantize an accumulator to an output value: TFLM's order (scale, + zero point, clamp) */
static inline int32_t tk_output(int32_t acc, int32_t multiplier, int32_t shift, int32_t out_offset,
                                int32_t act_min, int32_t act_max) {
    return tk_clamp(tk_requantize(acc, multiplier, shift) + out_offset, act_min, act_max);
}

/* per-channel requantization of one int8 output tensor; multipliers are >= 0 (the binding
   checks), so SaturatingRoundingDoublingHighMul never saturates here */
typedef struct {
    const int32_t *mult, *shift;
    int32_t out_offset, act_min, act_max;
} tk_rq_t;

static inline tk_rq_t tk_rq(const int32_t *mult, const int32_t *shift, int32_t out_offset,
                            int32_t act_min, int32_t act_max) {
    tk_rq_t rq = {mult, shift, out_offset, act_min, act_max};
    return rq;
}

/* floor((a * m + 2**30) / 2**31) for 0 <= m < 2**31 (SRDHM without its saturating case) */
static inline int32_t tk_srdhm_pos(int32_t a, int32_t m) {
#if defined(__ARM_ARCH_6M__)
    /* 32-bit pieces only: |a| * m from 16-bit halves, every partial sum below 2**32 */
    int neg = a < 0;
    uint32_t ua = neg ? 0u - (uint32_t)a : (uint32_t)a;
    uint32_t uh = ua >> 16, ul = ua & 0xFFFF, mh = (uint32_t)m >> 16, ml = (uint32_t)m & 0xFFFF;
    uint32_t cc = ul * ml, b1 = uh * ml, b2 = ul * mh;
    uint32_t low = (cc & 0xFFFF) + (neg ? 0xFFFFu : 0u);              /* nudge 2**30 - 1 */
    uint32_t mid = (b1 & 0xFFFF) + (b2 & 0xFFFF) + (cc >> 16) + (neg ? 0x3FFFu : 0x4000u)
                   + (low >> 16);
    uint32_t q = 2 * (uh * mh + (b1 >> 16) + (b2 >> 16) + (mid >> 16)) + ((mid & 0xFFFF) >> 15);
    return neg ? -(int32_t)q : (int32_t)q;
#else
    return (int32_t)(((int64_t)a * m + (1 << 30)) >> 31);
#endif
}

/* tk_rdbpot(tk_srdhm_pos(a, m), e) for 0 <= m < 2**31 and 2 <= e <= 31 with one rounding:
   RoundingDivideByPOT of q is floor((q + 2**(e-1) - [q < 0]) / 2**e), and nested floors of
   integer quotients fold, so the result is floor((a m + 2**30 + 2**(30+e) - 2**31 [q < 0])
   / 2**(31+e)). [a < 0] may stand for [q < 0]: they differ only when q = 0, where the sum
   still lies in [0, 2**(31+e)). The high word of that sum is one SMLAL from a constant. */
static inline int32_t tk_rq_shr(int32_t a, int32_t m, int e) {
#if defined(__ARM_ARCH_6M__)
    /* on magnitudes: +-floor((|a| m + 2**(30+e) + 2**30 - [a < 0]) / 2**(31+e)); |a| m from
       16-bit halves, its low word and the constant's added with explicit carries */
    uint32_t neg = (uint32_t)a >> 31;
    uint32_t ua = neg ? 0u - (uint32_t)a : (uint32_t)a;
    uint32_t uh = ua >> 16, ul = ua & 0xFFFF, mh = (uint32_t)m >> 16, ml = (uint32_t)m & 0xFFFF;
    uint32_t cross = uh * ml + ul * mh;                 /* < 2**32 */
    uint32_t low = ul * ml, t = low + (cross << 16);
    uint32_t hi = uh * mh + (cross >> 16) + (t < low) + (1u << (e - 2));
    uint32_t t2 = t + (0x40000000u - neg);
    uint32_t q = (hi + (t2 < t)) >> (e - 1);
    return neg ? -(int32_t)q : (int32_t)q;
#else
    uint32_t lo = 0x40000000u | ((uint32_t)a & 0x80000000u);
    uint32_t hi = (1u << (e - 2)) - ((uint32_t)a >> 31);
    int64_t round = (int64_t)(((uint64_t)hi << 32) | lo);
    return (int32_t)(((int64_t)a * m + round) >> 32) >> (e - 1);
#endif
}

static inline int8_t tk_rq_s8(const tk_rq_t *rq, int32_t acc, int ch) {
    int32_t m = rq->mult[ch], s = rq->shift[ch], v;
    if (__builtin_expect(s <= -2, 1)) {
        v = tk_rq_shr(acc, m, -s);
    } else if (s > 0) {                   /* multipliers > 1 are rare */
        v = tk_srdhm_pos((int32_t)((uint32_t)acc << s), m);
    } else {
        v = tk_rdbpot(tk_srdhm_pos(acc, m), -s);
    }
    return (int8_t)tk_clamp(v + rq->out_offset, rq->act_min, rq->act_max);
}

/* tk_rq_s8 of two accumulators of channel ch (a 2x2 block's pixels): the scale is set up once */
static inline void tk_rq2_s8(const tk_rq_t *rq, int ch, int32_t a, int32_t b, int8_t *oa,
                             int8_t *ob) {
    int32_t m = rq->mult[ch], s = rq->shift[ch];
    if (__builtin_expect(s <= -2, 1)) {
        *oa = (int8_t)tk_clamp(tk_rq_shr(a, m, -s) + rq->out_offset, rq->act_min, rq->act_max);
        *ob = (int8_t)tk_clamp(tk_rq_shr(b, m, -s) + rq->out_offset, rq->act_min, rq->act_max);
    } else {
        *oa = tk_rq_s8(rq, a, ch);
        *ob = tk_rq_s8(rq, b, ch);
    }
}

#endif
