/* Quads: whole pixels (or input rows) times output channels in fours, from a stream of int16
   weights laid out once, requantized straight from the accumulators. The stream's layout and
   its requantization are the same on every arch: tk_quads_dsp runs it in assembler on
   Armv7E-M (dot_dsp.c), tk_quads_c in C elsewhere. Conv builds its stream per call in
   scratch; fully connected layers small enough build theirs once, at load. */
#ifndef TK_QUADS_H
#define TK_QUADS_H
#include <stdint.h>

static inline uint32_t tk_pack16(int32_t lo, int32_t hi) {
    return ((uint32_t)lo & 0xFFFF) | ((uint32_t)hi << 16);
}

/* The requantization of tk_quads_dsp and the depthwise routines: from the accumulator A in a
   register, (Ra + floor((A m + 2**31) / 2**32) + (mask & -[A < 0])) >> e (SMMLAR, AND, ADD,
   ASR), saturated to int8. Channel c's weights and bias are scaled by f = 2 ** (s + 1),
   s = max(shift, 0), so A = f a: for shift = -e <= -1, TFLM's floor((floor((a m + 2**30)
   / 2**31) + 2**(e-1) - [a < 0]) / 2**e) + out_offset is that with Ra = 2**(e-1)
   + out_offset * 2**e and mask -1; for shift >= 0, floor(((a << s) m + 2**30) / 2**31)
   + out_offset is that with Ra = out_offset, mask 0 and e 0 (out_offset may stand for
   out_offset - act_min, |that| <= 255). It holds while nothing overflows: |a| <= |bias| + span
   (span: taps * 383 * 128, |input + offset| <= 383) and A and Ra + A fit in int32, which
   tk_mm_rq_fits checks (f * w fits in int16 for s <= 7). */
static inline int32_t tk_mm_rq_scale(int32_t shift) {
    return 1 << ((shift > 0 ? shift : 0) + 1);
}

/* clamping to [act_min, act_max] of four outputs less act_min, each in [0, 255], as bytes:
   UQADD8 then USUB8 of c[0] (255 - (act_max - act_min) in every byte) takes the minimum with
   act_max - act_min, UADD8 of c[1] (act_min in every byte) adds act_min back */
static inline void tk_clamp4(uint32_t *c, int32_t act_min, int32_t act_max) {
    c[0] = (uint32_t)(255 - (act_max - act_min)) * 0x01010101u;
    c[1] = ((uint32_t)act_min & 0xFF) * 0x01010101u;
}

/* channel constants (m, Ra, e, mask) */
static inline void tk_mm_rq_words(int32_t *t, int32_t m, int32_t shift, int32_t out_offset) {
    int e = shift < 0 ? -shift : 0;
    t[0] = m;
    t[1] = (int32_t)(((1u << e) >> 1) + (uint32_t)out_offset * (1u << e));
    t[2] = e;
    t[3] = shift < 0 ? -1 : 0;
}

/* channels [0, n) with `taps` products each (at most 8192), out_offset as in the constants:
   |a| < 2**28 + 2**29, so Ra + x fits for e <= 21, and for e <= 31 when out_offset is 0 */
static inline int tk_mm_rq_fits(const int32_t *bias, const int32_t *shift, int n, int taps,
                                int32_t out_offset) {
    uint32_t span = (uint32_t)taps * (383u * 128u);     /* < 2**29 */
    int e_max = out_offset == 0 ? 31 : 21;
    for (int c = 0; c < n; c++) {
        uint32_t b = bias[c] < 0 ? 0u - (uint32_t)bias[c] : (uint32_t)bias[c];
        int s = shift[c];
        if (b >= 1u << 28 || s < -e_max || (s >= 0 && (s > 7 || (b + span) >> (30 - s) != 0))) {
            return 0;
        }
    }
    return 1;
}

/* whole pixels from packed columns (tk_pack_col, one after another, `groups` groups each)
   and a stream of quads of output channels, requantized in place: per quad its four
   accumulators' starting values, per group the four rows' words (w0, w2), (w1, w3), then per
   channel (m, Ra, e, mask), its outputs being the int8 saturation of
   (Ra + floor((a m + 2**31) / 2**32) + (mask & -[a < 0])) >> e for its accumulator a. Each
   pixel's outputs are the quads' in order, four bytes a quad, then out_skip bytes left alone
   (see conv.c for the scaling that
   makes this TFLM's requantization); tk_quads_clamp_dsp clamps them to the act_min / act_max
   bytes */
typedef struct {
    const uint32_t *cols, *cols_end;
    const int32_t *w, *w_end;
    int8_t *out;
    int32_t groups;             /* >= 1 */
    uint32_t clamp[2];          /* tk_quads_clamp_dsp: tk_clamp4 */
    int32_t out_skip;           /* bytes from a pixel's last output to the next's first */
} tk_quads_job_t;
void tk_quads_dsp(const tk_quads_job_t *job);
void tk_quads_clamp_dsp(const tk_quads_job_t *job);
/* the same in C (quads.c), for the archs without the DSP extension */
void tk_quads_c(const tk_quads_job_t *job, int clamp);
/* the arch's: clamp by tk_quads_clamped */
void tk_quads_run(const tk_quads_job_t *job, int clamp);


/* the stream of n channels (padded to whole quads with zero rows) of K4 (a multiple of 4)
   weights each from rows of k <= K4 int8 weights ws apart (zeros past k), their biases,
   multipliers and shifts; out_offset as in tk_mm_rq_words */
void tk_quads_stream(int32_t *s, const int8_t *w, int k, int ws, int K4, const int32_t *bias,
                     const int32_t *mult, const int32_t *shift, int n, int32_t out_offset);

/* int32 words of such a stream */
static inline int tk_quads_stream_words(int n, int K4) {
    return (n + 3) / 4 * (20 + 2 * K4);
}

/* the out_offset of the constants: clamped outputs (any act range but [-128, 127]) are made
   less act_min, see tk_clamp4 */
static inline int tk_quads_clamped(int32_t act_min, int32_t act_max) {
    return act_min > -128 || act_max < 127;
}
static inline int32_t tk_quads_offset(int32_t out_offset, int32_t act_min, int32_t act_max) {
    return out_offset - (tk_quads_clamped(act_min, act_max) ? act_min : 0);
}
#endif
