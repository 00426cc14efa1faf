"""Viper kernels: @micropython.viper twins of kernels/python.py, same signatures, parameter
blocks and output bytes (MicroPython only; kernels/__init__.py imports this module only when
compat.HAS_VIPER). Kernels missing here fall back to the python ones.

Word size: viper ints are machine words (32 bits on armv6m/armv7m/xtensawin, 64 on the unix
port). Everything is written to be exact on both:
  * ptr8/ptr16/ptr32 loads are zero-extended; int8 values are sign-extended by hand
    ((v ^ 0x80) - 0x80), int32 values with (v << _SX) >> _SX (_SX = 32 on 64-bit, 0 on 32-bit);
  * the 62-bit product of TFLM's SaturatingRoundingDoublingHighMul is built from 15-bit limbs
    (every partial sum < 2**31), so no intermediate needs more than a signed 32-bit word;
  * no literal above 2**30 - 1 (a 32-bit port's small-int limit): larger constants are
    computed at run time from a variable;
  * int32 wraparound (the left shift of the requantization) is done explicitly.
Scratch lives in module-level arrays (grown on demand, never per call once sized).
"""
import sys
import micropython
from array import array

_SX = 32 if sys.maxsize > 0x7FFFFFFF else 0

_scratch = {}


def _buf(name, typecode, n):
    """A module-level scratch array of at least n items (grows, never shrinks)."""
    buf = _scratch.get(name)
    if buf is None or len(buf) < n:
        buf = array(typecode, bytes(n) if typecode in 'bB' else [0] * n)
        _scratch[name] = buf
    return buf


# ctl block of _requant_store: [o, n, nm, ns, out_off, act_min, act_max]
_ctl = array('i', [0] * 8)


@micropython.viper
def _requant_store(out, acc, p, ctl):
    """out[o + k] = clamp(MultiplyByQuantizedMultiplier(acc[k], p[nm + k], p[ns + k]) + out_off)
    for k < n (TFLM double rounding, exact on 32- and 64-bit words)."""
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
    one = 1
    half = one << 30                       # 2**30, computed (not a small int on 32-bit)
    for k in range(n):
        x = (ap[k] << sx) >> sx
        sh = (pp[ns + k] << sx) >> sx
        mult = pp[nm + k]
        if sh > 0:                         # int32 wraparound of x << sh
            x = x << sh
            x = ((((x >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16 | (x & 0xFFFF)
        # SRDHM(x, mult): (x * mult + nudge) / 2**31 truncated, from 15-bit limbs
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
        if sh < 0:
            rs = 0 - sh
            mask = (one << rs) - 1
            rem = r & mask
            r = r >> rs
            thr = mask >> 1
            if r < 0:
                thr += 1
            if rem > thr:
                r += 1
        r += out_off
        if r < lo:
            r = lo
        if r > hi:
            r = hi
        op[o + k] = r


@micropython.viper
def _set_ctl(ctl, o, n, base):
    """ctl[0:4] = o, n, base + n (multipliers), base + 2n (shifts)."""
    cp = ptr32(ctl)
    cp[0] = int(o)
    cp[1] = int(n)
    cp[2] = int(base) + int(n)
    cp[3] = int(base) + 2 * int(n)


@micropython.viper
def fully_connected_s8(out, a, b, p):
    """FULLY_CONNECTED int8 (kernels/python.py layout FC_HEADER = 7)."""
    pp = ptr32(p)
    sx = int(_SX)
    batches = pp[0]
    depth = pp[1]
    out_d = pp[2]
    in_off = (pp[3] << sx) >> sx
    ap = ptr8(a)
    wp = ptr8(b)
    accb = _buf('acc', 'i', out_d)
    acc_p = ptr32(accb)
    ctl = _ctl
    cp = ptr32(ctl)
    cp[4] = pp[4]
    cp[5] = pp[5]
    cp[6] = pp[6]
    for bt in range(batches):
        a0 = bt * depth
        w0 = 0
        for oc in range(out_d):
            s = 0
            sw = 0
            for i in range(depth):
                w = (wp[w0 + i] ^ 0x80) - 0x80
                s += ((ap[a0 + i] ^ 0x80) - 0x80) * w
                sw += w
            w0 += depth
            acc_p[oc] = ((pp[7 + oc] << sx) >> sx) + s + in_off * sw
        _set_ctl(ctl, bt * out_d, out_d, 7)
        _requant_store(out, accb, p, ctl)
