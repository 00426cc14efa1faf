"""Pure-Python reference kernels: the semantics every other backend copies bit for bit.

Every kernel is kernel(out, a, b, p): `out`/`a` typed buffers of the output/input
tensor (int8 tensors index as signed values), `b` the weights: the model's typed view of
the int8 weight tensor (signed, used in place in the model buffer; buffer protocol for
native ports), an array('f') block for float kernels, TFLM's LUTs for softmax_s16;
`p` an array('i') parameter block laid out as documented at each kernel. Offsets follow
TFLM: in_offset = -input_zero_point, out_offset = output_zero_point.

The integer kernels allocate nothing per call on ports with 63-bit small ints (the
unix port); 32-bit ports box the 62-bit requantization products as long ints.

Requantization (all int8 kernels) is TFLM's double-rounding
MultiplyByQuantizedMultiplier(acc, mult, shift) (see _requant), then + out_offset,
then clamp to [act_min, act_max].

Accumulation is TFLM's: acc = bias + sum over in-image taps of (x + in_offset) * w,
with the raw int32 bias in p. (Internally conv/depthwise pad out-of-image taps with the
input zero point and add in_offset * sum(filter) once per invoke; same result.)

Kernels here (parameter layout at each definition; all tensors NHWC / row-major):
    conv_s8, depthwise_s8            CONV_HEADER + bias/mult/shift per out channel
    fully_connected_s8               FC_HEADER + bias/mult/shift per output
    conv_s16, depthwise_s16          CONV16_HEADER (int16 activations, int8 weights)
    fully_connected_s16              FC16_HEADER
    avgpool_s8/_s16, maxpool_s8/_s16 POOL_HEADER
    softmax_s8 (int8 -> int8/int16)  SOFTMAX_HEADER
    softmax_s16 (int16 -> int16)     SOFTMAX16_HEADER, b = TFLM's two int16 LUTs
    log_softmax_s8                   LOG_SOFTMAX_HEADER
    conv_f32, depthwise_f32, fully_connected_f32, avgpool_f32, maxpool_f32,
    softmax_f32, log_softmax_f32     float32; `b` = array('f') of act range, bias, weights
Scratch lives in module-level arrays (_buf); a port may use its own.
"""
from array import array
from math import exp as _exp, log as _log

try:
    from .python_eltwise import *  # noqa: F401,F403
except ImportError:
    pass
try:
    from .python_rnn import *  # noqa: F401,F403
except ImportError:
    pass
from .python_copy import *  # noqa: F401,F403

_scratch = {}


_ITEMSIZE = {'b': 1, 'B': 1, 'h': 2, 'H': 2, 'i': 4, 'I': 4, 'f': 4, 'q': 8, 'd': 8}


def _buf(name, typecode, n):
    """A module-level scratch array of at least n items (grows, never shrinks)."""
    buf = _scratch.get(name)
    if buf is None or len(buf) < n:
        buf = None
        _scratch[name] = None           # let the old one go first
        try:
            buf = array(typecode, [0]) * n      # CPython
        except TypeError:   # MicroPython: arrays do not repeat; zero bytes, no n-item list
            buf = array(typecode, bytes(n * _ITEMSIZE[typecode]))
        _scratch[name] = buf
    return buf


def _requant(acc, mult, shift):
    """TFLM MultiplyByQuantizedMultiplier (double rounding), mult >= 0."""
    if shift > 0:
        acc = ((acc << shift) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
    ab = acc * mult
    if ab >= 0:
        x = (ab + 0x40000000) >> 31
    else:
        x = -((0x3FFFFFFF - ab) >> 31)
    if shift < 0:
        rs = -shift
        mask = (1 << rs) - 1
        thr = mask >> 1
        if x < 0:
            thr += 1
        x = (x >> rs) + ((x & mask) > thr)
    return x


# ---------------------------------------------------------------- conv / depthwise

# Shared header of conv_s8 and depthwise_s8 (20 ints), then 3 * out_c per-channel ints:
CONV_HEADER = 20
# p[0] batches   p[1] in_h    p[2] in_w     p[3] in_c     p[4] out_h    p[5] out_w
# p[6] out_c     p[7] k_h     p[8] k_w      p[9] stride_h p[10] stride_w
# p[11] dil_h    p[12] dil_w  p[13] pad_top p[14] pad_left
# p[15] in_offset  p[16] out_offset  p[17] act_min  p[18] act_max
# p[19] depth_multiplier (depthwise; conv: 1)
# p[20 : 20+out_c]            bias[oc] (int32; 0 when the op has no bias)
# p[20+out_c : 20+2*out_c]    multiplier[oc]
# p[20+2*out_c : 20+3*out_c]  shift[oc]   (TFLM sign: > 0 left, < 0 right)
# conv: b = filter [out_c, k_h, k_w, in_c]; depthwise: b = filter [1, k_h, k_w, out_c];
# b indexes as signed int8 (the model's typed view of the weights, used in place).


def _fill_patch(patch, a, p, base_b, oy, ox):
    """im2col one output pixel: patch[(ky*k_w + kx)*in_c + c] = input tap, or the input
    zero point (-in_offset) for taps outside the image. Element loops: no heap use."""
    in_h, in_w, in_c = p[1], p[2], p[3]
    k_h, k_w = p[7], p[8]
    iy0 = oy * p[9] - p[13]
    ix0 = ox * p[10] - p[14]
    zp = -p[15]
    row = k_w * in_c
    d = 0
    for ky in range(k_h):
        iy = iy0 + ky * p[11]
        if iy < 0 or iy >= in_h:
            for i in range(d, d + row):
                patch[i] = zp
            d += row
            continue
        src = base_b + iy * in_w * in_c
        if p[12] == 1 and ix0 >= 0 and ix0 + k_w <= in_w:
            s = src + ix0 * in_c - d
            for i in range(d, d + row):
                patch[i] = a[s + i]
            d += row
            continue
        for kx in range(k_w):
            ix = ix0 + kx * p[12]
            if ix < 0 or ix >= in_w:
                for i in range(d, d + in_c):
                    patch[i] = zp
            else:
                s = src + ix * in_c - d
                for i in range(d, d + in_c):
                    patch[i] = a[s + i]
            d += in_c


def _filter_sums(beff, b, p, out_c, per_row, stride):
    """beff[oc] = bias[oc] + in_offset * sum of filter oc: rows of per_row values, element
    j of row oc at oc * (1 if stride > 1 else per_row) + j * stride."""
    in_off = p[15]
    for oc in range(out_c):
        s = 0
        j = oc if stride > 1 else oc * per_row
        for _ in range(per_row):
            s += b[j]
            j += stride
        beff[oc] = p[CONV_HEADER + oc] + in_off * s


def conv_s8(out, a, b, p):
    """CONV_2D int8 x int8 -> int8, NHWC input, OHWI filter, per-channel requant."""
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    out_off, act_min, act_max = p[16], p[17], p[18]
    nm = CONV_HEADER + out_c
    ns = nm + out_c
    patch = _buf('patch', 'b', K)
    beff = _buf('beff', 'i', out_c)
    _filter_sums(beff, b, p, out_c, K, 1)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                w0 = 0
                for oc in range(out_c):
                    acc = beff[oc]
                    for i in range(K):
                        acc += patch[i] * b[w0 + i]
                    w0 += K
                    # _requant inlined (hot loop)
                    sh = p[ns + oc]
                    if sh > 0:
                        acc = ((acc << sh) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                    acc *= p[nm + oc]
                    if acc >= 0:
                        acc = (acc + 0x40000000) >> 31
                    else:
                        acc = -((0x3FFFFFFF - acc) >> 31)
                    if sh < 0:
                        mask = (1 << -sh) - 1
                        rem = acc & mask
                        acc >>= -sh
                        if rem > (mask >> 1) + (acc < 0):
                            acc += 1
                    acc += out_off
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def depthwise_s8(out, a, b, p):
    """DEPTHWISE_CONV_2D int8 -> int8, NHWC input, filter [1, k_h, k_w, out_c]; output
    channel oc reads input channel oc // depth_multiplier."""
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    out_off, act_min, act_max = p[16], p[17], p[18]
    dm = p[19]
    nm = CONV_HEADER + out_c
    ns = nm + out_c
    patch = _buf('patch', 'b', taps * in_c)
    beff = _buf('beff', 'i', out_c)
    _filter_sums(beff, b, p, out_c, taps, out_c)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                for oc in range(out_c):
                    acc = beff[oc]
                    j = oc
                    if dm == 1:
                        for _ in range(taps):
                            acc += patch[j] * b[j]
                            j += in_c
                    else:
                        i = oc // dm
                        for _ in range(taps):
                            acc += patch[i] * b[j]
                            i += in_c
                            j += out_c
                    # _requant inlined (hot loop)
                    sh = p[ns + oc]
                    if sh > 0:
                        acc = ((acc << sh) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
                    acc *= p[nm + oc]
                    if acc >= 0:
                        acc = (acc + 0x40000000) >> 31
                    else:
                        acc = -((0x3FFFFFFF - acc) >> 31)
                    if sh < 0:
                        mask = (1 << -sh) - 1
                        rem = acc & mask
                        acc >>= -sh
                        if rem > (mask >> 1) + (acc < 0):
                            acc += 1
                    acc += out_off
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


# ---------------------------------------------------------------- fully connected

FC_HEADER = 7
# p[0] batches  p[1] in_depth (accumulation depth)  p[2] out_depth
# p[3] in_offset  p[4] out_offset  p[5] act_min  p[6] act_max
# p[7 : 7+out_depth]          bias[o] (int32; 0 when the op has no bias)
# p[7+out_depth : 7+2*out_depth]   multiplier[o]  (per-tensor: repeated)
# p[7+2*out_depth : 7+3*out_depth] shift[o]
# Input a: [batches, in_depth] int8; filter b: [out_depth, in_depth] signed int8;
# filter zero point must be 0 (TFLM int8 FC requires it).


def fully_connected_s8(out, a, b, p):
    batches, depth, out_d = p[0], p[1], p[2]
    in_off, out_off, act_min = p[3], p[4], p[5]
    act_max = p[6]
    nb = FC_HEADER
    nm = nb + out_d
    ns = nm + out_d
    x = _buf('fcx', 'h', depth)
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        for i in range(depth):
            x[i] = a[a0 + i] + in_off
        w0 = 0
        for oc in range(out_d):
            acc = p[nb + oc]
            for i in range(depth):
                acc += x[i] * b[w0 + i]
            w0 += depth
            # _requant inlined (hot loop)
            sh = p[ns + oc]
            if sh > 0:
                acc = ((acc << sh) + 0x80000000 & 0xFFFFFFFF) - 0x80000000
            acc *= p[nm + oc]
            if acc >= 0:
                acc = (acc + 0x40000000) >> 31
            else:
                acc = -((0x3FFFFFFF - acc) >> 31)
            if sh < 0:
                mask = (1 << -sh) - 1
                rem = acc & mask
                acc >>= -sh
                if rem > (mask >> 1) + (acc < 0):
                    acc += 1
            acc += out_off
            out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
            o += 1


# ---------------------------------------------------------------- int16 activations (16x8)
# int16 input/output, int8 weights. p[acc64_index] selects TFLM's accumulator:
# 1 = int64 (int64 bias; requant by the int64 MultiplyByQuantizedMultiplier, _requant64),
# 0 = int32 (int32 bias; the accumulator wraps to int32, then _requant).
# Bias values are split into two ints: bias = bias_hi * 2**32 + (bias_lo & 0xFFFFFFFF).


def _requant64(acc, mult, shift):
    """TFLM MultiplyByQuantizedMultiplier(int64_t x, ...) -> int32."""
    reduced = (mult + 32768) >> 16 if mult < 0x7FFF0000 else 0x7FFF
    ts = 15 - shift
    return (((acc * reduced + (1 << (ts - 1))) >> ts) + 0x80000000 & 0xFFFFFFFF) - 0x80000000


def _requant16_clamp(acc, p, nl, oc, n, act_min, act_max):
    """acc + bias, TFLM's requant for the accumulator width at p[nl - 1], clamp.
    Per-channel arrays start at nl: bias_lo, bias_hi, multiplier, shift (n each)."""
    acc += (p[nl + n + oc] << 32) + (p[nl + oc] & 0xFFFFFFFF)
    mult = p[nl + 2 * n + oc]
    shift = p[nl + 3 * n + oc]
    if p[nl - 1]:
        acc = _requant64(acc, mult, shift)
    else:
        acc = _requant(((acc + 0x80000000) & 0xFFFFFFFF) - 0x80000000, mult, shift)
    return act_min if acc < act_min else (act_max if acc > act_max else acc)


CONV16_HEADER = 21
# conv_s16 / depthwise_s16: p[0..19] as CONV_HEADER (in_offset p[15] and out_offset p[16]
# are 0: TFLM's int16 conv has no offsets), p[20] acc64 (depthwise: always 1), then
# bias_lo[out_c], bias_hi[out_c], multiplier[out_c], shift[out_c].


def conv_s16(out, a, b, p):
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    act_min, act_max = p[17], p[18]
    patch = _buf('patch16', 'h', K)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                w0 = 0
                for oc in range(out_c):
                    acc = 0
                    for i in range(K):
                        acc += patch[i] * b[w0 + i]
                    w0 += K
                    out[o] = _requant16_clamp(acc, p, CONV16_HEADER, oc, out_c,
                                              act_min, act_max)
                    o += 1


def depthwise_s16(out, a, b, p):
    """DEPTHWISE_CONV_2D int16 x int8 -> int16 (int64 accumulator)."""
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    act_min, act_max, dm = p[17], p[18], p[19]
    patch = _buf('patch16', 'h', taps * in_c)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                for oc in range(out_c):
                    acc = 0
                    i = oc // dm
                    j = oc
                    for _ in range(taps):
                        acc += patch[i] * b[j]
                        i += in_c
                        j += out_c
                    out[o] = _requant16_clamp(acc, p, CONV16_HEADER, oc, out_c,
                                              act_min, act_max)
                    o += 1


FC16_HEADER = 8
# fully_connected_s16: p[0..6] as FC_HEADER (offsets applied as in TFLM), p[7] acc64,
# then bias_lo[out_d], bias_hi[out_d], multiplier[out_d], shift[out_d].


def fully_connected_s16(out, a, b, p):
    batches, depth, out_d = p[0], p[1], p[2]
    in_off, out_off, act_min = p[3], p[4], p[5]
    act_max = p[6]
    x = _buf('fcx32', 'i', depth)
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        for i in range(depth):
            x[i] = a[a0 + i] + in_off
        w0 = 0
        for oc in range(out_d):
            acc = 0
            for i in range(depth):
                acc += x[i] * b[w0 + i]
            w0 += depth
            acc = _requant16_clamp(acc, p, FC16_HEADER, oc, out_d, -2147483648,
                                   2147483647) + out_off
            out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
            o += 1


# ---------------------------------------------------------------- pooling

POOL_HEADER = 14
# p[0] batches  p[1] in_h  p[2] in_w  p[3] channels  p[4] out_h  p[5] out_w
# p[6] k_h  p[7] k_w  p[8] stride_h  p[9] stride_w  p[10] pad_top  p[11] pad_left
# p[12] act_min  p[13] act_max   (integer kernels; the float kernels take them from b)
# The window is clipped to the image (TFLM semantics); out/a may be int8 or int16 views.


def _pool_window(win, p, oy, ox):
    """win[0:4] = first/end input row, first/end input column of the clipped window."""
    iy0 = oy * p[8] - p[10]
    ix0 = ox * p[9] - p[11]
    win[0] = iy0 if iy0 > 0 else 0
    win[1] = iy0 + p[6] if iy0 + p[6] < p[1] else p[1]
    win[2] = ix0 if ix0 > 0 else 0
    win[3] = ix0 + p[7] if ix0 + p[7] < p[2] else p[2]


def _window_sum(a, base, in_w, ch, win, c):
    acc = 0
    for iy in range(win[0], win[1]):
        j = base + (iy * in_w + win[2]) * ch + c
        for _ in range(win[3] - win[2]):
            acc += a[j]
            j += ch
    return acc


def _window_max(a, base, in_w, ch, win, c, mx):
    for iy in range(win[0], win[1]):
        j = base + (iy * in_w + win[2]) * ch + c
        for _ in range(win[3] - win[2]):
            if a[j] > mx:
                mx = a[j]
            j += ch
    return mx


def avgpool_s8(out, a, b, p):
    """AVERAGE_POOL_2D integer: rounded (half away from zero) mean of the clipped window,
    clamped to [act_min, act_max]; input and output share scale/zero point."""
    batches, in_h, in_w = p[0], p[1], p[2]
    ch, out_h, out_w = p[3], p[4], p[5]
    act_min, act_max = p[12], p[13]
    win = _buf('win', 'i', 4)
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                _pool_window(win, p, oy, ox)
                count = (win[1] - win[0]) * (win[3] - win[2])
                if count <= 0:
                    raise ValueError('average pool window outside the input')
                half = count >> 1
                for c in range(ch):
                    acc = _window_sum(a, base, in_w, ch, win, c)
                    if acc > 0:
                        acc = (acc + half) // count
                    else:
                        acc = -((half - acc) // count)
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def maxpool_s8(out, a, b, p):
    """MAX_POOL_2D integer: max of the clipped window, clamped to [act_min, act_max]."""
    batches, in_h, in_w = p[0], p[1], p[2]
    ch, out_h, out_w = p[3], p[4], p[5]
    act_min, act_max = p[12], p[13]
    win = _buf('win', 'i', 4)
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                _pool_window(win, p, oy, ox)
                for c in range(ch):
                    mx = _window_max(a, base, in_w, ch, win, c, act_min)
                    out[o] = mx if mx < act_max else act_max
                    o += 1


# int16 pooling: the same loops on int16 views (separate names for the native ports)
avgpool_s16 = avgpool_s8
maxpool_s16 = maxpool_s8


# ---------------------------------------------------------------- softmax

SOFTMAX_HEADER = 6
# p[0] rows (outer size)  p[1] depth (last dim)  p[2] input_multiplier
# p[3] input_left_shift   p[4] diff_min          p[5] output bits (8: int8 out, zp -128;
# 16: int16 out, zp -32768). Input int8. TFLM reference Softmax<int8_t, OutputT>.

# exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16) in Q0.31, for
# remainder bits 24..30 of the Q5.26 argument
_EXP_BARREL = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def _srdhm(a, b):
    if a == -2147483648 and b == -2147483648:
        return 2147483647
    ab = a * b
    if ab >= 0:
        return (ab + 0x40000000) >> 31
    return -((0x3FFFFFFF - ab) >> 31)


def _rdbpot(x, e):
    mask = (1 << e) - 1
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + ((x & mask) > thr)


def _sat_shl(x, e):
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent (int32)."""
    thr = (1 << (31 - e)) - 1
    if x > thr:
        return 2147483647
    if x < -thr:
        return -2147483648
    return x << e


def _wrap(x):
    return ((x + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def _exp_on_negative_values_q5(a):
    """gemmlowp exp_on_negative_values for a Q5.26 raw value a <= 0 -> Q0.31 raw."""
    mask = (1 << 24) - 1
    a_mod = (a & mask) - (1 << 24)
    # exp on [-1/4, 0): Taylor expansion around -1/8
    x = _wrap(_sat_shl(a_mod, 5) + (1 << 28))
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    x4_4 = _rdbpot(x4, 2)
    poly = _rdbpot(_wrap(_srdhm(_wrap(x4_4 + x3), 715827883) + x2), 1)
    c = 1895147668
    result = _wrap(c + _srdhm(c, _wrap(x + poly)))
    remainder = _wrap(a_mod - a)
    for k in range(7):
        if remainder & (1 << (24 + k)):
            result = _srdhm(result, _EXP_BARREL[k])
    if a == 0:
        result = 2147483647
    return result


def _one_over_one_plus_x_q0(a):
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 raw in [0, 1) -> Q0.31 raw."""
    s = a + 2147483647
    half_den = (s + 1) // 2 if s >= 0 else -((1 - s) // 2)
    x = _wrap(1515870810 + _srdhm(half_den, -1010580540))
    for _ in range(3):
        one_minus = _wrap((1 << 29) - _srdhm(half_den, x))
        x = _wrap(x + _sat_shl(_srdhm(x, one_minus), 2))
    return _sat_shl(x, 1)


def _count_leading_zeros32(x):
    n = 32
    while x:
        x >>= 1
        n -= 1
    return n


def softmax_s8(out, a, b, p):
    rows, depth, mult = p[0], p[1], p[2]
    lshift, diff_min, bits = p[3], p[4], p[5]
    out_min = -(1 << (bits - 1))
    out_max = (1 << (bits - 1)) - 1
    for r in range(rows):
        base = r * depth
        mx = -128
        for i in range(base, base + depth):
            if a[i] > mx:
                mx = a[i]
        total = 0
        for i in range(base, base + depth):
            diff = a[i] - mx
            if diff >= diff_min:
                e = _exp_on_negative_values_q5(_srdhm(diff << lshift, mult))
                total = _wrap(total + _rdbpot(e, 12))
        hp1 = _count_leading_zeros32(total & 0xFFFFFFFF)
        bits_over_unit = 12 - hp1
        shifted = _wrap(((total & 0xFFFFFFFF) << hp1) - (1 << 31))
        scale = _one_over_one_plus_x_q0(shifted)
        exponent = bits_over_unit + 31 - bits
        for i in range(base, base + depth):
            diff = a[i] - mx
            if diff >= diff_min:
                e = _exp_on_negative_values_q5(_srdhm(diff << lshift, mult))
                v = _rdbpot(_srdhm(scale, e), exponent) + out_min
                out[i] = out_max if v > out_max else (out_min if v < out_min else v)
            else:
                out[i] = out_min


SOFTMAX16_HEADER = 4
# softmax_s16 (int16 -> int16, TFLM SoftmaxInt16): p[0] rows  p[1] depth
# p[2] input_multiplier  p[3] input_shift (TFLM sign). b: array('h') of 1026 entries,
# TFLM's exp LUT (513) then its 1/(1+x) LUT (513), as built by ops/softmax.py.


def _lut16(lut, base, v):
    """TFLM LUTLookup(int16): 9-bit index, 7-bit linear interpolation."""
    i = base + 256 + (v >> 7)
    lo = lut[i]
    r = lo + (((lut[i + 1] - lo) * (v & 0x7F) + 64) >> 7)
    return ((r + 32768) & 0xFFFF) - 32768


def softmax_s16(out, a, b, p):
    rows, depth, mult = p[0], p[1], p[2]
    shift = p[3]
    for r in range(rows):
        base = r * depth
        end = base + depth
        mx = -32768
        for i in range(base, end):
            if a[i] > mx:
                mx = a[i]
        total = 0
        for i in range(base, end):
            d = _requant(a[i] - mx, mult, shift) + 32767
            d = 32767 if d > 32767 else (-32768 if d < -32768 else d)
            e = _lut16(b, 0, d)
            out[i] = e
            total += e
        hp1 = _count_leading_zeros32(total & 0xFFFFFFFF)
        x = (((total << (hp1 - 1)) + (1 << 13)) >> 14) - ((1 << 15) + (1 << 16))
        x = 32767 if x > 32767 else (-32768 if x < -32768 else x)
        recip = _lut16(b, 513, x)
        rs = 31 - hp1
        rnd = 1 << (rs - 1)
        for i in range(base, end):
            v = (out[i] * recip + rnd) >> rs
            out[i] = 32767 if v > 32767 else (0 if v < 0 else v)


def _sat_add(a, b):
    s = a + b
    return 2147483647 if s > 2147483647 else (-2147483648 if s < -2147483648 else s)


def _half_sum(a, b):
    """gemmlowp RoundingHalfSum for int32."""
    s = a + b
    return (s + 1) // 2 if s >= 0 else -((1 - s) // 2)


def _log_q5_of_q12(x):
    """TFLM log_x_for_x_greater_than_or_equal_to_1<5>(Q12.19 raw x >= 1.0) -> Q5.26 raw."""
    sqrt_half = 1518500250
    sqrt_sqrt_half = 1805811301
    quarter6 = 1 << 23                         # 1/4 in Q6.25
    hp1 = _count_leading_zeros32(x)
    r_a = _sat_shl(_srdhm(_sat_shl(x, hp1 - 1), sqrt_half), 1)
    za_adj = _sat_add(_sat_shl(12 - hp1, 25), quarter6)
    z_b = _srdhm(x, sqrt_half)
    hb = _count_leading_zeros32(z_b) - 1
    r_b = _sat_shl(x, hb)
    zb_adj = _sat_add(_sat_shl(12 - hb, 25), -quarter6)
    r = r_a if r_a < r_b else r_b
    z_adj = za_adj if za_adj > zb_adj else zb_adj
    pp = _half_sum(r, sqrt_sqrt_half)
    q = _wrap(r - sqrt_sqrt_half)
    q = _wrap(q + q)
    sq = _srdhm(q, q)
    num = _wrap(_srdhm(q, r) + _srdhm(_srdhm(q, sq), 117049297))
    den = _wrap(_srdhm(pp, _wrap(1057819769 + q + _srdhm(127690142, sq)))
                + _srdhm(638450708, q))
    recip = _one_over_one_plus_x_q0(den)
    total = _wrap(_srdhm(z_adj, 1488522236) + _srdhm(_rdbpot(num, 6), recip))
    return _sat_shl(total, 1)


LOG_SOFTMAX_HEADER = 7
# log_softmax_s8: p[0] rows  p[1] depth  p[2] input_multiplier  p[3] input_left_shift
# p[4] diff_min  p[5] reverse_scaling_divisor  p[6] reverse_scaling_left_shift (<= 0).
# int8 in, int8 out (scale 16/256, zero point 127). TFLM reference LogSoftmax<int8_t>.


def log_softmax_s8(out, a, b, p):
    rows, depth, mult = p[0], p[1], p[2]
    lshift, diff_min, rmult = p[3], p[4], p[5]
    rshift = p[6]
    for r in range(rows):
        base = r * depth
        mx = -128
        for i in range(base, base + depth):
            if a[i] > mx:
                mx = a[i]
        total = 0
        for i in range(base, base + depth):
            diff = a[i] - mx
            if diff >= diff_min:
                e = _exp_on_negative_values_q5(_requant(diff, mult, lshift))
                total = _wrap(total + _rdbpot(e, 12))
        log_sum = _log_q5_of_q12(total)
        adj = _requant(_wrap(log_sum - 2147483648), rmult, rshift)
        if adj < diff_min - 1:
            adj = diff_min - 1
        for i in range(base, base + depth):
            diff = a[i] - mx
            if diff > adj:
                v = _rdbpot(_wrap(_requant(diff, mult, lshift) - log_sum), 22) + 127
                out[i] = 127 if v > 127 else (-128 if v < -128 else v)
            else:
                out[i] = -128


# ---------------------------------------------------------------- float32 kernels
# Same int parameter blocks as the integer kernels (offsets/act ints unused); `b` is an
# array('f'): [act_min, act_max, bias..., weights...] as given at each kernel. Float
# results follow TFLM's summation order; on hosts with double floats the last bits may
# differ from TFLM's float32 arithmetic.


def conv_f32(out, a, b, p):
    """CONV_2D float32. p: CONV_HEADER layout (per-channel part absent).
    b: [act_min, act_max, bias[out_c], filter OHWI (out_c * k_h * k_w * in_c)]."""
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    act_min, act_max = b[0], b[1]
    w_base = 2 + out_c
    patch = _buf('patchf', 'f', K)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                w0 = w_base
                for oc in range(out_c):
                    acc = 0.0
                    for i in range(K):
                        acc += patch[i] * b[w0 + i]
                    w0 += K
                    acc += b[2 + oc]
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def depthwise_f32(out, a, b, p):
    """DEPTHWISE_CONV_2D float32. p: CONV_HEADER layout (p[19] depth multiplier).
    b: [act_min, act_max, bias[out_c], filter (k_h * k_w * out_c)]."""
    batches, in_h, in_w = p[0], p[1], p[2]
    in_c = p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    dm = p[19]
    act_min, act_max = b[0], b[1]
    w_base = 2 + out_c
    patch = _buf('patchf', 'f', taps * in_c)
    pend = taps * in_c
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, a, p, base_b, oy, ox)
                for oc in range(out_c):
                    acc = 0.0
                    j = w_base + oc
                    for i in range(oc // dm, pend, in_c):
                        acc += patch[i] * b[j]
                        j += out_c
                    acc += b[2 + oc]
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def fully_connected_f32(out, a, b, p):
    """FULLY_CONNECTED float32. p: FC_HEADER layout (only p[0..2] used).
    b: [act_min, act_max, bias[out_depth], weights (out_depth * in_depth)]."""
    batches, depth, out_d = p[0], p[1], p[2]
    act_min, act_max = b[0], b[1]
    w_base = 2 + out_d
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        w0 = w_base
        for oc in range(out_d):
            acc = 0.0
            for i in range(depth):
                acc += a[a0 + i] * b[w0 + i]
            w0 += depth
            acc += b[2 + oc]
            out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
            o += 1


def avgpool_f32(out, a, b, p):
    """AVERAGE_POOL_2D float32. p: POOL_HEADER layout; b: [act_min, act_max]."""
    batches, in_h, in_w = p[0], p[1], p[2]
    ch, out_h, out_w = p[3], p[4], p[5]
    act_min, act_max = b[0], b[1]
    win = _buf('win', 'i', 4)
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                _pool_window(win, p, oy, ox)
                count = (win[1] - win[0]) * (win[3] - win[2])
                if count <= 0:
                    raise ValueError('average pool window outside the input')
                for c in range(ch):
                    acc = _window_sum(a, base, in_w, ch, win, c) / count
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def maxpool_f32(out, a, b, p):
    """MAX_POOL_2D float32. p: POOL_HEADER layout; b: [act_min, act_max]."""
    batches, in_h, in_w = p[0], p[1], p[2]
    ch, out_h, out_w = p[3], p[4], p[5]
    act_min, act_max = b[0], b[1]
    win = _buf('win', 'i', 4)
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                _pool_window(win, p, oy, ox)
                for c in range(ch):
                    mx = _window_max(a, base, in_w, ch, win, c, -3.4028234663852886e38)
                    out[o] = act_min if mx < act_min else (act_max if mx > act_max else mx)
                    o += 1


def softmax_f32(out, a, b, p):
    """SOFTMAX float32. p: [rows, depth]; b: [beta]."""
    rows, depth = p[0], p[1]
    beta = b[0]
    for r in range(rows):
        base = r * depth
        mx = a[base]
        for i in range(base, base + depth):
            if a[i] > mx:
                mx = a[i]
        total = 0.0
        for i in range(base, base + depth):
            e = _exp((a[i] - mx) * beta)
            out[i] = e
            total += e
        for i in range(base, base + depth):
            out[i] = out[i] / total


def log_softmax_f32(out, a, b, p):
    """LOG_SOFTMAX float32. p: [rows, depth]; b unused."""
    rows, depth = p[0], p[1]
    for r in range(rows):
        base = r * depth
        mx = a[base]
        for i in range(base, base + depth):
            if a[i] > mx:
                mx = a[i]
        total = 0.0
        for i in range(base, base + depth):
            total += _exp(a[i] - mx)
        lg = _log(total)
        for i in range(base, base + depth):
            out[i] = a[i] - mx - lg
