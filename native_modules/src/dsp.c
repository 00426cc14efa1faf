/* Float MFCC pipeline per clip (see dsp.h): window * frame, 2n-real FFT packed into an
   n/2-point complex radix-2 FFT, real split, magnitude, sparse mel, ln(mel + offset),
   DCT-II rows. Same arithmetic order as device/tinyml/kernels/python_dsp.py, in float32.
   Compiled only with a hardware FPU (dsp.h); no libm: own sqrt (one instruction) and log. */
#include "dsp.h"

#if TK_HAVE_FLOAT_DSP

typedef union {
    float f;
    uint32_t u;
} fbits_t;

float tk_sqrtf(float x) {
    float r;
#if defined(__x86_64__)
    __asm__("sqrtss %1, %0" : "=x"(r) : "x"(x));
#else
    __asm__("vsqrt.f32 %0, %1" : "=t"(r) : "t"(x));
#endif
    return r;
}

/* x = 2**e * m, m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716:
   the series to s**9 leaves < 2e-10 relative; ln 2 split so e*ln2_hi is exact */
float tk_logf(float x) {
    fbits_t v;
    v.f = x;
    if (!(x > 0.0f)) {
        if (x == 0.0f) {
            v.u = 0xFF800000u;                  /* -inf */
        } else {
            v.u = 0x7FC00000u;                  /* nan (also for a nan input) */
        }
        return v.f;
    }
    int e = (int)(v.u >> 23) - 127;
    if (e == 128) {
        return x;                               /* +inf */
    }
    if (e == -127) {                            /* subnormal: scale by 2**23 */
        v.f = x * 8388608.0f;
        e = (int)(v.u >> 23) - 127 - 23;
    }
    v.u = (v.u & 0x007FFFFFu) | 0x3F800000u;    /* m in [1, 2) */
    float m = v.f;
    if (m > 1.41421356f) {
        m *= 0.5f;
        e += 1;
    }
    float s = (m - 1.0f) / (m + 1.0f);
    float z = s * s;
    float poly = 1.0f + z * (0.333333333f + z * (0.2f + z * (0.142857143f + z * 0.111111111f)));
    float lnm = 2.0f * s * poly;
    float fe = (float)e;
    return fe * 0.693145752f + (lnm + fe * 1.42860677e-06f);
}

static void bit_reversal(uint16_t *rev, int h) {
    int bits = 0;
    while ((1 << bits) < h) {
        bits++;
    }
    for (int i = 0; i < h; i++) {
        int r = 0, x = i;
        for (int b = 0; b < bits; b++) {
            r = (r << 1) | (x & 1);
            x >>= 1;
        }
        rev[i] = (uint16_t)r;
    }
}

/* radix-2 DIT FFT of h complex points whose input is already in bit-reversed order;
   twiddle e^{-2 pi i j / h} = cos/sin table of the n = 2h real FFT at index 2j */
static void fft_h(float *re, float *im, int h, const float *cos_n, const float *sin_n) {
    for (int j = 0; j < h; j += 2) {            /* size 2: w = 1 */
        float ar = re[j], ai = im[j], br = re[j + 1], bi = im[j + 1];
        re[j] = ar + br;
        im[j] = ai + bi;
        re[j + 1] = ar - br;
        im[j + 1] = ai - bi;
    }
    if (h >= 4) {
        for (int j = 0; j < h; j += 4) {        /* size 4: w = 1, -i */
            float ar = re[j], ai = im[j], br = re[j + 2], bi = im[j + 2];
            re[j] = ar + br;
            im[j] = ai + bi;
            re[j + 2] = ar - br;
            im[j + 2] = ai - bi;
            ar = re[j + 1];
            ai = im[j + 1];
            float tr = im[j + 3], ti = -re[j + 3];
            re[j + 1] = ar + tr;
            im[j + 1] = ai + ti;
            re[j + 3] = ar - tr;
            im[j + 3] = ai - ti;
        }
    }
    /* later stages: tw = (2h / size) * k indexes the n-point tables */
    for (int size = 8, tstep = h >> 2; size <= h; size <<= 1, tstep >>= 1) {
        int half = size >> 1;
        for (int k = 0; k < half; k++) {
            float wr = cos_n[k * tstep], wi = sin_n[k * tstep];
            for (int j = k; j < h; j += size) {
                int m = j + half;
                float xr = re[m], xi = im[m];
                float tr = wr * xr + wi * xi;
                float ti = wr * xi - wi * xr;
                float ar = re[j], ai = im[j];
                re[m] = ar - tr;
                im[m] = ai - ti;
                re[j] = ar + tr;
                im[j] = ai + ti;
            }
        }
    }
}

void tk_mfcc_f32(float *out, const int16_t *x, const float *tab, const int32_t *p, void *scratch) {
    int frames = p[MF_FRAMES], L = p[MF_FRAME_LEN], step = p[MF_STEP], n = p[MF_FFT];
    int h = n >> 1, nm = p[MF_NUM_MEL], nc = p[MF_NUM_MFCC], pw = p[MF_POWER];
    const int32_t *starts = p + MF_HDR, *lens = starts + nm, *offs = lens + nm;
    float scale = tab[MFT_SCALE], log_offset = tab[MFT_LOG_OFFSET];
    const float *win = tab + MFT_WINDOW, *cos_n = win + L, *sin_n = cos_n + h + 1;
    const float *weights = sin_n + h + 1, *dct = weights + p[MF_NUM_WEIGHTS];
    float *re = scratch, *im = re + h, *spec = im + h, *mel = spec + h + 1;
    uint16_t *rev = (uint16_t *)(mel + nm);
    int first = h + 1, last = 0;                /* spectrum bins the bands read */
    for (int m = 0; m < nm; m++) {
        if (starts[m] < first) {
            first = starts[m];
        }
        if (starts[m] + lens[m] > last) {
            last = starts[m] + lens[m];
        }
    }
    bit_reversal(rev, h);
    int lim = L < n ? L : n;
    for (int t = 0; t < frames; t++, out += nc) {
        const int16_t *s = x + t * step;
        /* even samples -> re, odd -> im, at their bit-reversed position; zero padding */
        for (int i = 0; i < h; i++) {
            int a = 2 * i, r = rev[i];
            re[r] = a < lim ? (float)s[a] * win[a] * scale : 0.0f;
            im[r] = a + 1 < lim ? (float)s[a + 1] * win[a + 1] * scale : 0.0f;
        }
        fft_h(re, im, h, cos_n, sin_n);
        for (int k = first; k < last; k++) {
            float xr, xi;
            if (k == 0 || k == h) {
                xr = k == 0 ? re[0] + im[0] : re[0] - im[0];
                xi = 0.0f;
            } else {
                float ar = re[k], ai = im[k], br = re[h - k], bi = -im[h - k];
                float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
                float dr = 0.5f * (ar - br), di = 0.5f * (ai - bi);
                float wr = cos_n[k], wi = sin_n[k];
                float orr = di, oi = -dr;
                xr = er + wr * orr + wi * oi;
                xi = ei + wr * oi - wi * orr;
            }
            float pwr = xr * xr + xi * xi;
            spec[k] = pw ? pwr : tk_sqrtf(pwr);
        }
        for (int m = 0; m < nm; m++) {
            const float *sp = spec + starts[m], *w = weights + offs[m];
            float acc = 0.0f;
            for (int j = 0; j < lens[m]; j++) {
                acc += sp[j] * w[j];
            }
            mel[m] = tk_logf(acc + log_offset);
        }
        const float *row = dct;
        for (int c = 0; c < nc; c++, row += nm) {
            float acc = 0.0f;
            for (int m = 0; m < nm; m++) {
                acc += row[m] * mel[m];
            }
            out[c] = acc;
        }
    }
}

#else
typedef int tk_dsp_no_fpu_t;   /* no float DSP on this target: an empty unit is not ISO C */
#endif
