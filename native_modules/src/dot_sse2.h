/* x86-64 (unix port) inner loops with SSE2, the x86-64 baseline. PMADDWD (_mm_madd_epi16) is
   the x86 analogue of SMLAD: eight int16 column values times eight int8 weights sign-extended to
   int16, adjacent products summed into four int32 lanes. Column values are input + offset, in
   [-255, 255], weights in [-128, 127]: every product fits int16 x int16 and every pair sum
   int32, so the int32 sums are exactly those of the C loops. Each function covers the whole
   groups of 8 and returns how many items it did; the caller runs the tail in C.
   Vector constants are built in registers (no .rodata: mpy_ld places none for x64). */
#ifndef TK_DOT_SSE2_H
#define TK_DOT_SSE2_H
#include <emmintrin.h>
#include <stdint.h>

/* eight int8 -> eight int16 */
static inline __m128i tk_w8_sse2(const int8_t *w) {
    __m128i v = _mm_loadl_epi64((const __m128i *)w);
    return _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
}

static inline __m128i tk_c8_sse2(const int16_t *c) {
    return _mm_loadu_si128((const __m128i *)c);
}

/* lane sums of a, b, c, d as one vector (a, b, c, d) */
static inline __m128i tk_hsum4_sse2(__m128i a, __m128i b, __m128i c, __m128i d) {
    __m128i ab = _mm_add_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));
    __m128i cd = _mm_add_epi32(_mm_unpacklo_epi32(c, d), _mm_unpackhi_epi32(c, d));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
}

static inline int32_t tk_hsum_sse2(__m128i a) {
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(1, 0, 3, 2)));
    a = _mm_add_epi32(a, _mm_shuffle_epi32(a, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(a);
}

static inline void tk_acc4_sse2(int32_t *acc, __m128i s) {
    _mm_storeu_si128((__m128i *)acc, _mm_add_epi32(_mm_loadu_si128((const __m128i *)acc), s));
}

/* acc[r] += dot(c, row r), rows w, w + K, w + 2K, w + 3K */
static inline int tk_dot_1x4_sse2(int32_t *acc, const int16_t *c, const int8_t *w, int K,
                                  int ws) {
    if (K < 8) {
        return 0;
    }
    const int8_t *w1 = w + ws, *w2 = w1 + ws, *w3 = w2 + ws;
    __m128i s0 = _mm_setzero_si128(), s1 = s0, s2 = s0, s3 = s0;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m128i x = tk_c8_sse2(c + k);
        s0 = _mm_add_epi32(s0, _mm_madd_epi16(x, tk_w8_sse2(w + k)));
        s1 = _mm_add_epi32(s1, _mm_madd_epi16(x, tk_w8_sse2(w1 + k)));
        s2 = _mm_add_epi32(s2, _mm_madd_epi16(x, tk_w8_sse2(w2 + k)));
        s3 = _mm_add_epi32(s3, _mm_madd_epi16(x, tk_w8_sse2(w3 + k)));
    }
    tk_acc4_sse2(acc, tk_hsum4_sse2(s0, s1, s2, s3));
    return k;
}

/* acc[2*j + r] += dot(column j, row r), rows w0 and w0 + K */
static inline int tk_dot_2x2_sse2(int32_t *acc, const int16_t *c0, const int16_t *c1,
                                  const int8_t *w0, int K) {
    if (K < 8) {
        return 0;
    }
    const int8_t *w1 = w0 + K;
    __m128i s00 = _mm_setzero_si128(), s01 = s00, s10 = s00, s11 = s00;
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m128i x0 = tk_c8_sse2(c0 + k), x1 = tk_c8_sse2(c1 + k);
        __m128i wa = tk_w8_sse2(w0 + k), wb = tk_w8_sse2(w1 + k);
        s00 = _mm_add_epi32(s00, _mm_madd_epi16(x0, wa));
        s01 = _mm_add_epi32(s01, _mm_madd_epi16(x0, wb));
        s10 = _mm_add_epi32(s10, _mm_madd_epi16(x1, wa));
        s11 = _mm_add_epi32(s11, _mm_madd_epi16(x1, wb));
    }
    tk_acc4_sse2(acc, tk_hsum4_sse2(s00, s01, s10, s11));
    return k;
}

/* *acc += dot(c, w) */
static inline int tk_dot_1x1_sse2(int32_t *acc, const int16_t *c, const int8_t *w, int K) {
    if (K < 8) {
        return 0;
    }
    __m128i s = _mm_setzero_si128();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        s = _mm_add_epi32(s, _mm_madd_epi16(tk_c8_sse2(c + k), tk_w8_sse2(w + k)));
    }
    *acc += tk_hsum_sse2(s);
    return k;
}

/* col[i] = x[i] + offset for whole groups of 16 */
static inline int tk_col_put_sse2(int16_t *col, const int8_t *x, int n, int32_t offset) {
    __m128i off = _mm_set1_epi16((int16_t)offset);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(x + i));
        __m128i lo = _mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
        __m128i hi = _mm_srai_epi16(_mm_unpackhi_epi8(v, v), 8);
        _mm_storeu_si128((__m128i *)(col + i), _mm_add_epi16(lo, off));
        _mm_storeu_si128((__m128i *)(col + i + 8), _mm_add_epi16(hi, off));
    }
    return i;
}

#endif
