/* TFLM Signal library ops, native twins of python_dsp.signal_* (see signal.h). */
#include "signal.h"
#if defined(__x86_64__) && defined(__SSE2__)
#include <emmintrin.h>
#endif

/* x * y, 32 x 32 -> 64 bits; Cortex-M0 has no UMULL and no libgcc, so 16-bit halves there */
static uint64_t mul_u32(uint32_t x, uint32_t y) {
#if defined(__ARM_ARCH_6M__)
    uint32_t xl = x & 0xFFFF, xh = x >> 16, yl = y & 0xFFFF, yh = y >> 16;
    uint64_t mid = (uint64_t)(xh * yl) + (uint64_t)(xl * yh);
    return (uint64_t)(xl * yl) + (mid << 16) + ((uint64_t)(xh * yh) << 32);
#else
    return (uint64_t)x * y;
#endif
}

/* the low 32 bits of v >> s for s in 0..63, without a variable 64-bit shift helper */
static uint32_t shr_u64(uint64_t v, int s) {
    uint32_t lo = (uint32_t)v, hi = (uint32_t)(v >> 32);
    if (s >= 32) {
        return hi >> (s - 32);
    }
    return s ? (lo >> s) | (hi << (32 - s)) : lo;
}

/* bit length of x (TFLM MostSignificantBit32; 0 for 0) */
static int msb32(uint32_t x) {
    int n = 0;
    while (x) {
        x >>= 1;
        n++;
    }
    return n;
}

static int16_t sat16(int32_t v) {
    return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* ---------------------------------------------------------------- window / auto-scale */

void tk_signal_window(int16_t *out, const int16_t *a, const int16_t *w, const int32_t *p) {
    int32_t size = p[SW_SIZE], shift = p[SW_SHIFT];
    for (int32_t r = 0; r < p[SW_ROWS]; r++) {
        for (int32_t i = 0; i < size; i++) {
            out[i] = sat16(((int32_t)a[i] * w[i]) >> shift);
        }
        a += size;
        out += size;
    }
}

/* TFLM MaxAbs16, its int16 wrap of -(-32768) included */
static int32_t max_abs16(const int16_t *a, int32_t n) {
    int32_t mx = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t v = a[i];
        if (v > mx) {
            mx = v;
        } else if (-v > mx) {
            mx = (int16_t)-v;
        }
    }
    return mx;
}

/* MaxAbs16 without a -32768 in a: then the quirk never fires and the result is the
   largest |a[i]|, order-free (vectorizable min and max); else the exact scan */
static int32_t max_abs16_fast(const int16_t *a, int32_t n) {
    int32_t lo = 0, hi = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t v = a[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo == -32768) {
        return max_abs16(a, n);
    }
    return -lo > hi ? -lo : hi;
}

int32_t tk_signal_fft_auto_scale(int16_t *out, const int16_t *a, const int32_t *p) {
    int32_t n = p[SA_N], mx = max_abs16_fast(a, n);
    int32_t bits = mx < 0 ? 0 : 15 - msb32((uint32_t)mx);
    if (bits < 0) {
        bits = 0;
    }
    for (int32_t i = 0; i < n; i++) {
        out[i] = (int16_t)((uint32_t)(int32_t)a[i] << bits);
    }
    return bits;
}

/* ---------------------------------------------------------------- KISS FFT (fixed 16) */

/* KISS FFT S_MUL by 32767/k: (v * (32767 / k) + 2**14) >> 15 */
static int32_t scale_q15(int32_t v, int32_t by) {
    return (v * by + 16384) >> 15;
}

/* C_MUL's real and imaginary parts, stored to int16 */
static int16_t cmul_re(int32_t ar, int32_t ai, int32_t br, int32_t bi) {
    return (int16_t)((ar * br - ai * bi + 16384) >> 15);
}

static int16_t cmul_im(int32_t ar, int32_t ai, int32_t br, int32_t bi) {
    return (int16_t)((ar * bi + ai * br + 16384) >> 15);
}

static void bfly2(int16_t *f, int32_t fstride, int32_t m, const int16_t *tw_r,
                  const int16_t *tw_i) {
    int16_t *g = f + 2 * m;
    int32_t tw = 0;
    for (int32_t j = 0; j < 2 * m; j += 2) {
        int32_t ar = scale_q15(f[j], 16383), ai = scale_q15(f[j + 1], 16383);
        int32_t br = scale_q15(g[j], 16383), bi = scale_q15(g[j + 1], 16383);
        int16_t tr = cmul_re(br, bi, tw_r[tw], tw_i[tw]);
        int16_t ti = cmul_im(br, bi, tw_r[tw], tw_i[tw]);
        tw += fstride;
        g[j] = (int16_t)(ar - tr);
        g[j + 1] = (int16_t)(ai - ti);
        f[j] = (int16_t)(ar + tr);
        f[j + 1] = (int16_t)(ai + ti);
    }
}

static void bfly4(int16_t *f, int32_t fstride, int32_t m, const int16_t *tw_r,
                  const int16_t *tw_i) {
    int16_t *f1 = f + 2 * m, *f2 = f1 + 2 * m, *f3 = f2 + 2 * m;
    int32_t t1 = 0, t2 = 0, t3 = 0;
    for (int32_t j = 0; j < 2 * m; j += 2) {
        int32_t f0r = scale_q15(f[j], 8191), f0i = scale_q15(f[j + 1], 8191);
        int32_t f1r = scale_q15(f1[j], 8191), f1i = scale_q15(f1[j + 1], 8191);
        int32_t f2r = scale_q15(f2[j], 8191), f2i = scale_q15(f2[j + 1], 8191);
        int32_t f3r = scale_q15(f3[j], 8191), f3i = scale_q15(f3[j + 1], 8191);
        int16_t s0r = cmul_re(f1r, f1i, tw_r[t1], tw_i[t1]);
        int16_t s0i = cmul_im(f1r, f1i, tw_r[t1], tw_i[t1]);
        int16_t s1r = cmul_re(f2r, f2i, tw_r[t2], tw_i[t2]);
        int16_t s1i = cmul_im(f2r, f2i, tw_r[t2], tw_i[t2]);
        int16_t s2r = cmul_re(f3r, f3i, tw_r[t3], tw_i[t3]);
        int16_t s2i = cmul_im(f3r, f3i, tw_r[t3], tw_i[t3]);
        int16_t s5r = (int16_t)(f0r - s1r), s5i = (int16_t)(f0i - s1i);
        int16_t g0r = (int16_t)(f0r + s1r), g0i = (int16_t)(f0i + s1i);
        int16_t s3r = (int16_t)(s0r + s2r), s3i = (int16_t)(s0i + s2i);
        int16_t s4r = (int16_t)(s0r - s2r), s4i = (int16_t)(s0i - s2i);
        f2[j] = (int16_t)(g0r - s3r);
        f2[j + 1] = (int16_t)(g0i - s3i);
        t1 += fstride;
        t2 += 2 * fstride;
        t3 += 3 * fstride;
        f[j] = (int16_t)(g0r + s3r);
        f[j + 1] = (int16_t)(g0i + s3i);
        f1[j] = (int16_t)(s5r + s4i);
        f1[j + 1] = (int16_t)(s5i - s4r);
        f3[j] = (int16_t)(s5r - s4i);
        f3[j + 1] = (int16_t)(s5i + s4r);
    }
}

#if defined(__x86_64__) && defined(__SSE2__)
/* bfly4 four outputs j at a time (SSE2, x64): complex values as int16 (re, im) pairs, 8 lanes.
   Every intermediate of bfly4 fits int16 or is stored to int16, so the int16 lane adds wrap
   as its (int16_t) casts do; the Q15 products are PMADDWD sums, exact in int32. */

/* (v * c + 16384) >> 15 per int16 lane; c_round = (c, 16384) pairs, |c| < 2**14 */
static __m128i scale_q15_x8(__m128i v, __m128i c_round) {
    __m128i one = _mm_set1_epi16(1);
    __m128i lo = _mm_madd_epi16(_mm_unpacklo_epi16(v, one), c_round);
    __m128i hi = _mm_madd_epi16(_mm_unpackhi_epi16(v, one), c_round);
    return _mm_packs_epi32(_mm_srai_epi32(lo, 15), _mm_srai_epi32(hi, 15));
}

/* (re, im) pairs -> (re, -im) (two's complement wrap, as int16_t(-x)) */
static __m128i neg_im_x4(__m128i v) {
    __m128i odd = _mm_set1_epi32((int32_t)0xFFFF0000u);
    return _mm_sub_epi16(_mm_xor_si128(v, odd), odd);
}

static __m128i swap_re_im_x4(__m128i v) {
    return _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xB1), 0xB1);
}

/* C_MUL of four complex values by four twiddles t, each part stored to int16 */
static __m128i cmul_x4(__m128i a, __m128i t) {
    __m128i rnd = _mm_set1_epi32(16384);
    __m128i re = _mm_madd_epi16(a, neg_im_x4(t));          /* ar*tr - ai*ti */
    __m128i im = _mm_madd_epi16(a, swap_re_im_x4(t));      /* ar*ti + ai*tr */
    re = _mm_srai_epi32(_mm_add_epi32(re, rnd), 15);
    im = _mm_srai_epi32(_mm_add_epi32(im, rnd), 15);
    return _mm_or_si128(_mm_and_si128(re, _mm_set1_epi32(0xFFFF)), _mm_slli_epi32(im, 16));
}

/* twiddles t, t + step, t + 2 step, t + 3 step as (re, im) pairs */
static __m128i twiddles_x4(const int16_t *tw_r, const int16_t *tw_i, int32_t t, int32_t step) {
    uint32_t w[4];
    for (int k = 0; k < 4; k++, t += step) {
        w[k] = (uint32_t)(uint16_t)tw_r[t] | (uint32_t)(uint16_t)tw_i[t] << 16;
    }
    return _mm_set_epi32((int32_t)w[3], (int32_t)w[2], (int32_t)w[1], (int32_t)w[0]);
}

/* one bfly4 on four butterflies at once: x[k] holds input k of each (in: raw, out: the
   results), t[k - 1] the twiddles of input k */
static void bfly4_x4(__m128i *x, const __m128i *t) {
    __m128i c = _mm_set1_epi32(8191 | 16384 << 16);
    __m128i a0 = scale_q15_x8(x[0], c), a1 = scale_q15_x8(x[1], c);
    __m128i a2 = scale_q15_x8(x[2], c), a3 = scale_q15_x8(x[3], c);
    __m128i s0 = cmul_x4(a1, t[0]), s1 = cmul_x4(a2, t[1]), s2 = cmul_x4(a3, t[2]);
    __m128i s5 = _mm_sub_epi16(a0, s1), g0 = _mm_add_epi16(a0, s1);
    __m128i s3 = _mm_add_epi16(s0, s2), s4 = _mm_sub_epi16(s0, s2);
    __m128i rot = neg_im_x4(swap_re_im_x4(s4));         /* (s4i, -s4r) */
    x[0] = _mm_add_epi16(g0, s3);
    x[1] = _mm_add_epi16(s5, rot);
    x[2] = _mm_sub_epi16(g0, s3);
    x[3] = _mm_sub_epi16(s5, rot);
}

/* bfly4 for m a multiple of 4 */
static void bfly4_sse2(int16_t *f, int32_t fstride, int32_t m, const int16_t *tw_r,
                       const int16_t *tw_i) {
    for (int32_t j = 0; j < m; j += 4) {
        __m128i x[4], t[3];
        for (int k = 0; k < 4; k++) {
            x[k] = _mm_loadu_si128((const __m128i *)(f + 2 * (k * m + j)));
        }
        for (int k = 1; k < 4; k++) {
            t[k - 1] = twiddles_x4(tw_r, tw_i, k * j * fstride, k * fstride);
        }
        bfly4_x4(x, t);
        for (int k = 0; k < 4; k++) {
            _mm_storeu_si128((__m128i *)(f + 2 * (k * m + j)), x[k]);
        }
    }
}

/* 4x4 transpose of complex (32-bit) values */
static void transpose_x4(__m128i *x) {
    __m128i a = _mm_unpacklo_epi32(x[0], x[1]), b = _mm_unpackhi_epi32(x[0], x[1]);
    __m128i c = _mm_unpacklo_epi32(x[2], x[3]), d = _mm_unpackhi_epi32(x[2], x[3]);
    x[0] = _mm_unpacklo_epi64(a, c);
    x[1] = _mm_unpackhi_epi64(a, c);
    x[2] = _mm_unpacklo_epi64(b, d);
    x[3] = _mm_unpackhi_epi64(b, d);
}

/* the m = 1 stage: groups (a multiple of 4) butterflies on consecutive quadruples, all with
   twiddle 0; four butterflies per pass through a transpose */
static void bfly4_m1_sse2(int16_t *f, int32_t groups, const int16_t *tw_r, const int16_t *tw_i) {
    __m128i t0 = twiddles_x4(tw_r, tw_i, 0, 0), t[3] = {t0, t0, t0};
    for (int32_t g = 0; g < groups; g += 4, f += 32) {
        __m128i x[4];
        for (int k = 0; k < 4; k++) {
            x[k] = _mm_loadu_si128((const __m128i *)(f + 8 * k));
        }
        transpose_x4(x);
        bfly4_x4(x, t);
        transpose_x4(x);
        for (int k = 0; k < 4; k++) {
            _mm_storeu_si128((__m128i *)(f + 8 * k), x[k]);
        }
    }
}
#define HAVE_BFLY4_SSE2 1
#else
#define HAVE_BFLY4_SSE2 0
#endif

/* kiss_fftr's split of the n-point complex FFT in buf into bins 0..n. In place: step k
   reads entries k and n - k before writing them, and bin n lies past the complex data. */
static void rfft_post(int16_t *buf, int32_t n, const int16_t *sup_r, const int16_t *sup_i) {
    int32_t tr = scale_q15(buf[0], 16383), ti = scale_q15(buf[1], 16383);
    buf[0] = (int16_t)(tr + ti);
    buf[1] = 0;
    buf[2 * n] = (int16_t)(tr - ti);
    buf[2 * n + 1] = 0;
    for (int32_t k = 1; k <= n / 2; k++) {
        int16_t *pk = buf + 2 * k, *nk = buf + 2 * (n - k);
        int32_t pkr = scale_q15(pk[0], 16383), pki = scale_q15(pk[1], 16383);
        int32_t nkr = scale_q15(nk[0], 16383), nki = scale_q15((int16_t)-nk[1], 16383);
        int16_t f1r = (int16_t)(pkr + nkr), f1i = (int16_t)(pki + nki);
        int16_t f2r = (int16_t)(pkr - nkr), f2i = (int16_t)(pki - nki);
        int16_t twr = cmul_re(f2r, f2i, sup_r[k - 1], sup_i[k - 1]);
        int16_t twi = cmul_im(f2r, f2i, sup_r[k - 1], sup_i[k - 1]);
        pk[0] = (int16_t)((f1r + twr) >> 1);
        pk[1] = (int16_t)((f1i + twi) >> 1);
        nk[0] = (int16_t)((f1r - twr) >> 1);
        nk[1] = (int16_t)((twi - f1i) >> 1);
    }
}

static void rfft_row(int16_t *buf, const int16_t *a, const int16_t *plan, const int32_t *p) {
    int32_t n = p[SR_N], in_len = p[SR_IN_LEN];
    const int16_t *tw_r = plan, *tw_i = plan + n, *sup_r = plan + 2 * n;
    const int16_t *sup_i = sup_r + n / 2, *perm = sup_i + n / 2;
    for (int32_t j = 0; j < n; j++) {
        int32_t src = 2 * (int32_t)(uint16_t)perm[j];
        buf[2 * j] = src < in_len ? a[src] : 0;
        buf[2 * j + 1] = src + 1 < in_len ? a[src + 1] : 0;
    }
    const int32_t *st = p + SR_HDR;
    for (int32_t s = 0; s < p[SR_STAGES]; s++, st += 3) {
        int32_t span = st[0] * st[1];
#if HAVE_BFLY4_SSE2
        if (st[0] == 4 && st[1] == 1 && (n & 15) == 0) {
            bfly4_m1_sse2(buf, n >> 2, tw_r, tw_i);
            continue;
        }
#endif
        for (int32_t start = 0; start + span <= n; start += span) {
            if (st[0] == 4 && HAVE_BFLY4_SSE2 && (st[1] & 3) == 0) {
#if HAVE_BFLY4_SSE2
                bfly4_sse2(buf + 2 * start, st[2], st[1], tw_r, tw_i);
#endif
            } else if (st[0] == 4) {
                bfly4(buf + 2 * start, st[2], st[1], tw_r, tw_i);
            } else {
                bfly2(buf + 2 * start, st[2], st[1], tw_r, tw_i);
            }
        }
    }
    rfft_post(buf, n, sup_r, sup_i);
}

void tk_signal_rfft(int16_t *out, const int16_t *a, const int16_t *plan, const int32_t *p) {
    for (int32_t r = 0; r < p[SR_ROWS]; r++) {
        rfft_row(out, a, plan, p);
        out += p[SR_OUT_LEN];
        a += p[SR_IN_LEN];
    }
}

/* ---------------------------------------------------------------- energy / filter bank */

void tk_signal_energy(uint32_t *out, const int16_t *a, const int32_t *p) {
    for (int32_t i = p[SE_START]; i < p[SE_END]; i++) {
        int32_t re = a[2 * i], im = a[2 * i + 1];
        out[i] = (uint32_t)(re * re) + (uint32_t)(im * im);
    }
}

/* acc + w * x with w sign-extended to 64 bits, modulo 2**64 */
static uint64_t mac_u64(uint64_t acc, int16_t w, uint32_t x) {
#if defined(__x86_64__)
    return acc + (uint64_t)((int64_t)w * (int64_t)x);    /* |w * x| < 2**47: exact */
#endif
    if (w >= 0) {
        return acc + mul_u32((uint32_t)w, x);
    }
    return acc - mul_u32((uint32_t)-(int32_t)w, x);
}

void tk_signal_filter_bank(uint64_t *out, const uint32_t *a, const int16_t *w, const int32_t *p) {
    int32_t channels = p[SF_CHANNELS], mode = p[SF_MODE];
    const int32_t *fs = p + SF_HDR, *ws = fs + channels + 1, *width = ws + channels + 1;
    for (int32_t c = 1; c <= channels; c++) {
        int32_t k = mode ? c - 1 : c;
        uint64_t acc = mode ? out[c - 1] : 0;
        const uint32_t *x = a + fs[k];
        const int16_t *wk = w + ws[k];
        for (int32_t j = 0; j < width[k]; j++) {
            acc = mac_u64(acc, wk[j], x[j]);
        }
        out[c - 1] = acc;
    }
}

/* TFLM Sqrt32: bitwise integer square root, rounded up when the remainder exceeds it */
static uint32_t sqrt32(uint32_t num) {
    if (num == 0) {
        return 0;
    }
    int top = 31 - ((32 - msb32(num)) | 1);
    uint32_t bit = (uint32_t)1 << top, res = 0;
    for (int it = top / 2 + 1; it > 0; it--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFF) {
        res++;
    }
    return res;
}

/* TFLM Sqrt64 (32-bit shortcut when the high word is clear); x64 takes sqrt64_fast below */
__attribute__((unused)) static uint32_t sqrt64(uint64_t num) {
    uint32_t hi = (uint32_t)(num >> 32);
    if (hi == 0) {
        return sqrt32((uint32_t)num);
    }
    int top = 63 - ((32 - msb32(hi)) | 1);          /* >= 32 */
    uint64_t bit = (uint64_t)((uint32_t)1 << (top - 32)) << 32, res = 0;
    for (int it = top / 2 + 1; it > 0; it--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFFFFFFu) {
        res++;
    }
    return (uint32_t)res;
}

#if defined(__x86_64__) && defined(__SSE2__)
/* Sqrt64 from the hardware square root: the double's root is within one of isqrt(num), so
   a step or two of correction gives isqrt and its remainder exactly, then TFLM's rounding */
static uint32_t sqrt64_fast(uint64_t num) {
    __m128d d = _mm_set_sd((double)num);
    uint64_t r = (uint64_t)_mm_cvtsd_f64(_mm_sqrt_sd(d, d));
    r = r > 0xFFFFFFFFu ? 0xFFFFFFFFu : r;
    while (r * r > num) {
        r--;
    }
    while (r < 0xFFFFFFFFu && (r + 1) * (r + 1) <= num) {
        r++;
    }
    uint64_t cap = num >> 32 ? 0xFFFFFFFFu : 0xFFFFu;
    return (uint32_t)(num - r * r > r && r != cap ? r + 1 : r);
}
#define SQRT64 sqrt64_fast
#else
#define SQRT64 sqrt64
#endif

void tk_signal_filter_bank_sqrt(uint32_t *out, const uint64_t *a, int32_t n, int32_t shift) {
    for (int32_t i = 0; i < n; i++) {
        out[i] = shift >= 32 ? 0 : SQRT64(a[i]) >> shift;
    }
}

/* ---------------------------------------------------------------- noise reduction, PCAN */

void tk_signal_spectral_subtraction(uint32_t *out, const uint32_t *a, uint32_t *noise,
                                    const int32_t *p) {
    int sm_bits = p[SS_SMOOTH_BITS], ss_bits = p[SS_SUB_BITS];
    for (int32_t i = 0; i < p[SS_N]; i++) {
        uint32_t s = (uint32_t)p[(i & 1) ? SS_ALT_SMOOTH : SS_SMOOTH];
        uint32_t o = (uint32_t)p[(i & 1) ? SS_ALT_ONE_MINUS : SS_ONE_MINUS];
        uint32_t x = a[i], scaled = x << sm_bits;
        uint32_t est = shr_u64(mul_u32(scaled, s) + mul_u32(noise[i], o), ss_bits);
        noise[i] = est;
        if (est > scaled) {
            est = scaled;
            if (p[SS_CLAMPING]) {
                noise[i] = est;
            }
        }
        uint32_t floor = shr_u64(mul_u32(x, (uint32_t)p[SS_MIN_REMAINING]), ss_bits);
        uint32_t sub = (scaled - est) >> sm_bits;
        out[i] = sub > floor ? sub : floor;
    }
}

/* TFLM WideDynamicFunction: the gain LUT interpolated at x (lut entries are int16) */
static int16_t wide_dynamic(uint32_t x, const int32_t *lut) {
    if (x <= 2) {
        return (int16_t)lut[x];
    }
    int interval = msb32(x);
    const int32_t *l = lut + 4 * interval - 6;
    uint32_t frac = (interval < 11 ? x << (11 - interval) : x >> (interval - 11)) & 0x3FF;
    int32_t result = (l[2] * (int32_t)frac) >> 5;
    result += (int32_t)((uint32_t)l[1] << 5);
    result = (int32_t)((uint32_t)result * frac);
    /* only the low 16 bits survive: the wrapped add keeps them */
    result = (int32_t)((uint32_t)result + 16384u) >> 15;
    return (int16_t)(result + l[0]);
}

static uint32_t pcan_shrink(uint32_t x) {
    if (x < (2u << 12)) {
        return (x * x) >> 20;
    }
    return (x >> 6) - 64;
}

void tk_signal_pcan(uint32_t *out, const uint32_t *a, const uint32_t *noise, const int32_t *p) {
    int shift = p[SP_SNR_SHIFT];
    for (int32_t i = 0; i < p[SP_N]; i++) {
        uint32_t gain = (uint32_t)(int32_t)wide_dynamic(noise[i], p + SP_LUT);
        out[i] = pcan_shrink(shr_u64(mul_u32(a[i], gain), shift));
    }
}

/* ---------------------------------------------------------------- log */

static const uint16_t LOG_LUT[130] = {
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
    2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633,
    4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507,
    5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586,
    5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000,
    4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848,
    3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207,
    2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142,
    0, 0,
};

/* TFLM Log32: out_scale * ln(x) in 16.16 fixed point, for x > 1 */
static uint32_t log32(uint32_t x, uint32_t out_scale) {
    int integer = msb32(x) - 1;
    int32_t frac = (int32_t)(x - ((uint32_t)1 << integer));
    if (integer < 16) {
        frac = (int32_t)((uint32_t)frac << (16 - integer));
    } else {
        frac >>= integer - 16;
    }
    int32_t base = frac >> 9;
    int32_t c0 = LOG_LUT[base], c1 = LOG_LUT[base + 1];
    int32_t rel_pos = ((c1 - c0) * (frac - 512 * base)) >> 16;
    uint32_t log2 = ((uint32_t)integer << 16) + (uint32_t)(frac + c0 + rel_pos);
    uint32_t loge = (uint32_t)((mul_u32(45426, log2) + 32768) >> 16);
    return (out_scale * loge + 32768u) >> 16;
}

void tk_signal_filter_bank_log(int16_t *out, const uint32_t *a, const int32_t *p) {
    int bits = p[SL_BITS];
    for (int32_t i = 0; i < p[SL_N]; i++) {
        uint32_t scaled = a[i] << bits;
        uint32_t v = scaled > 1 ? log32(scaled, (uint32_t)p[SL_SCALE]) : 0;
        out[i] = (int16_t)(v < 32767 ? v : 32767);
    }
}
