"""Per-frame DSP loops, plain Python (the reference; kernels/viper_dsp.py mirrors it).

All functions work in place on preallocated arrays and allocate nothing but floats.
"""
import math


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
