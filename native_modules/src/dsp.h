/* Float MFCC pipeline (tf.signal semantics), the native twin of device/tinyml/audio_mfcc.py.
   Plain C99, no MicroPython headers. Built only where single-precision float is hardware
   (x64, Armv7E-M with FPU): TK_HAVE_FLOAT_DSP is 0 on armv6m/armv7m, whose soft-float would
   need libgcc helpers that a native module cannot link. */
#ifndef TK_DSP_H
#define TK_DSP_H
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__) || (defined(__ARM_FP) && (__ARM_FP & 4) && defined(__ARM_PCS_VFP))
#define TK_HAVE_FLOAT_DSP 1
#else
#define TK_HAVE_FLOAT_DSP 0
#endif

/* mfcc_f32(out, samples, tables, p)
   p (int32): MF_HDR ints, then starts[num_mel], lengths[num_mel], offsets[num_mel] of the
   sparse mel filterbank (dsp.mel_filterbank). Frame t covers samples[t*step : t*step+frame_len].
   tables (float32): [scale, log_offset, window[frame_len], cos[n/2+1], sin[n/2+1],
   mel weights[num_weights], dct[num_mfcc*num_mel]] with cos/sin[k] = cos/sin(2 pi k / n).
   out (float32): [frames][num_mfcc] = dct . ln(mel(|rfft_n(window * samples * scale)|) + log_offset)
   (|.|^2 instead of |.| when power is 1). */
enum { MF_FRAMES, MF_FRAME_LEN, MF_STEP, MF_FFT, MF_NUM_MEL, MF_NUM_MFCC, MF_POWER,
       MF_NUM_WEIGHTS, MF_HDR };
enum { MFT_SCALE, MFT_LOG_OFFSET, MFT_WINDOW };

static inline size_t tk_mfcc_tables_len(const int32_t *p) {
    return (size_t)MFT_WINDOW + (size_t)p[MF_FRAME_LEN] + 2 * ((size_t)(p[MF_FFT] >> 1) + 1) +
           (size_t)p[MF_NUM_WEIGHTS] + (size_t)p[MF_NUM_MFCC] * (size_t)p[MF_NUM_MEL];
}

/* scratch bytes: re, im [n/2], spectrum [n/2+1], mel [num_mel] floats; bit reversal [n/2] */
static inline size_t tk_mfcc_scratch(const int32_t *p) {
    size_t h = (size_t)(p[MF_FFT] >> 1);
    return 4 * (3 * h + 1 + (size_t)p[MF_NUM_MEL]) + 2 * h;
}

#if TK_HAVE_FLOAT_DSP
/* the binding has checked: n a power of two in 4..4096, 1 <= frame_len <= n, every band
   inside [0, n/2] and inside the weights, all buffers long enough */
void tk_mfcc_f32(float *out, const int16_t *x, const float *tab, const int32_t *p, void *scratch);
/* natural log, float32, ~1 ulp: ln(0) = -inf, ln(<0) = nan, ln(inf) = inf */
float tk_logf(float x);
float tk_sqrtf(float x);
#endif

#endif
