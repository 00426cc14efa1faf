"""@micropython.viper twins of the hot kernels of kernels/python.py and python_eltwise.py: same
signatures, parameter blocks and output bytes (MicroPython only; kernels/__init__.py imports this
module only when compat.HAS_VIPER). Kernels not defined here fall back to the python ones.

    conv_s8, depthwise_s8, fully_connected_s8, avgpool_s8, maxpool_s8,
    add_int8, mul_int8, lut_int8
    + kernels/viper_rnn.py: lstm_gate_fc, lstm_cell_update, lstm_hidden_update, rnn_copy,
      svdf_feature, svdf_time
    + kernels/viper_softmax.py: softmax_s8
    + kernels/viper_copy.py: copy_strided

Word size: viper ints are machine words (32 bits on armv6m/armv7m/xtensawin, 64 on the unix
port). Everything here is exact on both:
  * ptr8/ptr16/ptr32 loads are zero-extended: int8 values are sign-extended by hand
    ((v ^ 0x80) - 0x80), int32 values with (v << _SX) >> _SX (_SX = 32 on 64-bit, 0 on 32-bit);
  * TFLM's SaturatingRoundingDoublingHighMul(x, mult) is built from 15-bit limbs of |x| and
    mult (every partial sum stays below 2**31) on 32-bit words (_LIMBS), with one multiply on
    64-bit words, see _requant_store; tests/test_viper.py runs both paths on the unix port
    and replays the limb arithmetic with 32-bit wraparound in CPython;
  * no literal above 2**30 - 1 (a 32-bit port's small-int limit): 2**30 is computed at run time;
  * the int32 wraparound of the requantization's left shift is done explicitly.
The int32 accumulators may wrap on 32-bit words mid-sum; the final sum is exact modulo 2**32,
as in C.

Speed: conv builds an im2col patch of input bytes offset to unsigned (u = v + 128, the input
zero point + 128 for out-of-image taps) and folds the offsets into one constant per output
channel computed once per invoke, so the inner loop is one multiply-add per tap:
acc = bias + (in_offset - 128) * sum(w) - 128 * sum(u) + sum(u * (w + 128)), two output
channels per pass. Depthwise accumulates in TFLM's tap order (3x3 interior pixels: nine taps
at fixed offsets). Accumulators of up to _ACC outputs are requantized per call. The loops
walk byte addresses (ptr8(addr)[const]): viper keeps only the first few locals in registers.
Scratch lives in module-level arrays (grown on demand; no heap use per call once sized).
"""
from array import array

import micropython



@micropython.viper
def _word_bits() -> int:
    """Bits of a viper int on this port (64 or 32): 1 << 31 is negative on 32-bit words."""
    x = 1
    x = x << 31
    if x > 0:
        return 64
    return 32


_SX = _word_bits() - 32                 # sign-extension shift for int32 loaded by ptr32
# 1: build the requantization product from 15-bit limbs (required on 32-bit words; tests set
# it on the unix port to run that code path too); 0: one 64-bit multiply
_LIMBS = 0 if _SX else 1

_scratch = {}


def _buf(name, typecode, n):
    """A module-level scratch array of at least n items (grows, never shrinks)."""
    buf = _scratch.get(name)
    if buf is None or len(buf) < n:
        buf = array(typecode, bytes(n) if typecode in 'bB' else [0] * n)
        _scratch[name] = buf
    return buf


# The scalar helpers below (used by tests/test_backends.py) give the same results as
# _requant_store, one value per call.

# low-32-bit mask as a machine word: -1 (all ones) on 32-bit ports
_MASK32 = 0xFFFFFFFF if _SX else -1


@micropython.viper
def _srdhm(a: int, m: int) -> int:
    """SaturatingRoundingDoublingHighMul(a, m) for int32 a and 0 <= m < 2**31:
    floor((a*m + 2**30) / 2**31), from 16-bit partial products."""
    neg = a < 0
    ua = uint(0) - uint(a) if neg else uint(a)
    uh = int(ua >> 16)
    ul = int(ua & 0xFFFF)
    mh = m >> 16
    ml = m & 0xFFFF
    cc = uint(ul) * uint(ml)
    c_hi = 0x3FFF if neg else 0x4000           # nudge 2**30 - 1 (negative) or 2**30
    c_lo = 0xFFFF if neg else 0
    low = int(cc & 0xFFFF) + c_lo
    b1 = uh * ml
    b2 = ul * mh
    mid = (b1 & 0xFFFF) + (b2 & 0xFFFF) + int(cc >> 16) + c_hi + (low >> 16)
    hi = uh * mh + (b1 >> 16) + (b2 >> 16) + (mid >> 16)
    q = hi * 2 + ((mid & 0xFFFF) >> 15)
    return 0 - q if neg else q


@micropython.viper
def _requant(acc: int, m: int, s: int, mask32: int) -> int:
    """TFLM MultiplyByQuantizedMultiplier (double rounding), acc wraps to int32 first."""
    sign = int(1) << 31
    if s > 0:
        acc = ((int(uint(acc) << s) & mask32) ^ sign) - sign
    else:
        acc = ((acc & mask32) ^ sign) - sign
    x = int(_srdhm(acc, m))
    if s < 0:
        e = 0 - s
        mask = (int(1) << e) - 1
        thr = (mask >> 1) + (1 if x < 0 else 0)
        x = (x >> e) + (1 if (x & mask) > thr else 0)
    return x


@micropython.viper
def _param(pp: ptr32, i: int) -> int:
    sign = int(1) << 31
    return ((pp[i] & int(_MASK32)) ^ sign) - sign


# ---------------------------------------------------------------- requantize + store a row

# ctl block of _requant_store (array('i')):
# [0] o (first output index)  [1] n  [2] index of multiplier 0 in p  [3] index of shift 0 in p
# [4] out_offset  [5] act_min  [6] act_max  [7] period: element k uses multiplier/shift
#     number k % period (out_c for per-channel rows of several pixels, 1 for one multiplier)
_CTL = array('i', [0] * 8)
_ACC = 256                      # conv/depthwise requantize up to this many accumulators per call
_POS = array('i', [0])          # fully_connected_s8: first input index of the batch


@micropython.viper
def _requant_store(out, acc, p, ctl):
    """out[o + k] = clamp(MultiplyByQuantizedMultiplier(acc[k], p[nm + k*st], p[ns + k*st])
    + out_offset) for k < n: TFLM double rounding, exact on 32- and 64-bit words."""
    op = ptr8(out)
    ap = ptr32(acc)
    pp = ptr32(p)
    cp = ptr32(ctl)
    sx = int(_SX)
    o = cp[0]
    n = cp[1]
    nm = cp[2]
    ns = cp[3]
    out_off = (cp[4] << sx) >> sx
    lo = (cp[5] << sx) >> sx
    hi = (cp[6] << sx) >> sx
    per = cp[7]
    hi_off = hi - out_off
    lo_off = lo - out_off
    limbs = int(_LIMBS)
    one = 1
    half = one << 30
    j = 0
    for k in range(n):
        x = (ap[k] << sx) >> sx
        sh = (pp[ns + j] << sx) >> sx
        mult = pp[nm + j]
        j += 1
        if j == per:
            j = 0
        if sh > 0:                         # x << sh, wrapped to int32
            x = x << sh
            x = ((((x >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16 | (x & 0xFFFF)
        if limbs:
            # SRDHM: (|x| * mult + nudge) >> 31 from 15-bit limbs, then the sign
            if x < 0:
                m = 0 - x
                nudge = half - 1
            else:
                m = x
                nudge = half
            a0 = m & 0x7FFF
            a1 = (m >> 15) & 0x7FFF
            a2 = (m >> 30) & 3
            b0 = mult & 0x7FFF
            b1 = (mult >> 15) & 0x7FFF
            b2 = (mult >> 30) & 1
            t = a0 * b0 + nudge
            t = a0 * b1 + a1 * b0 + (t >> 15)
            t = a0 * b2 + a1 * b1 + a2 * b0 + (t >> 15)
            r = (t >> 1) + ((a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
            if x < 0:
                r = 0 - r
        else:
            # 64-bit words: the product fits (|x * mult| < 2**62), and TFLM's
            # (ab + (ab >= 0 ? 2**30 : 1 - 2**30)) / 2**31 (truncating) equals
            # floor((ab + 2**30) / 2**31) for both signs
            r = (x * mult + half) >> 31
        if sh < 0:                         # rounding divide by 2**-sh
            rs = 0 - sh
            mask = (one << rs) - 1
            rem = r & mask
            r = r >> rs
            thr = mask >> 1
            if r < 0:
                thr += 1
            if rem > thr:
                r += 1
        if r > hi_off:                     # clamp(r + out_off): compare first, so the
            r = hi                         # sum cannot overflow a 32-bit word
        elif r < lo_off:
            r = lo
        else:
            r += out_off
        op[o + k] = r


@micropython.viper
def _set_ctl(ctl, o, n, nm):
    """ctl[0:4] = o, n, nm, nm + n, ctl[7] = n: a per-channel row (shifts follow the
    multipliers)."""
    cp = ptr32(ctl)
    cp[0] = int(o)
    cp[1] = int(n)
    cp[2] = int(nm)
    cp[3] = int(nm) + int(n)
    cp[7] = int(n)


@micropython.viper
def _set_out(ctl, p, i):
    """ctl[4:7] = p[i], p[i+1], p[i+2] (out_offset, act_min, act_max)."""
    cp = ptr32(ctl)
    pp = ptr32(p)
    k = int(i)
    cp[4] = pp[k]
    cp[5] = pp[k + 1]
    cp[6] = pp[k + 2]


# ---------------------------------------------------------------- conv / depthwise

@micropython.viper
def _beff(beff, b, p, mode):
    """beff[oc] = bias[oc] + (in_offset - 128) * sum(filter oc); mode 0: conv rows of K
    weights, mode 1: depthwise layout (taps weights at stride out_c; unused now)."""
    ep = ptr32(beff)
    wp = ptr8(b)
    pp = ptr32(p)
    sx = int(_SX)
    out_c = pp[6]
    taps = pp[7] * pp[8]
    k = taps * pp[3]
    c = ((pp[15] << sx) >> sx) - 128
    dw = int(mode)
    j = 0
    for oc in range(out_c):
        s = 0
        if dw:
            j = oc
            for _ in range(taps):
                s += (wp[j] ^ 0x80) - 0x80
                j += out_c
        else:
            for _ in range(k):
                s += (wp[j] ^ 0x80) - 0x80
                j += 1
        ep[oc] = ((pp[20 + oc] << sx) >> sx) + c * s


@micropython.viper
def _conv_run(out, a, b, p):
    """conv_s8 body: per output pixel, im2col into the 'patch' scratch as unsigned bytes
    u = v + 128 (input zero point + 128 for out-of-image taps), then two output channels at a
    time acc = beff[oc] - 128 * sum(u) + sum(u * (w + 128)), then _requant_store."""
    op = ptr8(out)
    ap = ptr8(a)
    wp = ptr8(b)
    pp = ptr32(p)
    patch = _scratch['patch']
    pt = ptr8(patch)
    ep = ptr32(_scratch['beff'])
    acc = _scratch['acc']
    cp = ptr32(acc)
    ctl = _CTL
    ctp = ptr32(ctl)
    sx = int(_SX)
    batches = pp[0]
    in_h = pp[1]
    in_w = pp[2]
    in_c = pp[3]
    out_h = pp[4]
    out_w = pp[5]
    out_c = pp[6]
    k_h = pp[7]
    k_w = pp[8]
    s_h = pp[9]
    s_w = pp[10]
    dil_h = pp[11]
    dil_w = pp[12]
    pad_t = (pp[13] << sx) >> sx
    pad_l = (pp[14] << sx) >> sx
    zu = (128 - ((pp[15] << sx) >> sx)) & 0xFF
    row = k_w * in_c
    k = k_h * row
    k4 = k & (0 - 4)
    o = 0
    q = 0                                  # buffered accumulators
    qmax = int(len(acc)) - out_c + 1
    for bt in range(batches):
        base = bt * in_h * in_w * in_c
        for oy in range(out_h):
            iy0 = oy * s_h - pad_t
            for ox in range(out_w):
                ix0 = ox * s_w - pad_l
                # ---- im2col
                d = 0
                for ky in range(k_h):
                    iy = iy0 + ky * dil_h
                    if iy < 0 or iy >= in_h:
                        for i in range(d, d + row):
                            pt[i] = zu
                        d += row
                        continue
                    src = base + iy * in_w * in_c
                    if dil_w == 1 and ix0 >= 0 and ix0 + k_w <= in_w:
                        s = src + ix0 * in_c - d
                        for i in range(d, d + row):
                            pt[i] = ap[s + i] ^ 0x80
                        d += row
                        continue
                    for kx in range(k_w):
                        ix = ix0 + kx * dil_w
                        if ix < 0 or ix >= in_w:
                            for i in range(d, d + in_c):
                                pt[i] = zu
                        else:
                            s = src + ix * in_c - d
                            for i in range(d, d + in_c):
                                pt[i] = ap[s + i] ^ 0x80
                        d += in_c
                su = 0
                for i in range(k):
                    su += pt[i]
                su = su << 7
                # ---- dot products, two output channels per pass (walking addresses)
                oc = 0
                wa = uint(wp)
                pend = uint(pt) + uint(k4)
                while oc + 1 < out_c:
                    s0 = 0
                    s1 = 0
                    u = uint(pt)
                    wb = wa + uint(k)
                    while u < pend:
                        x = ptr8(u)[0]
                        s0 += x * (ptr8(wa)[0] ^ 0x80)
                        s1 += x * (ptr8(wb)[0] ^ 0x80)
                        x = ptr8(u)[1]
                        s0 += x * (ptr8(wa)[1] ^ 0x80)
                        s1 += x * (ptr8(wb)[1] ^ 0x80)
                        x = ptr8(u)[2]
                        s0 += x * (ptr8(wa)[2] ^ 0x80)
                        s1 += x * (ptr8(wb)[2] ^ 0x80)
                        x = ptr8(u)[3]
                        s0 += x * (ptr8(wa)[3] ^ 0x80)
                        s1 += x * (ptr8(wb)[3] ^ 0x80)
                        u += 4
                        wa += 4
                        wb += 4
                    for i in range(k4, k):
                        x = pt[i]
                        s0 += x * (ptr8(wa)[0] ^ 0x80)
                        s1 += x * (ptr8(wb)[0] ^ 0x80)
                        wa += 1
                        wb += 1
                    cp[q + oc] = ep[oc] + s0 - su
                    cp[q + oc + 1] = ep[oc + 1] + s1 - su
                    oc += 2
                    wa = wb
                if oc < out_c:
                    s0 = 0
                    for i in range(k):
                        s0 += pt[i] * (ptr8(wa)[0] ^ 0x80)
                        wa += 1
                    cp[q + oc] = ep[oc] + s0 - su
                q += out_c
                if q >= qmax:                  # requantize the buffered pixels
                    ctp[0] = o
                    ctp[1] = q
                    _requant_store(out, acc, p, ctl)
                    o += q
                    q = 0
    if q:
        ctp[0] = o
        ctp[1] = q
        _requant_store(out, acc, p, ctl)


@micropython.viper
def _dw_run(out, a, b, p):
    """depthwise_s8 body (TFLM order): per output pixel acc[oc] = bias[oc] + sum over
    in-image taps of (x + in_offset) * w, accumulated in the 'acc' scratch modulo 2**32
    (sign-extended by _requant_store), then _requant_store."""
    ap = ptr8(a)
    wp = ptr8(b)
    pp = ptr32(p)
    acc = _scratch['acc']
    cp = ptr32(acc)
    ctl = _CTL
    ctp = ptr32(ctl)
    sx = int(_SX)
    batches = pp[0]
    in_h = pp[1]
    in_w = pp[2]
    in_c = pp[3]
    out_h = pp[4]
    out_w = pp[5]
    out_c = pp[6]
    k_h = pp[7]
    k_w = pp[8]
    s_h = pp[9]
    s_w = pp[10]
    dil_h = pp[11]
    dil_w = pp[12]
    pad_t = (pp[13] << sx) >> sx
    pad_l = (pp[14] << sx) >> sx
    c = ((pp[15] << sx) >> sx) - 128          # u + c = x + in_offset, u = x + 128
    dm = pp[19]
    o = 0
    q = 0                                  # buffered accumulators
    qmax = int(len(acc)) - out_c + 1
    fast = 1 if dm == 1 and k_h == 3 and k_w == 3 else 0
    dy2 = 2 * dil_h                        # last tap row / column offsets (image bounds)
    dx2 = 2 * dil_w
    ox1 = uint(dil_w * in_c)               # tap address offsets from the top-left tap
    ox2 = ox1 + ox1
    oy1 = uint(dil_h * in_w * in_c)
    oy2 = oy1 + oy1
    w1 = uint(out_c)                       # weight offsets of taps 1..8
    w2 = w1 + w1
    w3 = w2 + w1
    w4 = w3 + w1
    w5 = w4 + w1
    w6 = w5 + w1
    w7 = w6 + w1
    w8 = w7 + w1
    for bt in range(batches):
        base = bt * in_h * in_w * in_c
        for oy in range(out_h):
            iy0 = oy * s_h - pad_t
            for ox in range(out_w):
                ix0 = ox * s_w - pad_l
                if fast and iy0 >= 0 and iy0 + dy2 < in_h and ix0 >= 0 and ix0 + dx2 < in_w:
                    # 3x3, depth multiplier 1, all taps in the image: one channel at a time,
                    # the nine taps at fixed address offsets
                    xa = uint(ap) + uint(base + (iy0 * in_w + ix0) * in_c)
                    wa = uint(wp)
                    qa = uint(cp) + uint(q << 2)
                    qe = qa + uint(out_c << 2)
                    ba = uint(pp) + 80             # &p[20]: bias[0]
                    while qa < qe:
                        s = int(ptr32(ba)[0])
                        ba += 4
                        s += ((ptr8(xa)[0] ^ 0x80) + c) * ((ptr8(wa)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + ox1)[0] ^ 0x80) + c) * ((ptr8(wa + w1)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + ox2)[0] ^ 0x80) + c) * ((ptr8(wa + w2)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy1)[0] ^ 0x80) + c) * ((ptr8(wa + w3)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy1 + ox1)[0] ^ 0x80) + c) * \
                            ((ptr8(wa + w4)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy1 + ox2)[0] ^ 0x80) + c) * \
                            ((ptr8(wa + w5)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy2)[0] ^ 0x80) + c) * ((ptr8(wa + w6)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy2 + ox1)[0] ^ 0x80) + c) * \
                            ((ptr8(wa + w7)[0] ^ 0x80) - 0x80)
                        s += ((ptr8(xa + oy2 + ox2)[0] ^ 0x80) + c) * \
                            ((ptr8(wa + w8)[0] ^ 0x80) - 0x80)
                        ptr32(qa)[0] = s
                        xa += 1
                        wa += 1
                        qa += 4
                    q += out_c
                    if q >= qmax:
                        ctp[0] = o
                        ctp[1] = q
                        _requant_store(out, acc, p, ctl)
                        o += q
                        q = 0
                    continue
                for oc in range(out_c):
                    cp[q + oc] = pp[20 + oc]
                for ky in range(k_h):
                    iy = iy0 + ky * dil_h
                    if iy < 0 or iy >= in_h:
                        continue
                    for kx in range(k_w):
                        ix = ix0 + kx * dil_w
                        if ix < 0 or ix >= in_w:
                            continue
                        src = base + (iy * in_w + ix) * in_c
                        w = (ky * k_w + kx) * out_c
                        if dm == 1:
                            xa = uint(ap) + uint(src)
                            wa = uint(wp) + uint(w)
                            qa = uint(cp) + uint(q << 2)
                            qe = qa + uint(out_c << 2)
                            while qa < qe:
                                ptr32(qa)[0] = ptr32(qa)[0] + ((ptr8(xa)[0] ^ 0x80) + c) * \
                                    ((ptr8(wa)[0] ^ 0x80) - 0x80)
                                xa += 1
                                wa += 1
                                qa += 4
                        else:
                            ic = src
                            r = 0
                            for oc in range(out_c):
                                cp[q + oc] = cp[q + oc] + ((ap[ic] ^ 0x80) + c) * \
                                    ((wp[w + oc] ^ 0x80) - 0x80)
                                r += 1
                                if r == dm:
                                    r = 0
                                    ic += 1
                q += out_c
                if q >= qmax:                  # requantize the buffered pixels
                    ctp[0] = o
                    ctp[1] = q
                    _requant_store(out, acc, p, ctl)
                    o += q
                    q = 0
    if q:
        ctp[0] = o
        ctp[1] = q
        _requant_store(out, acc, p, ctl)


def conv_s8(out, a, b, p):
    """CONV_2D int8 (kernels/python.py CONV_HEADER layout)."""
    out_c = p[6]
    _buf('patch', 'B', p[7] * p[8] * p[3])
    _beff(_buf('beff', 'i', out_c), b, p, 0)
    _buf('acc', 'i', out_c if out_c > _ACC else _ACC)
    _set_out(_CTL, p, 16)
    _set_ctl(_CTL, 0, out_c, 20 + out_c)
    _conv_run(out, a, b, p)


@micropython.viper
def _transpose(dst, src, rows: int, cols: int):
    """dst[c * rows + r] = src[r * cols + c] (bytes)."""
    d = ptr8(dst)
    s = ptr8(src)
    for r in range(rows):
        for c in range(cols):
            d[c * rows + r] = s[r * cols + c]


def depthwise_s8(out, a, b, p):
    """DEPTHWISE_CONV_2D int8 (kernels/python.py CONV_HEADER layout). One input channel with
    a depth multiplier > 1 (the first layer of micro_speech and person_detect) runs as the
    conv of the transposed filter, as in native_modules/src/depthwise.c: conv_s8's loop over
    output channels beats _dw_run's there (2.5x on micro_speech's)."""
    out_c = p[6]
    taps = p[7] * p[8]
    if p[3] == 1 and out_c > 1:
        wt = _buf('wt', 'b', taps * out_c)
        _transpose(wt, b, taps, out_c)
        conv_s8(out, a, wt, p)
        return
    _buf('acc', 'i', out_c if out_c > _ACC else _ACC)
    _set_out(_CTL, p, 16)
    _set_ctl(_CTL, 0, out_c, 20 + out_c)
    _dw_run(out, a, b, p)


# ---------------------------------------------------------------- fully connected

@micropython.viper
def _fc_dots(acc, a, b, p):
    """acc[oc] = bias[oc] + sum_i (a[a0 + i] + in_offset) * w[oc][i] for batch acc[-]...;
    the batch's first input index is _POS[0]."""
    cp = ptr32(acc)
    ap = ptr8(a)
    wp = ptr8(b)
    pp = ptr32(p)
    sx = int(_SX)
    depth = pp[1]
    out_d = pp[2]
    c = ((pp[3] << sx) >> sx) - 128
    xp = ptr8(_scratch['fcx'])
    a0 = int(ptr32(_POS)[0])
    for i in range(depth):
        xp[i] = ap[a0 + i] ^ 0x80                # unsigned v + 128
    d4 = depth & (0 - 4)
    w = 0
    for oc in range(out_d):
        s = 0
        sw = 0
        i = 0
        while i < d4:
            w_0 = (wp[w] ^ 0x80) - 0x80
            w_1 = (wp[w + 1] ^ 0x80) - 0x80
            w_2 = (wp[w + 2] ^ 0x80) - 0x80
            w_3 = (wp[w + 3] ^ 0x80) - 0x80
            s += xp[i] * w_0 + xp[i + 1] * w_1 + xp[i + 2] * w_2 + xp[i + 3] * w_3
            sw += w_0 + w_1 + w_2 + w_3
            i += 4
            w += 4
        while i < depth:
            w_0 = (wp[w] ^ 0x80) - 0x80
            s += xp[i] * w_0
            sw += w_0
            i += 1
            w += 1
        cp[oc] = ((pp[7 + oc] << sx) >> sx) + s + c * sw


def fully_connected_s8(out, a, b, p):
    """FULLY_CONNECTED int8 (kernels/python.py FC_HEADER layout)."""
    batches, depth, out_d = p[0], p[1], p[2]
    _buf('fcx', 'B', depth)
    acc = _buf('acc', 'i', out_d)
    ctl = _CTL
    _set_out(ctl, p, 4)
    for bt in range(batches):
        _POS[0] = bt * depth
        _fc_dots(acc, a, b, p)
        _set_ctl(ctl, bt * out_d, out_d, 7 + out_d)
        _requant_store(out, acc, p, ctl)


# ---------------------------------------------------------------- pooling (int8)

@micropython.viper
def avgpool_s8(out, a, b, p):
    """AVERAGE_POOL_2D int8 (kernels/python.py POOL_HEADER layout)."""
    op = ptr8(out)
    ap = ptr8(a)
    pp = ptr32(p)
    sx = int(_SX)
    batches = pp[0]
    in_h = pp[1]
    in_w = pp[2]
    ch = pp[3]
    out_h = pp[4]
    out_w = pp[5]
    k_h = pp[6]
    k_w = pp[7]
    s_h = pp[8]
    s_w = pp[9]
    pad_t = (pp[10] << sx) >> sx
    pad_l = (pp[11] << sx) >> sx
    lo = (pp[12] << sx) >> sx
    hi = (pp[13] << sx) >> sx
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            iy0 = oy * s_h - pad_t
            y0 = iy0 if iy0 > 0 else 0
            y1 = iy0 + k_h if iy0 + k_h < in_h else in_h
            for ox in range(out_w):
                ix0 = ox * s_w - pad_l
                x0 = ix0 if ix0 > 0 else 0
                x1 = ix0 + k_w if ix0 + k_w < in_w else in_w
                count = (y1 - y0) * (x1 - x0)
                if count <= 0:
                    raise ValueError('average pool window outside the input')
                half = count >> 1
                nx = x1 - x0
                for c in range(ch):
                    acc = 0
                    for iy in range(y0, y1):
                        j = base + (iy * in_w + x0) * ch + c
                        for _ in range(nx):
                            acc += (ap[j] ^ 0x80) - 0x80
                            j += ch
                    if acc > 0:
                        acc = (acc + half) // count
                    else:
                        acc = 0 - ((half - acc) // count)
                    if acc < lo:
                        acc = lo
                    if acc > hi:
                        acc = hi
                    op[o] = acc
                    o += 1


@micropython.viper
def maxpool_s8(out, a, b, p):
    """MAX_POOL_2D int8 (kernels/python.py POOL_HEADER layout)."""
    op = ptr8(out)
    ap = ptr8(a)
    pp = ptr32(p)
    sx = int(_SX)
    batches = pp[0]
    in_h = pp[1]
    in_w = pp[2]
    ch = pp[3]
    out_h = pp[4]
    out_w = pp[5]
    k_h = pp[6]
    k_w = pp[7]
    s_h = pp[8]
    s_w = pp[9]
    pad_t = (pp[10] << sx) >> sx
    pad_l = (pp[11] << sx) >> sx
    lo = (pp[12] << sx) >> sx
    hi = (pp[13] << sx) >> sx
    o = 0
    for bt in range(batches):
        base = bt * in_h * in_w * ch
        for oy in range(out_h):
            iy0 = oy * s_h - pad_t
            y0 = iy0 if iy0 > 0 else 0
            y1 = iy0 + k_h if iy0 + k_h < in_h else in_h
            for ox in range(out_w):
                ix0 = ox * s_w - pad_l
                x0 = ix0 if ix0 > 0 else 0
                x1 = ix0 + k_w if ix0 + k_w < in_w else in_w
                nx = x1 - x0
                for c in range(ch):
                    mx = lo
                    for iy in range(y0, y1):
                        j = base + (iy * in_w + x0) * ch + c
                        for _ in range(nx):
                            v = (ap[j] ^ 0x80) - 0x80
                            if v > mx:
                                mx = v
                            j += ch
                    if mx > hi:
                        mx = hi
                    op[o] = mx
                    o += 1


# ---------------------------------------------------------------- elementwise int8
# Broadcast header of kernels/python_eltwise.py: p[0:5] out dims, p[5:10] strides of a,
# p[10:15] strides of b; rows of p[4] elements are computed into the 'acc' scratch, then
# requantized by _requant_store with one multiplier (ctl step 0).

@micropython.viper
def _bcast(out, a, b, p):
    """Run the broadcast loops of add_int8 (mode 0) or mul_int8 (mode 1); mode and the
    requantization ctl are in _CTL (ctl[2] multiplier index, ctl[3] shift index)."""
    ap = ptr8(a)
    bp = ptr8(b)
    pp = ptr32(p)
    ctl = _CTL
    cp = ptr32(ctl)
    sx = int(_SX)
    acc = _scratch['acc']
    xp = ptr32(acc)
    mode = cp[2] - 16                  # add: multiplier at p[16]; mul: p[18]
    d0 = pp[0]
    d1 = pp[1]
    d2 = pp[2]
    d3 = pp[3]
    n = pp[4]
    a0 = pp[5]
    a1 = pp[6]
    a2 = pp[7]
    a3 = pp[8]
    sa = pp[9]
    b0 = pp[10]
    b1 = pp[11]
    b2 = pp[12]
    b3 = pp[13]
    sb = pp[14]
    o1 = (pp[15] << sx) >> sx
    o2 = (pp[16] << sx) >> sx
    o = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                ia = i0 * a0 + i1 * a1 + i2 * a2
                ib = i0 * b0 + i1 * b1 + i2 * b2
                for _ in range(d3):
                    ja = ia
                    jb = ib
                    if mode == 0:
                        for k in range(n):
                            xp[k] = pp[20 + ap[ja]] + pp[276 + bp[jb]]
                            ja += sa
                            jb += sb
                    else:
                        for k in range(n):
                            xp[k] = (((ap[ja] ^ 0x80) - 0x80) + o1) * \
                                (((bp[jb] ^ 0x80) - 0x80) + o2)
                            ja += sa
                            jb += sb
                    cp[0] = o
                    cp[1] = n
                    _requant_store(out, acc, p, ctl)
                    o += n
                    ia += a3
                    ib += b3


@micropython.viper
def _set_elt(ctl, p, mode):
    """_CTL for add_int8 (mode 0) / mul_int8 (mode 1), one multiplier (period 1)."""
    cp = ptr32(ctl)
    pp = ptr32(p)
    if int(mode) == 0:
        cp[2] = 16
        cp[3] = 17
        cp[4] = pp[15]
        cp[5] = pp[18]
        cp[6] = pp[19]
    else:
        cp[2] = 18
        cp[3] = 19
        cp[4] = pp[17]
        cp[5] = pp[20]
        cp[6] = pp[21]
    cp[7] = 1


def add_int8(out, a, b, p):
    """int8 ADD/SUB with broadcasting (kernels/python_eltwise.py layout)."""
    _buf('acc', 'i', p[4])
    _set_elt(_CTL, p, 0)
    _bcast(out, a, b, p)


def mul_int8(out, a, b, p):
    """int8 MUL with broadcasting (kernels/python_eltwise.py layout)."""
    _buf('acc', 'i', p[4])
    _set_elt(_CTL, p, 1)
    _bcast(out, a, b, p)


@micropython.viper
def _lut(out, a, p, width):
    """out[i] = p[1 + (a[i] & 255)] with int8/uint8 (width 1), int16 (2) or int32 (4) out."""
    ap = ptr8(a)
    pp = ptr32(p)
    w = int(width)
    n = pp[0]
    if w == 1:
        op = ptr8(out)
        for i in range(n):
            op[i] = pp[1 + ap[i]]
    elif w == 2:
        hp = ptr16(out)
        for i in range(n):
            hp[i] = pp[1 + ap[i]]
    else:
        wp = ptr32(out)
        for i in range(n):
            wp[i] = pp[1 + ap[i]]


def lut_int8(out, a, b, p):
    """out[i] = p[1 + (a[i] & 255)]: int8 activations and 8-bit QUANTIZE tables (int8/uint8
    input; the output may be int8/uint8, int16 or int32: QUANTIZE int8 -> int16/int32)."""
    n = p[0]
    if n <= 0:
        return
    out[0] = 0x12345                   # probe the output width (every element is written below)
    v = out[0]
    _lut(out, a, p, 1 if v == 0x45 or v == 0x45 - 256 else (2 if v == 0x2345 else 4))


KERNELS = {'conv_s8': conv_s8, 'depthwise_s8': depthwise_s8,
           'fully_connected_s8': fully_connected_s8, 'avgpool_s8': avgpool_s8,
           'maxpool_s8': maxpool_s8, 'add_int8': add_int8, 'mul_int8': mul_int8,
           'lut_int8': lut_int8}


def _add_kernel_modules():
    # each imports this module and adds its KERNELS itself when imported first
    from . import viper_rnn, viper_softmax, viper_copy
    KERNELS.update(getattr(viper_rnn, 'KERNELS', {}))
    KERNELS.update(getattr(viper_softmax, 'KERNELS', {}))
    KERNELS.update(getattr(viper_copy, 'KERNELS', {}))


_add_kernel_modules()
