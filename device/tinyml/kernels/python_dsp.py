"""Per-frame DSP loops, plain Python (the reference; kernels/viper_dsp.py mirrors it).

All functions work in place on preallocated arrays and allocate nothing but floats.
"""
import math
from array import array

from .. import audio_fixed as fx


def load_frame_scaled(re, im, samples, start, frame_len, win, scale, n_half):
    """Window samples[start:start+frame_len] * win * scale into the packed real-FFT input:
    even samples -> re, odd samples -> im, zero-padded to n_half complex points."""
    for i in range(n_half):
        a = 2 * i
        b = a + 1
        re[i] = samples[start + a] * win[a] * scale if a < frame_len else 0.0
        im[i] = samples[start + b] * win[b] * scale if b < frame_len else 0.0


def fft_inplace(re, im, n, cos_t, sin_t, bitrev):
    """Radix-2 decimation-in-time FFT of n complex points, in place; twiddles e^{-2 pi i k/n}.

    The first two stages (twiddles 1 and -i) need no multiplications; later stages loop
    twiddle-outermost so each twiddle is loaded once."""
    for i in range(n):
        j = bitrev[i]
        if j > i:
            t = re[i]
            re[i] = re[j]
            re[j] = t
            t = im[i]
            im[i] = im[j]
            im[j] = t
    for j in range(0, n - 1, 2):              # size 2: w = 1
        ar = re[j]
        ai = im[j]
        br = re[j + 1]
        bi = im[j + 1]
        re[j] = ar + br
        im[j] = ai + bi
        re[j + 1] = ar - br
        im[j + 1] = ai - bi
    if n >= 4:
        for j in range(0, n, 4):              # size 4: w = 1, -i
            ar = re[j]
            ai = im[j]
            br = re[j + 2]
            bi = im[j + 2]
            re[j] = ar + br
            im[j] = ai + bi
            re[j + 2] = ar - br
            im[j + 2] = ai - bi
            ar = re[j + 1]
            ai = im[j + 1]
            tr = im[j + 3]                    # -i * (br + i bi) = bi - i br
            ti = -re[j + 3]
            re[j + 1] = ar + tr
            im[j + 1] = ai + ti
            re[j + 3] = ar - tr
            im[j + 3] = ai - ti
    size = 8
    while size <= n:
        half = size >> 1
        step = n // size
        for k in range(half):
            wr = cos_t[k * step]
            wi = sin_t[k * step]
            for j in range(k, n, size):
                m = j + half
                xr = re[m]
                xi = im[m]
                tr = wr * xr + wi * xi
                ti = wr * xi - wi * xr
                ar = re[j]
                ai = im[j]
                re[m] = ar - tr
                im[m] = ai - ti
                re[j] = ar + tr
                im[j] = ai + ti
        size <<= 1


def rfft_split(re, im, out_re, out_im, n_half, cos_f, sin_f, first=1, last=-1):
    """Turn the n/2-point FFT of the packed real signal into bins 0..n/2 of its n-point FFT
    (bins 0 and n/2 always; the others only in [first, last) when given)."""
    out_re[0] = re[0] + im[0]
    out_im[0] = 0.0
    out_re[n_half] = re[0] - im[0]
    out_im[n_half] = 0.0
    if first < 1:
        first = 1
    if last < 0 or last > n_half:
        last = n_half
    for k in range(first, last):
        ar = re[k]
        ai = im[k]
        br = re[n_half - k]
        bi = -im[n_half - k]
        er = 0.5 * (ar + br)          # even part
        ei = 0.5 * (ai + bi)
        dr = 0.5 * (ar - br)          # odd part * i
        di = 0.5 * (ai - bi)
        wr = cos_f[k]
        wi = sin_f[k]
        # odd = -i * d ; X = e + w * odd, w = cos - i sin
        orr = di
        oi = -dr
        out_re[k] = er + wr * orr + wi * oi
        out_im[k] = ei + wr * oi - wi * orr


def magnitude(out, re, im, first, count):
    for k in range(first, first + count):
        out[k] = math.sqrt(re[k] * re[k] + im[k] * im[k])


def power(out, re, im, first, count):
    for k in range(first, first + count):
        out[k] = re[k] * re[k] + im[k] * im[k]


def mel_apply(out, spec, starts, lengths, offsets, weights, num_mel):
    for m in range(num_mel):
        s = starts[m]
        o = offsets[m]
        acc = 0.0
        for j in range(lengths[m]):
            acc += spec[s + j] * weights[o + j]
        out[m] = acc


def log_offset(buf, count, offset):
    for i in range(count):
        buf[i] = math.log(buf[i] + offset)


def matvec(out, out_offset, mat, vec, rows, cols):
    for r in range(rows):
        base = r * cols
        acc = 0.0
        for c in range(cols):
            acc += mat[base + c] * vec[c]
        out[out_offset + r] = acc


# ------------------------------------------------------------------ TFLM Signal ops
# kernel(out, a, b, p) twins of native_modules/src/signal.c (layouts in signal.h), built on
# audio_fixed's arithmetic; the native backend runs the C kernels of the same names.
_M64 = 0xFFFFFFFFFFFFFFFF


def signal_window(out, a, b, p):
    """p = [rows, size, shift]; b = the window weights (int16[size])."""
    size, shift = p[1], p[2]
    for r in range(p[0]):
        fx.apply_window(a, b, size, shift, out, r * size)


def signal_fft_auto_scale(out, a, b, p):
    """p = [n]; returns the shift applied (out = a << shift) and, when b is given, stores it
    in b[0] (b: SignalFftAutoScale's int32 output)."""
    bits = fx.fft_auto_scale(a, p[0], out)
    if b is not None:
        b[0] = bits
    return bits


def signal_rfft(out, a, b, p):
    """KISS FFT kiss_fftr per row. b = the plan of audio_fixed.KissFftR16 (tw_r[n] tw_i[n]
    sup_r[n/2] sup_i[n/2] perm[n]), p = [rows, in_len, out_len, n, n_stages,
    (radix, m, fstride) per stage]; inputs past in_len are zero."""
    rows, in_len, out_len, n, stages = p[0], p[1], p[2], p[3], p[4]
    h = n // 2
    tw_r, tw_i = b[0:n], b[n:2 * n]
    sup_r, sup_i, perm = b[2 * n:2 * n + h], b[2 * n + h:3 * n], b[3 * n:4 * n]
    buf = array('h', bytes(4 * n))
    freq = array('h', bytes(4 * n + 4))
    for r in range(rows):
        base = r * in_len
        for j in range(n):
            src = 2 * (perm[j] & 0xFFFF)
            buf[2 * j] = a[base + src] if src < in_len else 0
            buf[2 * j + 1] = a[base + src + 1] if src + 1 < in_len else 0
        for s in range(stages):
            radix, m, fstride = p[5 + 3 * s], p[6 + 3 * s], p[7 + 3 * s]
            fly = fx.bfly4 if radix == 4 else fx.bfly2
            for start in range(0, n - radix * m + 1, radix * m):
                fly(buf, start, fstride, m, tw_r, tw_i)
        fx.rfft_post(buf, freq, n, sup_r, sup_i)
        for i in range(2 * n + 2):
            out[r * out_len + i] = freq[i]


def signal_energy(out, a, b, p):
    """p = [n_out, start, end]: out[i] = re^2 + im^2 of bin i, start <= i < end."""
    fx.spectrum_to_energy(a, p[1], p[2], out)


def signal_filter_bank(out, a, b, p):
    """Half of TFLM FilterbankAccumulateChannels (uint64 wrap), b = weights (mode 0) or
    unweights (mode 1); p = [mode, channels, fs[channels+1], ws[channels+1],
    width[channels+1]]. Mode 0: out[c-1] = sum b*a over channel c; mode 1: out[c-1] += the
    same over channel c-1. Mode 0 with the weights then mode 1 with the unweights gives
    audio_fixed.filterbank_accumulate."""
    mode, channels = p[0], p[1]
    fs, ws, wd = 2, 3 + channels, 4 + 2 * channels
    for c in range(1, channels + 1):
        k = c - 1 if mode else c
        acc = out[c - 1] if mode else 0
        f, w = p[fs + k], p[ws + k]
        for j in range(p[wd + k]):
            acc += (b[w + j] & _M64) * a[f + j]
        out[c - 1] = acc & _M64


def signal_filter_bank_sqrt(out, a, b, p):
    """p = [n]; b[0] = the shift (SignalFftAutoScale's output)."""
    fx.filterbank_sqrt(a, p[0], b[0], out)


def signal_spectral_subtraction(out, a, b, p):
    """p = [n, smoothing, one_minus_smoothing, alternate_smoothing,
    alternate_one_minus_smoothing, min_signal_remaining, smoothing_bits,
    spectral_subtraction_bits, clamping]; b = the noise estimate, updated in place."""
    cfg = (p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8])
    fx.spectral_subtraction(cfg, a, out, b, p[0])


def signal_pcan(out, a, b, p):
    """p = [n, snr_shift, gain LUT (125 int16 values)]; b = the noise estimate."""
    lut = p[2:]
    fx.pcan(lut, p[1], b, a, out, p[0])


def signal_filter_bank_log(out, a, b, p):
    """p = [n, output_scale, input_correction_bits]."""
    fx.filterbank_log(a, p[0], p[1], p[2], out)
