/* The quads' stream (quads.h) and, for archs without the DSP extension, its walk in C. */
#include "dot.h"

/* four weights r[0..4) times f as the words (w0, w2), (w1, w3) */
static void quads_group(int32_t *s, const int8_t *r, int32_t f) {
    s[0] = (int32_t)tk_pack16(r[0] * f, r[2] * f);
    s[1] = (int32_t)tk_pack16(r[1] * f, r[3] * f);
}

void tk_quads_stream(int32_t *s, const int8_t *w, int k, int ws, int K4, const int32_t *bias,
                     const int32_t *mult, const int32_t *shift, int n, int32_t out_offset) {
    int k4 = k & ~3;
    for (int q = 0; q < n; q += 4) {
        int32_t f[4];
        const int8_t *r[4];
        for (int j = 0; j < 4; j++) {
            f[j] = q + j < n ? tk_mm_rq_scale(shift[q + j]) : 0;    /* padding: 0 rows */
            r[j] = w + (q + j < n ? q + j : 0) * ws;
            *s++ = f[j] ? bias[q + j] * f[j] : 0;
        }
        int g = 0;
        for (; g < k4; g += 4) {
            for (int j = 0; j < 4; j++, s += 2) {
                quads_group(s, r[j] + g, f[j]);
            }
        }
        for (; g < K4; g += 4) {                /* the last weights, then zeros */
            for (int j = 0; j < 4; j++, s += 2) {
                int8_t t[4];
                for (int i = 0; i < 4; i++) {
                    t[i] = g + i < k ? r[j][g + i] : 0;
                }
                quads_group(s, t, f[j]);
            }
        }
        for (int j = 0; j < 4; j++, s += 4) {
            tk_mm_rq_words(s, q + j < n ? mult[q + j] : 0, q + j < n ? shift[q + j] : 0,
                           out_offset);
        }
    }
}

#if !TK_M0    /* (Cortex-M0 has no stream: its 64-bit products would need libgcc) */
/* TK_MM_RQ: one channel's output from its accumulator and constants t (m, Ra, e, mask), with
   the instructions' wrap-around (and ASR's use of e's low byte, here e & 31: e <= 31) */
static int32_t quads_rq(int32_t a, const int32_t *t) {
    uint32_t hi = (uint32_t)(((int64_t)a * t[0] + 0x80000000LL) >> 32);
    uint32_t v = (uint32_t)t[1] + hi + ((uint32_t)t[3] & (a < 0 ? ~0u : 0u));
    return (int32_t)v >> (t[2] & 31);
}

static int32_t quads_sat(int32_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

#if !TK_SSE2
static int32_t quads_lo(uint32_t v) {
    return (int16_t)(v & 0xFFFF);
}

static int32_t quads_hi(uint32_t v) {
    return (int16_t)(v >> 16);
}

/* SMLAD */
static int32_t quads_mad(int32_t acc, uint32_t w, uint32_t x) {
    return (int32_t)((uint32_t)acc + (uint32_t)(quads_lo(w) * quads_lo(x))
                     + (uint32_t)(quads_hi(w) * quads_hi(x)));
}

#endif

/* a quad's four accumulators over the groups of column x, from the stream at s */
static void quads_acc(int32_t *acc, const int32_t *s, const uint32_t *x, int groups) {
#if TK_SSE2
    /* PMADDWD is SMLAD on four pairs: lanes (c0 (w0, w2), c0 (w1, w3), c1 .., c1 ..) */
    __m128i a01 = _mm_setzero_si128(), a23 = _mm_setzero_si128();
    for (int g = 0; g < groups; g++, s += 8) {
        __m128i xv = _mm_loadl_epi64((const __m128i *)(x + 2 * g));
        xv = _mm_unpacklo_epi64(xv, xv);
        a01 = _mm_add_epi32(a01, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)s), xv));
        a23 = _mm_add_epi32(a23, _mm_madd_epi16(_mm_loadu_si128((const __m128i *)(s + 4)), xv));
    }
    __m128i sum = _mm_add_epi32(_mm_unpacklo_epi64(_mm_shuffle_epi32(a01, 0x88),
                                                   _mm_shuffle_epi32(a23, 0x88)),
                                _mm_unpacklo_epi64(_mm_shuffle_epi32(a01, 0xDD),
                                                   _mm_shuffle_epi32(a23, 0xDD)));
    _mm_storeu_si128((__m128i *)acc, _mm_add_epi32(sum, _mm_loadu_si128((const __m128i *)acc)));
#else
    for (int g = 0; g < groups; g++, s += 8) {
        for (int j = 0; j < 4; j++) {
            acc[j] = quads_mad(quads_mad(acc[j], (uint32_t)s[2 * j], x[2 * g]),
                               (uint32_t)s[2 * j + 1], x[2 * g + 1]);
        }
    }
#endif
}

void tk_quads_c(const tk_quads_job_t *job, int clamp) {
    int8_t *out = job->out;
    /* clamped: usat to [0, 255], the minimum with act_max - act_min, plus act_min */
    int32_t span = 255 - (int32_t)(job->clamp[0] & 0xFF), act_min = (int8_t)job->clamp[1];
    for (const uint32_t *x = job->cols; x != job->cols_end; x += 2 * job->groups,
         out += job->out_skip) {
        for (const int32_t *s = job->w; s != job->w_end;) {
            int32_t acc[4] = {s[0], s[1], s[2], s[3]};
            quads_acc(acc, s + 4, x, job->groups);
            s += 4 + 8 * job->groups;
            for (int j = 0; j < 4; j++, s += 4) {
                int32_t v = quads_rq(acc[j], s);
                if (clamp) {
                    v = quads_sat(quads_sat(v, 0, 255), 0, span) + act_min;
                } else {
                    v = quads_sat(v, -128, 127);
                }
                *out++ = (int8_t)v;
            }
        }
    }
}

#endif

void tk_quads_run(const tk_quads_job_t *job, int clamp) {
#if TK_DSP
    if (clamp) {
        tk_quads_clamp_dsp(job);
    } else {
        tk_quads_dsp(job);
    }
#elif !TK_M0
    tk_quads_c(job, clamp);
#else
    (void)job;
    (void)clamp;
#endif
}
