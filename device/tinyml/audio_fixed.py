"""Fixed-point audio front-end math, bit-exact with TFLM's signal library (signal/src/*.cc).

Plain functions over arrays, shared by the Signal* ops (ops/signal.py). C integer semantics
are emulated: int16 stores wrap, uint32 arithmetic wraps, >> on negatives is arithmetic.
The real FFT is KISS FFT's FIXED_POINT=16 kiss_fftr (what TFLM's SignalRfft int16 runs).
"""
import math
from array import array

from .quant import wrap32 as w32

M16 = 0xFFFF
M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


def w16(v):
    """v wrapped to int16, as a C store into int16_t."""
    return ((v + 32768) & M16) - 32768


def msb32(x):
    """TFLM MostSignificantBit32: bit length of a uint32 (0 -> 0 on the portable path; the
    __builtin_clz path returns 32 for 0, never reached by the callers below)."""
    n = 0
    x &= M32
    while x:
        x >>= 1
        n += 1
    return n


# ------------------------------------------------------------------ window / auto-scale


def apply_window(inp, weights, size, shift, out, base=0):
    """out[base+i] = sat16((inp[base+i] * weights[i]) >> shift)."""
    for i in range(size):
        raw = (inp[base + i] * weights[i]) >> shift
        out[base + i] = -32768 if raw < -32768 else (32767 if raw > 32767 else raw)


def max_abs16(inp, size):
    """TFLM MaxAbs16 including its int16 wrap when -32768 is met."""
    mx = 0
    for i in range(size):
        v = inp[i]
        if v > mx:
            mx = v
        elif -v > mx:
            mx = w16(-v)
    return mx


def fft_auto_scale(inp, size, out):
    """Shift inp left so its max |value| uses 15 bits; returns the shift (TFLM FftAutoScale)."""
    mx = max_abs16(inp, size)
    bits = 16 - msb32(mx & M32 if mx >= 0 else (mx + (1 << 32))) - 1
    if bits <= 0:
        bits = 0
    mul = 1 << bits
    for i in range(size):
        out[i] = w16(inp[i] * mul)
    return bits


# ------------------------------------------------------------------ KISS FFT, 16-bit fixed


def _kiss_factors(n):
    """kf_factor for n: list of (p, m)."""
    out = []
    p = 4
    floor_sqrt = math.floor(math.sqrt(n))
    while True:
        while n % p:
            if p == 4:
                p = 2
            elif p == 2:
                p = 3
            else:
                p += 2
            if p > floor_sqrt:
                p = n
        n //= p
        out.append((p, n))
        if n <= 1:
            return out


_ONE = 1 << 30
_HALF_PI = 1686629713          # round(pi / 2 * 2**30)


def _cos_sin_quadrant(num, den):
    """(cos, sin) of (pi/2) * num/den for 0 <= num < den, in 2**30 fixed point (Taylor)."""
    t = _HALF_PI * num // den
    t2 = t * t >> 30
    c = term = _ONE
    n = 1
    while term:
        term = -(term * t2 >> 30) // ((2 * n - 1) * (2 * n))
        c += term
        n += 1
    s = term = t
    n = 1
    while term:
        term = -(term * t2 >> 30) // ((2 * n) * (2 * n + 1))
        s += term
        n += 1
    return c, s


def kiss_twiddle(num, den):
    """KISS FFT's FIXED_POINT kf_cexp for phase = pi * num / den: (floor(.5 + 32767 cos),
    floor(.5 + 32767 sin)) computed in integers, so single-precision boards get the
    double-precision table TFLM builds (exact for fft_length <= 2048)."""
    if den <= 0:
        raise ValueError('bad twiddle phase')
    r = (2 * num) % (4 * den)        # phase in quarter turns: r / den * (pi / 2)
    quadrant = r // den
    c, s = _cos_sin_quadrant(r - quadrant * den, den)
    if quadrant == 1:
        c, s = -s, c
    elif quadrant == 2:
        c, s = -c, -s
    elif quadrant == 3:
        c, s = s, -c
    return (w16((32767 * c + (_ONE >> 1)) >> 30), w16((32767 * s + (_ONE >> 1)) >> 30))


class KissFftR16:
    """kiss_fftr (FIXED_POINT 16) for an even power-of-two real length nfft.

    run(timedata, freqdata): timedata int16[nfft], freqdata int16[2*(nfft/2+1)] interleaved."""

    def __init__(self, nfft):
        if nfft < 4 or nfft & (nfft - 1) or nfft > 4096:
            raise ValueError('fft_length must be a power of two in 4..4096, got %r' % (nfft,))
        self.nfft = nfft
        n = nfft // 2
        self.ncfft = n
        self.factors = _kiss_factors(n)
        for p, _ in self.factors:
            if p not in (2, 4):
                raise ValueError('unsupported radix %d' % p)
        half = n // 2
        # one int16 plan, the layout of the native signal_rfft: tw_r[n] tw_i[n] sup_r[n/2]
        # sup_i[n/2] perm[n]; the tables below are views into it
        self.plan = array('h', bytes(8 * n))
        v = memoryview(self.plan)
        self.tw_r, self.tw_i = v[0:n], v[n:2 * n]
        self.sup_r, self.sup_i = v[2 * n:2 * n + half], v[2 * n + half:3 * n]
        self.perm = v[3 * n:4 * n]
        for i in range(n):                      # phase -2 pi i / n
            self.tw_r[i], self.tw_i[i] = kiss_twiddle(-2 * i, n)
        for i in range(half):                   # phase -pi ((i + 1) / n + 1/2)
            self.sup_r[i], self.sup_i[i] = kiss_twiddle(-(2 * (i + 1) + n), 2 * n)
        self._permute(0, 0, 1, 0)
        # the butterfly schedule, innermost stage first: (p, m, fstride)
        stages = []
        fstride = 1
        for p, m in self.factors:
            stages.append((p, m, fstride))
            fstride *= p
        stages.reverse()
        self.stages = stages
        self.stage_params = []                  # signal_rfft's p tail: radix, m, fstride
        for st in stages:
            self.stage_params.extend(st)
        self.buf = array('h', bytes(4 * n))   # tmpbuf: n complex, interleaved

    def _permute(self, fout, f, fstride, level):
        p, m = self.factors[level]
        if m == 1:
            for j in range(p):
                self.perm[fout + j] = f + j * fstride
        else:
            for j in range(p):
                self._permute(fout + j * m, f + j * fstride, fstride * p, level + 1)

    def run(self, timedata, freqdata):
        from . import dsp
        k = dsp.kernels()
        if hasattr(k, 'bfly4'):
            return self._run_viper(k, timedata, freqdata)
        n = self.ncfft
        buf = self.buf
        perm = self.perm
        for j in range(n):
            src = 2 * perm[j]
            buf[2 * j] = timedata[src]
            buf[2 * j + 1] = timedata[src + 1]
        for p, m, fstride in self.stages:
            for start in range(0, n, p * m):
                if p == 4:
                    bfly4(buf, start, fstride, m, self.tw_r, self.tw_i)
                else:
                    bfly2(buf, start, fstride, m, self.tw_r, self.tw_i)
        rfft_post(buf, freqdata, n, self.sup_r, self.sup_i)


    def _run_viper(self, k, timedata, freqdata):
        n = self.ncfft
        buf = self.buf
        k.permute(timedata, buf, self.perm, n)
        for p, m, fstride in self.stages:
            fly = k.bfly4 if p == 4 else k.bfly2
            for start in range(0, n, p * m):
                fly(buf, start, fstride, m, self.tw_r, self.tw_i)
        # viper pointers take any buffer: arrays and the engine's uctypes tensor views
        k.rfft_post(buf, freqdata, n, self.sup_r, self.sup_i)


def _fixdiv(v, k):
    return w16((v * (32767 // k) + 16384) >> 15)


def bfly2(buf, start, fstride, m, tw_r, tw_i):
    tw = 0
    for j in range(start, start + m):
        a = 2 * j
        b = 2 * (j + m)
        ar = (buf[a] * 16383 + 16384) >> 15
        ai = (buf[a + 1] * 16383 + 16384) >> 15
        br = (buf[b] * 16383 + 16384) >> 15
        bi = (buf[b + 1] * 16383 + 16384) >> 15
        wr = tw_r[tw]
        wi = tw_i[tw]
        tr = w16((br * wr - bi * wi + 16384) >> 15)
        ti = w16((br * wi + bi * wr + 16384) >> 15)
        tw += fstride
        buf[b] = w16(ar - tr)
        buf[b + 1] = w16(ai - ti)
        buf[a] = w16(ar + tr)
        buf[a + 1] = w16(ai + ti)


def bfly4(buf, start, fstride, m, tw_r, tw_i):
    t1 = t2 = t3 = 0
    for j in range(start, start + m):
        a0 = 2 * j
        a1 = a0 + 2 * m
        a2 = a1 + 2 * m
        a3 = a2 + 2 * m
        f0r = (buf[a0] * 8191 + 16384) >> 15
        f0i = (buf[a0 + 1] * 8191 + 16384) >> 15
        f1r = (buf[a1] * 8191 + 16384) >> 15
        f1i = (buf[a1 + 1] * 8191 + 16384) >> 15
        f2r = (buf[a2] * 8191 + 16384) >> 15
        f2i = (buf[a2 + 1] * 8191 + 16384) >> 15
        f3r = (buf[a3] * 8191 + 16384) >> 15
        f3i = (buf[a3 + 1] * 8191 + 16384) >> 15
        wr = tw_r[t1]
        wi = tw_i[t1]
        s0r = w16((f1r * wr - f1i * wi + 16384) >> 15)
        s0i = w16((f1r * wi + f1i * wr + 16384) >> 15)
        wr = tw_r[t2]
        wi = tw_i[t2]
        s1r = w16((f2r * wr - f2i * wi + 16384) >> 15)
        s1i = w16((f2r * wi + f2i * wr + 16384) >> 15)
        wr = tw_r[t3]
        wi = tw_i[t3]
        s2r = w16((f3r * wr - f3i * wi + 16384) >> 15)
        s2i = w16((f3r * wi + f3i * wr + 16384) >> 15)
        s5r = w16(f0r - s1r)
        s5i = w16(f0i - s1i)
        f0r = w16(f0r + s1r)
        f0i = w16(f0i + s1i)
        s3r = w16(s0r + s2r)
        s3i = w16(s0i + s2i)
        s4r = w16(s0r - s2r)
        s4i = w16(s0i - s2i)
        buf[a2] = w16(f0r - s3r)
        buf[a2 + 1] = w16(f0i - s3i)
        t1 += fstride
        t2 += 2 * fstride
        t3 += 3 * fstride
        buf[a0] = w16(f0r + s3r)
        buf[a0 + 1] = w16(f0i + s3i)
        buf[a1] = w16(s5r + s4i)
        buf[a1 + 1] = w16(s5i - s4r)
        buf[a3] = w16(s5r - s4i)
        buf[a3 + 1] = w16(s5i + s4r)


def rfft_post(buf, freq, n, sup_r, sup_i):
    """kiss_fftr's split of the packed complex FFT into bins 0..n (interleaved int16)."""
    tr = _fixdiv(buf[0], 2)
    ti = _fixdiv(buf[1], 2)
    freq[0] = w16(tr + ti)
    freq[1] = 0
    freq[2 * n] = w16(tr - ti)
    freq[2 * n + 1] = 0
    for k in range(1, n // 2 + 1):
        pkr = _fixdiv(buf[2 * k], 2)
        pki = _fixdiv(buf[2 * k + 1], 2)
        nkr = _fixdiv(buf[2 * (n - k)], 2)
        nki = _fixdiv(w16(-buf[2 * (n - k) + 1]), 2)
        f1r = w16(pkr + nkr)
        f1i = w16(pki + nki)
        f2r = w16(pkr - nkr)
        f2i = w16(pki - nki)
        wr = sup_r[k - 1]
        wi = sup_i[k - 1]
        twr = w16((f2r * wr - f2i * wi + 16384) >> 15)
        twi = w16((f2r * wi + f2i * wr + 16384) >> 15)
        freq[2 * k] = w16((f1r + twr) >> 1)
        freq[2 * k + 1] = w16((f1i + twi) >> 1)
        freq[2 * (n - k)] = w16((f1r - twr) >> 1)
        freq[2 * (n - k) + 1] = w16((twi - f1i) >> 1)


# ------------------------------------------------------------------ energy / filterbank


def spectrum_to_energy(cpx, start, end, out):
    for i in range(start, end):
        r = cpx[2 * i]
        im = cpx[2 * i + 1]
        out[i] = (r * r + im * im) & M32


def filterbank_accumulate(inp, weights, unweights, freq_starts, weight_starts, widths,
                          num_channels, out):
    """TFLM FilterbankAccumulateChannels; out gets channels 1..num_channels (uint64)."""
    weight_acc = 0
    unweight_acc = 0
    for i in range(num_channels + 1):
        fs = freq_starts[i]
        ws = weight_starts[i]
        for j in range(widths[i]):
            x = inp[fs + j]
            weight_acc += (weights[ws + j] & M64) * x
            unweight_acc += (unweights[ws + j] & M64) * x
        if i:
            out[i - 1] = weight_acc & M64
        weight_acc = unweight_acc
        unweight_acc = 0


def _sqrt(num, width, res_mask):
    """TFLM Sqrt32 / Sqrt64 (width 32 / 64) of 0 < num < 2**width: bitwise integer square
    root, rounded up when the remainder exceeds it unless that would overflow res_mask."""
    top = 0
    x = num
    while x:
        x >>= 1
        top += 1
    top = width - 1 - ((width - top) | 1)
    bit = 1 << top
    res = 0
    for _ in range(top // 2 + 1):
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != res_mask:
        res += 1
    return res & res_mask


def sqrt32(num):
    return _sqrt(num, 32, M16) if num else 0


def sqrt64(num):
    if (num >> 32) == 0:
        return _sqrt(num, 32, M16) if num else 0
    return _sqrt(num, 64, M32)


def filterbank_sqrt(inp, num_channels, scale_down_bits, out):
    for i in range(num_channels):
        out[i] = sqrt64(inp[i]) >> scale_down_bits


def spectral_subtraction(cfg, inp, out, noise, num_channels):
    """TFLM FilterbankSpectralSubtraction; cfg = (smoothing, one_minus_smoothing,
    alternate_smoothing, alternate_one_minus_smoothing, min_signal_remaining, smoothing_bits,
    spectral_subtraction_bits, clamping)."""
    sm, oms, alt_sm, alt_oms, min_remaining, sm_bits, ss_bits, clamping = cfg
    for i in range(num_channels):
        if i & 1:
            s, o = alt_sm, alt_oms
        else:
            s, o = sm, oms
        x = inp[i]
        scaled = (x << sm_bits) & M32
        est = ((scaled * s + noise[i] * o) >> ss_bits) & M32
        noise[i] = est
        if est > scaled:
            est = scaled
            if clamping:
                noise[i] = est
        floor = ((x * min_remaining) >> ss_bits) & M32
        sub = (scaled - est) >> sm_bits
        out[i] = sub if sub > floor else floor


# ------------------------------------------------------------------ PCAN / log

PCAN_SNR_BITS = 12
PCAN_OUTPUT_BITS = 6


def wide_dynamic_function(x, lut):
    if x <= 2:
        return lut[x]
    interval = msb32(x)
    base = 4 * interval - 6
    if interval < 11:
        frac = (x << (11 - interval)) & M32
    else:
        frac = x >> (interval - 11)
    frac &= 0x3FF
    result = (lut[base + 2] * frac) >> 5
    result += w32((lut[base + 1] & M32) << 5)
    result = w32(result * frac)
    result = (result + (1 << 14)) >> 15
    result += lut[base]
    return w16(result)


def pcan_shrink(x):
    if x < (2 << PCAN_SNR_BITS):
        return ((x * x) & M32) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    return ((x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)) & M32


def pcan(gain_lut, snr_shift, noise, inp, out, num_channels):
    """TFLM ApplyPcanAutoGainControlFixed (reads inp, writes out; may be the same buffer)."""
    for i in range(num_channels):
        gain = wide_dynamic_function(noise[i], gain_lut) & M32
        snr = ((inp[i] * gain) >> snr_shift) & M32
        out[i] = pcan_shrink(snr)


LOG_LUT = (
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797,
    2944, 3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549,
    4633, 4714, 4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444,
    5477, 5507, 5533, 5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626,
    5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203,
    5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264,
    4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875,
    2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094,
    963, 830, 695, 559, 421, 282, 142, 0, 0)


def log32(x, out_scale):
    """TFLM Log32: round(out_scale * ln(x)) in fixed point (x > 1)."""
    integer = msb32(x) - 1
    frac = w32(x - (1 << integer))
    if integer < 16:
        frac = w32(frac << (16 - integer))
    else:
        frac >>= integer - 16
    base_seg = frac >> 9
    c0 = LOG_LUT[base_seg]
    c1 = LOG_LUT[base_seg + 1]
    rel_pos = ((c1 - c0) * (frac - 512 * base_seg)) >> 16
    fraction = (frac + c0 + rel_pos) & M32
    log2 = ((integer << 16) + fraction) & M32
    loge = ((45426 * log2 + 32768) >> 16) & M32
    return ((out_scale * loge + 32768) & M32) >> 16


def filterbank_log(inp, num_channels, output_scale, correction_bits, out):
    for i in range(num_channels):
        scaled = (inp[i] << correction_bits) & M32
        if scaled > 1:
            v = log32(scaled, output_scale)
            out[i] = v if v < 32767 else 32767
        else:
            out[i] = 0
