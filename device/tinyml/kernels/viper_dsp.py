"""DSP loops for the viper/native backends (MicroPython only; importing it elsewhere fails).

Float loops (MFCC): the python_dsp loops compiled with @micropython.native (floats cannot use
viper's machine-word types), same results. Fixed-point loops (TFLM Signal ops): viper ports
of audio_fixed's KISS FFT butterflies, window and energy, bit-identical: ptr16 stores
truncate like C int16 stores, ints are sign-extended on load, >> is arithmetic.
"""
import math
import micropython


@micropython.native
def load_frame_scaled(re, im, samples, start, frame_len, win, scale, n_half):
    """Window samples[start:start+frame_len] * win * scale into the packed real-FFT input:
    even samples -> re, odd samples -> im, zero-padded to n_half complex points."""
    for i in range(n_half):
        a = 2 * i
        b = a + 1
        re[i] = samples[start + a] * win[a] * scale if a < frame_len else 0.0
        im[i] = samples[start + b] * win[b] * scale if b < frame_len else 0.0


@micropython.native
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


@micropython.native
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


@micropython.native
def magnitude(out, re, im, first, count):
    for k in range(first, first + count):
        out[k] = math.sqrt(re[k] * re[k] + im[k] * im[k])


@micropython.native
def power(out, re, im, first, count):
    for k in range(first, first + count):
        out[k] = re[k] * re[k] + im[k] * im[k]


@micropython.native
def mel_apply(out, spec, starts, lengths, offsets, weights, num_mel):
    for m in range(num_mel):
        s = starts[m]
        o = offsets[m]
        acc = 0.0
        for j in range(lengths[m]):
            acc += spec[s + j] * weights[o + j]
        out[m] = acc


@micropython.native
def log_offset(buf, count, offset):
    for i in range(count):
        buf[i] = math.log(buf[i] + offset)


@micropython.native
def matvec(out, out_offset, mat, vec, rows, cols):
    for r in range(rows):
        base = r * cols
        acc = 0.0
        for c in range(cols):
            acc += mat[base + c] * vec[c]
        out[out_offset + r] = acc


# ------------------------------------------------------------------ fixed point (viper)


@micropython.viper
def apply_window(inp: ptr16, weights: ptr16, size: int, shift: int, out: ptr16, base: int):
    for i in range(size):
        x = int(inp[base + i])
        x -= (x & 0x8000) << 1
        w = int(weights[i])
        w -= (w & 0x8000) << 1
        raw = (x * w) >> shift
        if raw < -32768:
            raw = -32768
        elif raw > 32767:
            raw = 32767
        out[base + i] = raw


@micropython.viper
def permute(timedata: ptr16, buf: ptr16, perm: ptr16, n: int):
    for j in range(n):
        src = 2 * int(perm[j])
        buf[2 * j] = timedata[src]
        buf[2 * j + 1] = timedata[src + 1]


@micropython.viper
def bfly2(buf: ptr16, start: int, fstride: int, m: int, tw_r: ptr16, tw_i: ptr16):
    tw = 0
    for j in range(start, start + m):
        a = 2 * j
        b = 2 * (j + m)
        v = int(buf[a])
        ar = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[a + 1])
        ai = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[b])
        br = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[b + 1])
        bi = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        wr = int(tw_r[tw])
        wr -= (wr & 0x8000) << 1
        wi = int(tw_i[tw])
        wi -= (wi & 0x8000) << 1
        tr = (((br * wr - bi * wi + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        ti = (((br * wi + bi * wr + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        tw += fstride
        buf[b] = ar - tr
        buf[b + 1] = ai - ti
        buf[a] = ar + tr
        buf[a + 1] = ai + ti


@micropython.viper
def bfly4(buf: ptr16, start: int, fstride: int, m: int, tw_r: ptr16, tw_i: ptr16):
    t1 = 0
    t2 = 0
    t3 = 0
    for j in range(start, start + m):
        a0 = 2 * j
        a1 = a0 + 2 * m
        a2 = a1 + 2 * m
        a3 = a2 + 2 * m
        v = int(buf[a0])
        f0r = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a0 + 1])
        f0i = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a1])
        f1r = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a1 + 1])
        f1i = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a2])
        f2r = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a2 + 1])
        f2i = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a3])
        f3r = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        v = int(buf[a3 + 1])
        f3i = ((v - ((v & 0x8000) << 1)) * 8191 + 16384) >> 15
        wr = int(tw_r[t1])
        wr -= (wr & 0x8000) << 1
        wi = int(tw_i[t1])
        wi -= (wi & 0x8000) << 1
        s0r = (((f1r * wr - f1i * wi + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        s0i = (((f1r * wi + f1i * wr + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        wr = int(tw_r[t2])
        wr -= (wr & 0x8000) << 1
        wi = int(tw_i[t2])
        wi -= (wi & 0x8000) << 1
        s1r = (((f2r * wr - f2i * wi + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        s1i = (((f2r * wi + f2i * wr + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        wr = int(tw_r[t3])
        wr -= (wr & 0x8000) << 1
        wi = int(tw_i[t3])
        wi -= (wi & 0x8000) << 1
        s2r = (((f3r * wr - f3i * wi + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        s2i = (((f3r * wi + f3i * wr + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        s5r = ((f0r - s1r + 32768) & 0xFFFF) - 32768
        s5i = ((f0i - s1i + 32768) & 0xFFFF) - 32768
        f0r = ((f0r + s1r + 32768) & 0xFFFF) - 32768
        f0i = ((f0i + s1i + 32768) & 0xFFFF) - 32768
        s3r = ((s0r + s2r + 32768) & 0xFFFF) - 32768
        s3i = ((s0i + s2i + 32768) & 0xFFFF) - 32768
        s4r = ((s0r - s2r + 32768) & 0xFFFF) - 32768
        s4i = ((s0i - s2i + 32768) & 0xFFFF) - 32768
        buf[a2] = f0r - s3r
        buf[a2 + 1] = f0i - s3i
        t1 += fstride
        t2 += 2 * fstride
        t3 += 3 * fstride
        buf[a0] = f0r + s3r
        buf[a0 + 1] = f0i + s3i
        buf[a1] = s5r + s4i
        buf[a1 + 1] = s5i - s4r
        buf[a3] = s5r - s4i
        buf[a3 + 1] = s5i + s4r


@micropython.viper
def rfft_post(buf: ptr16, freq: ptr16, n: int, sup_r: ptr16, sup_i: ptr16):
    v = int(buf[0])
    tr = (((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15)
    v = int(buf[1])
    ti = (((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15)
    freq[0] = tr + ti
    freq[1] = 0
    freq[2 * n] = tr - ti
    freq[2 * n + 1] = 0
    for k in range(1, n // 2 + 1):
        v = int(buf[2 * k])
        pkr = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[2 * k + 1])
        pki = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[2 * (n - k)])
        nkr = ((v - ((v & 0x8000) << 1)) * 16383 + 16384) >> 15
        v = int(buf[2 * (n - k) + 1])
        v = ((32768 - (v - ((v & 0x8000) << 1))) & 0xFFFF) - 32768
        nki = (v * 16383 + 16384) >> 15
        f1r = ((pkr + nkr + 32768) & 0xFFFF) - 32768
        f1i = ((pki + nki + 32768) & 0xFFFF) - 32768
        f2r = ((pkr - nkr + 32768) & 0xFFFF) - 32768
        f2i = ((pki - nki + 32768) & 0xFFFF) - 32768
        wr = int(sup_r[k - 1])
        wr -= (wr & 0x8000) << 1
        wi = int(sup_i[k - 1])
        wi -= (wi & 0x8000) << 1
        twr = (((f2r * wr - f2i * wi + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        twi = (((f2r * wi + f2i * wr + 16384) >> 15) + 32768 & 0xFFFF) - 32768
        freq[2 * k] = (f1r + twr) >> 1
        freq[2 * k + 1] = (f1i + twi) >> 1
        freq[2 * (n - k)] = (f1r - twr) >> 1
        freq[2 * (n - k) + 1] = (twi - f1i) >> 1


@micropython.viper
def spectrum_to_energy(cpx: ptr16, start: int, end: int, out: ptr32):
    for i in range(start, end):
        r = int(cpx[2 * i])
        r -= (r & 0x8000) << 1
        im = int(cpx[2 * i + 1])
        im -= (im & 0x8000) << 1
        out[i] = r * r + im * im


@micropython.viper
def copy16(src: ptr16, dst: ptr16, n: int):
    for i in range(n):
        dst[i] = src[i]


@micropython.viper
def fft_auto_scale(inp: ptr16, size: int, out: ptr16) -> int:
    """audio_fixed.fft_auto_scale (TFLM FftAutoScale, its int16 MaxAbs16 quirk included)."""
    mx = 0
    for i in range(size):
        v = int(inp[i])
        v -= (v & 0x8000) << 1
        if v > mx:
            mx = v
        elif -v > mx:
            mx = ((32768 - v) & 0xFFFF) - 32768
    bits = 0
    if mx >= 0:
        msb = 0
        x = mx
        while x:
            x >>= 1
            msb += 1
        bits = 15 - msb
        if bits < 0:
            bits = 0
    for i in range(size):
        out[i] = int(inp[i]) << bits
    return bits
