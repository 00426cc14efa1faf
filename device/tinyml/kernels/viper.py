"""@micropython.viper versions of the hot kernels: same signatures, parameter blocks and output
bytes as kernels/python.py (conv_s8, depthwise_s8, fully_connected_s8).

Viper integers are machine words (32 bits on boards, 64 on the unix port), so the int32
parameters are sign-extended explicitly and TFLM's 64-bit requantization product is built from
16-bit pieces that stay below 2**31 on every word size.
"""
import sys

import micropython

# low-32-bit mask as a machine word: -1 (all ones) on 32-bit ports
_MASK32 = 0xFFFFFFFF if sys.maxsize > 0xFFFFFFFF else -1


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


@micropython.viper
def _conv(out, a, b, p, depthwise: int):
    po = ptr8(out)
    pa = ptr8(a)
    pb = ptr8(b)
    pp = ptr32(p)
    mask32 = int(_MASK32)
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
    d_h = pp[11]
    d_w = pp[12]
    pad_t = int(_param(pp, 13))
    pad_l = int(_param(pp, 14))
    in_off = int(_param(pp, 15))
    out_off = int(_param(pp, 16))
    lo = int(_param(pp, 17))
    hi = int(_param(pp, 18))
    dm = pp[19]
    o = 0
    for bt in range(batches):
        base_b = bt * in_h * in_w * in_c
        for oy in range(out_h):
            iy0 = oy * s_h - pad_t
            for ox in range(out_w):
                ix0 = ox * s_w - pad_l
                for oc in range(out_c):
                    acc = int(_param(pp, 20 + oc))
                    ic = oc // dm if depthwise else 0
                    for ky in range(k_h):
                        iy = iy0 + ky * d_h
                        if iy < 0 or iy >= in_h:
                            continue
                        for kx in range(k_w):
                            ix = ix0 + kx * d_w
                            if ix < 0 or ix >= in_w:
                                continue
                            src = base_b + (iy * in_w + ix) * in_c
                            if depthwise:
                                x = ((pa[src + ic] ^ 128) - 128) + in_off
                                acc += x * (((pb[(ky * k_w + kx) * out_c + oc]) ^ 128) - 128)
                            else:
                                wr = ((oc * k_h + ky) * k_w + kx) * in_c
                                for c in range(in_c):
                                    acc += (((pa[src + c] ^ 128) - 128) + in_off) * \
                                        ((pb[wr + c] ^ 128) - 128)
                    v = int(_requant(acc, pp[20 + out_c + oc], int(_param(pp, 20 + 2 * out_c + oc)),
                                     mask32)) + out_off
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    po[o] = v & 0xFF
                    o += 1


def conv_s8(out, a, b, p):
    """CONV_2D int8 (kernels/python.py layout)."""
    _conv(out, a, b, p, 0)


def depthwise_s8(out, a, b, p):
    """DEPTHWISE_CONV_2D int8 (kernels/python.py layout)."""
    _conv(out, a, b, p, 1)


@micropython.viper
def fully_connected_s8(out, a, b, p):
    """FULLY_CONNECTED int8 (kernels/python.py layout)."""
    po = ptr8(out)
    pa = ptr8(a)
    pb = ptr8(b)
    pp = ptr32(p)
    mask32 = int(_MASK32)
    batches = pp[0]
    depth = pp[1]
    out_d = pp[2]
    in_off = int(_param(pp, 3))
    out_off = int(_param(pp, 4))
    lo = int(_param(pp, 5))
    hi = int(_param(pp, 6))
    o = 0
    for bt in range(batches):
        a0 = bt * depth
        for oc in range(out_d):
            acc = int(_param(pp, 7 + oc))
            w0 = oc * depth
            for i in range(depth):
                acc += (((pa[a0 + i] ^ 128) - 128) + in_off) * ((pb[w0 + i] ^ 128) - 128)
            v = int(_requant(acc, pp[7 + out_d + oc], int(_param(pp, 7 + 2 * out_d + oc)),
                             mask32)) + out_off
            if v < lo:
                v = lo
            elif v > hi:
                v = hi
            po[o] = v & 0xFF
            o += 1


KERNELS = {'conv_s8': conv_s8, 'depthwise_s8': depthwise_s8,
           'fully_connected_s8': fully_connected_s8}
