"""Pure-Python reference kernels: the semantics every other backend copies bit for bit.

Every kernel is kernel(out, a, b, p): `out`/`a` typed buffers of the output/input
tensor (int8 tensors index as signed values), `b` the weights (raw int8 bytes in any
buffer; float kernels take an array('f')), `p` an array('i') parameter block laid out
as documented at each kernel. Offsets follow TFLM: in_offset = -input_zero_point,
out_offset = output_zero_point.

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

_scratch = {}


def _buf(name, typecode, n):
    """Module-level scratch (array, view, byte_view) with at least n items; grows, never
    shrinks. Slice-assign into `view` from a same-typed buffer, into `byte_view` from raw
    bytes (weights): CPython's memoryview needs matching formats, MicroPython copies bytes."""
    entry = _scratch.get(name)
    if entry is None or len(entry[0]) < n:
        buf = array(typecode, bytes(n) if typecode in 'bB' else [0] * n)
        view = memoryview(buf)
        try:
            raw = view.cast('B')
        except AttributeError:
            raw = view
        entry = (buf, view, raw)
        _scratch[name] = entry
    return entry


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


def _fill_patch(patch, patch_v, a, p, base_b, oy, ox):
    """im2col one output pixel: patch[(ky*k_w + kx)*in_c + c] = input tap, or the input
    zero point (-in_offset) for taps outside the image."""
    in_h, in_w, in_c = p[1], p[2], p[3]
    k_h, k_w = p[7], p[8]
    dil_h, dil_w = p[11], p[12]
    zp = -p[15]
    iy0 = oy * p[9] - p[13]
    ix0 = ox * p[10] - p[14]
    row = k_w * in_c
    for ky in range(k_h):
        iy = iy0 + ky * dil_h
        d = ky * row
        if iy < 0 or iy >= in_h:
            for i in range(d, d + row):
                patch[i] = zp
            continue
        src = base_b + iy * in_w * in_c
        if dil_w == 1 and ix0 >= 0 and ix0 + k_w <= in_w:
            s = src + ix0 * in_c
            patch_v[d:d + row] = a[s:s + row]
            continue
        for kx in range(k_w):
            ix = ix0 + kx * dil_w
            if ix < 0 or ix >= in_w:
                for i in range(d, d + in_c):
                    patch[i] = zp
            else:
                s = src + ix * in_c
                patch_v[d:d + in_c] = a[s:s + in_c]
            d += in_c


def _fill_patch_items(patch, a, p, base_b, oy, ox):
    """_fill_patch for views without slicing (uctypes float views on MicroPython)."""
    in_h, in_w, in_c = p[1], p[2], p[3]
    k_h, k_w = p[7], p[8]
    iy0 = oy * p[9] - p[13]
    ix0 = ox * p[10] - p[14]
    zp = -p[15]
    d = 0
    for ky in range(k_h):
        iy = iy0 + ky * p[11]
        for kx in range(k_w):
            ix = ix0 + kx * p[12]
            if iy < 0 or iy >= in_h or ix < 0 or ix >= in_w:
                for i in range(d, d + in_c):
                    patch[i] = zp
            else:
                s = base_b + (iy * in_w + ix) * in_c - d
                for i in range(d, d + in_c):
                    patch[i] = a[s + i]
            d += in_c


def conv_s8(out, a, b, p):
    """CONV_2D int8 x int8 -> int8, NHWC input, OHWI filter (b), per-channel requant.
    Parameter block: CONV_HEADER layout above."""
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    out_off, act_min, act_max = p[16], p[17], p[18]
    nb = CONV_HEADER
    nm = nb + out_c
    ns = nm + out_c
    patch, patch_v, _ = _buf('patch', 'b', K)
    wrow, _, wrow_raw = _buf('wrow', 'b', K)
    beff = _buf('beff', 'i', out_c)[0]
    in_off = p[15]
    w0 = 0
    for oc in range(out_c):
        wrow_raw[0:K] = b[w0:w0 + K]
        w0 += K
        s = 0
        for i in range(K):
            s += wrow[i]
        beff[oc] = p[nb + oc] + in_off * s
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, patch_v, a, p, base_b, oy, ox)
                w0 = 0
                for oc in range(out_c):
                    wrow_raw[0:K] = b[w0:w0 + K]
                    w0 += K
                    acc = beff[oc]
                    for i in range(K):
                        acc += patch[i] * wrow[i]
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
                    if acc < act_min:
                        acc = act_min
                    elif acc > act_max:
                        acc = act_max
                    out[o] = acc
                    o += 1


def depthwise_s8(out, a, b, p):
    """DEPTHWISE_CONV_2D int8 -> int8, NHWC input, filter (b) [1, k_h, k_w, out_c],
    out channel oc reads input channel oc // depth_multiplier.
    Parameter block: CONV_HEADER layout above (p[19] = depth_multiplier)."""
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    out_off, act_min, act_max, dm = p[16], p[17], p[18], p[19]
    nb = CONV_HEADER
    nm = nb + out_c
    ns = nm + out_c
    patch, patch_v, _ = _buf('patch', 'b', taps * in_c)
    nw = taps * out_c
    wf, _, wf_raw = _buf('wfilter', 'b', nw)
    wf_raw[0:nw] = b[0:nw]
    pend = taps * in_c
    beff = _buf('beff', 'i', out_c)[0]
    in_off = p[15]
    for oc in range(out_c):
        s = 0
        for j in range(oc, nw, out_c):
            s += wf[j]
        beff[oc] = p[nb + oc] + in_off * s
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch(patch, patch_v, a, p, base_b, oy, ox)
                for oc in range(out_c):
                    acc = beff[oc]
                    if dm == 1:
                        for j in range(oc, pend, in_c):
                            acc += patch[j] * wf[j]
                    else:
                        j = oc
                        for i in range(oc // dm, pend, in_c):
                            acc += patch[i] * wf[j]
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
                    if acc < act_min:
                        acc = act_min
                    elif acc > act_max:
                        acc = act_max
                    out[o] = acc
                    o += 1


# ---------------------------------------------------------------- fully connected

FC_HEADER = 7
# p[0] batches  p[1] in_depth (accumulation depth)  p[2] out_depth
# p[3] in_offset  p[4] out_offset  p[5] act_min  p[6] act_max
# p[7 : 7+out_depth]          bias[o] (int32; 0 when the op has no bias)
# p[7+out_depth : 7+2*out_depth]   multiplier[o]  (per-tensor: repeated)
# p[7+2*out_depth : 7+3*out_depth] shift[o]
# Input a: [batches, in_depth] int8; filter b: [out_depth, in_depth] int8 bytes;
# filter zero point must be 0 (TFLM int8 FC requires it).


def fully_connected_s8(out, a, b, p):
    batches, depth, out_d = p[0], p[1], p[2]
    out_off, act_min, act_max = p[4], p[5], p[6]
    nb = FC_HEADER
    nm = nb + out_d
    ns = nm + out_d
    in_off = p[3]
    x = _buf('fcx', 'h', depth)[0]
    wrow, _, wrow_raw = _buf('wrow', 'b', depth)
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        for i in range(depth):
            x[i] = a[a0 + i] + in_off
        w0 = 0
        for oc in range(out_d):
            wrow_raw[0:depth] = b[w0:w0 + depth]
            w0 += depth
            acc = p[nb + oc]
            for i in range(depth):
                acc += x[i] * wrow[i]
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
            if acc < act_min:
                acc = act_min
            elif acc > act_max:
                acc = act_max
            out[o] = acc
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


def _requant16(acc, acc64, mult, shift):
    if acc64:
        return _requant64(acc, mult, shift)
    return _requant(((acc + 0x80000000) & 0xFFFFFFFF) - 0x80000000, mult, shift)


CONV16_HEADER = 21
# conv_s16: p[0..19] as CONV_HEADER (in_offset p[15] and out_offset p[16] are 0: TFLM's
# int16 conv has no offsets), p[20] acc64, then bias_lo[out_c], bias_hi[out_c],
# multiplier[out_c], shift[out_c].


def conv_s16(out, a, b, p):
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    act_min, act_max, acc64 = p[17], p[18], p[20]
    nl = CONV16_HEADER
    nh = nl + out_c
    nm = nh + out_c
    ns = nm + out_c
    patch = _buf('patch16', 'h', K)[0]
    wrow, _, wrow_raw = _buf('wrow', 'b', K)
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch_items(patch, a, p, base_b, oy, ox)
                w0 = 0
                for oc in range(out_c):
                    wrow_raw[0:K] = b[w0:w0 + K]
                    w0 += K
                    acc = 0
                    for i in range(K):
                        acc += patch[i] * wrow[i]
                    acc += (p[nh + oc] << 32) + (p[nl + oc] & 0xFFFFFFFF)
                    acc = _requant16(acc, acc64, p[nm + oc], p[ns + oc])
                    if acc < act_min:
                        acc = act_min
                    elif acc > act_max:
                        acc = act_max
                    out[o] = acc
                    o += 1


def depthwise_s16(out, a, b, p):
    """DEPTHWISE_CONV_2D int16 x int8 -> int16: conv_s16's parameter layout (p[19] depth
    multiplier; TFLM always uses the int64 accumulator here, so p[20] = 1)."""
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    act_min, act_max, dm, acc64 = p[17], p[18], p[19], p[20]
    nl = CONV16_HEADER
    nh = nl + out_c
    nm = nh + out_c
    ns = nm + out_c
    pend = taps * in_c
    patch = _buf('patch16', 'h', pend)[0]
    nw = taps * out_c
    wf, _, wf_raw = _buf('wfilter', 'b', nw)
    wf_raw[0:nw] = b[0:nw]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch_items(patch, a, p, base_b, oy, ox)
                for oc in range(out_c):
                    acc = 0
                    j = oc
                    for i in range(oc // dm, pend, in_c):
                        acc += patch[i] * wf[j]
                        j += out_c
                    acc += (p[nh + oc] << 32) + (p[nl + oc] & 0xFFFFFFFF)
                    acc = _requant16(acc, acc64, p[nm + oc], p[ns + oc])
                    if acc < act_min:
                        acc = act_min
                    elif acc > act_max:
                        acc = act_max
                    out[o] = acc
                    o += 1


FC16_HEADER = 8
# fully_connected_s16: p[0..6] as FC_HEADER (offsets applied as in TFLM), p[7] acc64,
# then bias_lo[out_d], bias_hi[out_d], multiplier[out_d], shift[out_d].


def fully_connected_s16(out, a, b, p):
    batches, depth, out_d = p[0], p[1], p[2]
    in_off, out_off, act_min, act_max, acc64 = p[3], p[4], p[5], p[6], p[7]
    nl = FC16_HEADER
    nh = nl + out_d
    nm = nh + out_d
    ns = nm + out_d
    x = _buf('fcx32', 'i', depth)[0]
    wrow, _, wrow_raw = _buf('wrow', 'b', depth)
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        for i in range(depth):
            x[i] = a[a0 + i] + in_off
        w0 = 0
        for oc in range(out_d):
            wrow_raw[0:depth] = b[w0:w0 + depth]
            w0 += depth
            acc = 0
            for i in range(depth):
                acc += x[i] * wrow[i]
            acc += (p[nh + oc] << 32) + (p[nl + oc] & 0xFFFFFFFF)
            acc = _requant16(acc, acc64, p[nm + oc], p[ns + oc]) + out_off
            if acc < act_min:
                acc = act_min
            elif acc > act_max:
                acc = act_max
            out[o] = acc
            o += 1


# ---------------------------------------------------------------- pooling

POOL_HEADER = 14
# p[0] batches  p[1] in_h  p[2] in_w  p[3] channels  p[4] out_h  p[5] out_w
# p[6] k_h  p[7] k_w  p[8] stride_h  p[9] stride_w  p[10] pad_top  p[11] pad_left
# p[12] act_min  p[13] act_max   (integer kernels; the float kernels take them from b)
# The window is clipped to the image (TFLM semantics); out/a may be int8 or int16 views.


def _pool_window(p, oy, ox):
    iy0 = oy * p[8] - p[10]
    ix0 = ox * p[9] - p[11]
    y0 = 0 if iy0 > 0 else -iy0
    x0 = 0 if ix0 > 0 else -ix0
    y1 = p[6] if p[6] < p[1] - iy0 else p[1] - iy0
    x1 = p[7] if p[7] < p[2] - ix0 else p[2] - ix0
    return iy0 + y0, iy0 + y1, ix0 + x0, ix0 + x1


def avgpool_s8(out, a, b, p):
    """AVERAGE_POOL_2D integer: rounded (half away from zero) mean of the clipped window,
    clamped to [act_min, act_max]; input and output share scale/zero point."""
    batches, in_h, in_w, ch, out_h, out_w = p[0], p[1], p[2], p[3], p[4], p[5]
    act_min, act_max = p[12], p[13]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                ya, yb, xa, xb = _pool_window(p, oy, ox)
                count = (yb - ya) * (xb - xa)
                if count <= 0:
                    raise ValueError('average pool window outside the input')
                half = count >> 1
                for c in range(ch):
                    acc = 0
                    for iy in range(ya, yb):
                        r = base_b + (iy * in_w) * ch + c
                        for j in range(r + xa * ch, r + xb * ch, ch):
                            acc += a[j]
                    if acc > 0:
                        acc = (acc + half) // count
                    else:
                        acc = -((half - acc) // count)
                    if acc < act_min:
                        acc = act_min
                    elif acc > act_max:
                        acc = act_max
                    out[o] = acc
                    o += 1


def maxpool_s8(out, a, b, p):
    """MAX_POOL_2D integer: max of the clipped window, clamped to [act_min, act_max]."""
    batches, in_h, in_w, ch, out_h, out_w = p[0], p[1], p[2], p[3], p[4], p[5]
    act_min, act_max = p[12], p[13]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                ya, yb, xa, xb = _pool_window(p, oy, ox)
                for c in range(ch):
                    mx = act_min
                    for iy in range(ya, yb):
                        r = base_b + (iy * in_w) * ch + c
                        for j in range(r + xa * ch, r + xb * ch, ch):
                            v = a[j]
                            if v > mx:
                                mx = v
                    out[o] = mx if mx < act_max else act_max
                    o += 1


# ---------------------------------------------------------------- softmax

SOFTMAX_HEADER = 6
# p[0] rows (outer size)  p[1] depth (last dim)  p[2] input_multiplier
# p[3] input_left_shift   p[4] diff_min          p[5] output bits (8: int8 out, zp -128;
# 16: int16 out, zp -32768). Input int8. TFLM reference Softmax<int8_t, OutputT>.

_EXP_BARREL = ((1 << 24, 1672461947), (1 << 25, 1302514674), (1 << 26, 790015084),
               (1 << 27, 290630308), (1 << 28, 39332535), (1 << 29, 720401),
               (1 << 30, 242))


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
    for bit, mult in _EXP_BARREL:
        if remainder & bit:
            result = _srdhm(result, mult)
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
    rows, depth, mult, lshift, diff_min, bits = p[0], p[1], p[2], p[3], p[4], p[5]
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
    rows, depth, mult, shift = p[0], p[1], p[2], p[3]
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
    rows, depth, mult, lshift, diff_min, rmult, rshift = p[0], p[1], p[2], p[3], p[4], p[5], p[6]
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
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    K = p[7] * p[8] * in_c
    act_min, act_max = b[0], b[1]
    w_base = 2 + out_c
    patch = _buf('patchf', 'f', K)[0]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch_items(patch, a, p, base_b, oy, ox)
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
    batches, in_h, in_w, in_c = p[0], p[1], p[2], p[3]
    out_h, out_w, out_c = p[4], p[5], p[6]
    taps = p[7] * p[8]
    dm = p[19]
    act_min, act_max = b[0], b[1]
    w_base = 2 + out_c
    patch = _buf('patchf', 'f', taps * in_c)[0]
    pend = taps * in_c
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            for ox in range(out_w):
                _fill_patch_items(patch, a, p, base_b, oy, ox)
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
    batches, in_h, in_w, ch, out_h, out_w = p[0], p[1], p[2], p[3], p[4], p[5]
    act_min, act_max = b[0], b[1]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                ya, yb, xa, xb = _pool_window(p, oy, ox)
                count = (yb - ya) * (xb - xa)
                if count <= 0:
                    raise ValueError('average pool window outside the input')
                for c in range(ch):
                    acc = 0.0
                    for iy in range(ya, yb):
                        r = base_b + (iy * in_w) * ch + c
                        for j in range(r + xa * ch, r + xb * ch, ch):
                            acc += a[j]
                    acc = acc / count
                    out[o] = act_min if acc < act_min else (act_max if acc > act_max else acc)
                    o += 1


def maxpool_f32(out, a, b, p):
    """MAX_POOL_2D float32. p: POOL_HEADER layout; b: [act_min, act_max]."""
    batches, in_h, in_w, ch, out_h, out_w = p[0], p[1], p[2], p[3], p[4], p[5]
    act_min, act_max = b[0], b[1]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * ch
        for oy in range(out_h):
            for ox in range(out_w):
                ya, yb, xa, xb = _pool_window(p, oy, ox)
                for c in range(ch):
                    mx = -3.4028234663852886e38
                    for iy in range(ya, yb):
                        r = base_b + (iy * in_w) * ch + c
                        for j in range(r + xa * ch, r + xb * ch, ch):
                            v = a[j]
                            if v > mx:
                                mx = v
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


# int16 pooling: the same loops on int16 views (separate names for the native ports)
avgpool_s16 = avgpool_s8
maxpool_s16 = maxpool_s8
