"""@micropython.viper twin of softmax_s8 (kernels/python.py: int8 in, int8 or int16 out, TFLM's
reference Softmax with gemmlowp fixed-point exp and 1/(1+x)), same output bytes. MicroPython
only; it adds itself to kernels/viper.py's KERNELS.

Every intermediate is an int32 as in gemmlowp, exact on 32-bit words (boards) and on the
64-bit unix port: values pass between the helpers through the int32 'register' array _R (a
viper call with a large int argument would box it: heap on boards), loads sign-extend with
(v << _SX) >> _SX, ptr32 stores wrap to int32, and SaturatingRoundingDoublingHighMul is
built from 15-bit limbs on 32-bit words (_LIMBS) as in viper._requant_store. Constants
above 2**30 - 1 (a 31-bit small int's limit) live in the array _K.

The int8 input makes exp a function of diff = x - max in [-255, 0]: its 256 values are
computed once per (input_multiplier, input_left_shift, diff_min) and cached (_SLOTS sets),
so an invoke costs a max, a table sum, one reciprocal per row and one SRDHM per element.
Precondition (as TFLM's prepare guarantees): diff << input_left_shift fits int32 for
diff >= diff_min.
"""
from array import array

import micropython

from . import viper as _viper
from .viper import _SX

_LIMBS = 0 if _SX else 1       # 1: 15-bit-limb SRDHM (32-bit words; tests set it on unix)
_SLOTS = 4                     # exp tables cached

# [0:7] exp(-1/4 .. -16) in Q0.31 for remainder bits 24..30 (python._EXP_BARREL),
# [7] 1895147668 exp(-1/8), [8] 715827883 (1/3), [9] 1515870810 (48/17), [10] -1010580540
# (-32/17)
_K = array('i', [1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
                 1895147668, 715827883, 1515870810, -1010580540])
_R = array('i', [0] * 8)
# per slot: [mult, left shift, diff_min, used] and the 256 exp values for diff = 0, -1, ...
_KEYS = array('i', [0] * (4 * _SLOTS))
_TABLES = array('i', [0] * (256 * _SLOTS))
_NEXT = array('i', [0])        # slot to refill next (round robin)


@micropython.viper
def _srdhm_r(r, i: int, j: int, k: int):
    """r[k] = gemmlowp SaturatingRoundingDoublingHighMul(r[i], r[j]) for any int32 pair."""
    rp = ptr32(r)
    sx = int(_SX)
    a = (rp[i] << sx) >> sx
    b = (rp[j] << sx) >> sx
    one = 1
    imin = ((one << 31) << sx) >> sx        # -2**31 on both word sizes
    if a == imin and b == imin:
        rp[k] = imin - 1                    # stored as 2**31 - 1
        return
    neg = (1 if a < 0 else 0) ^ (1 if b < 0 else 0)
    ua = 0 - a if a < 0 else a              # |a| <= 2**31 (2**31 wraps to imin on 32 bits)
    ub = 0 - b if b < 0 else b
    if ub == imin or ub == 0 - imin:        # keep the 2**31 operand in ua, ub < 2**31
        t = ua
        ua = ub
        ub = t
    nudge = (one << 30) - 1 if neg else one << 30
    if int(_LIMBS):
        a0 = ua & 0x7FFF
        a1 = (ua >> 15) & 0x7FFF
        a2 = (ua >> 30) & 3
        b0 = ub & 0x7FFF
        b1 = (ub >> 15) & 0x7FFF
        b2 = (ub >> 30) & 1
        t = a0 * b0 + nudge
        t = a0 * b1 + a1 * b0 + (t >> 15)
        t = a0 * b2 + a1 * b1 + a2 * b0 + (t >> 15)
        q = (t >> 1) + ((a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
    else:
        q = (ua * ub + nudge) >> 31          # 64-bit words: < 2**62
    rp[k] = 0 - q if neg else q


@micropython.viper
def _rdbpot_r(r, i: int, e: int):
    """r[i] = gemmlowp RoundingDivideByPOT(r[i], e), e >= 0 (0 when e >= 32, as python's)."""
    rp = ptr32(r)
    sx = int(_SX)
    x = (rp[i] << sx) >> sx
    if e >= 32:
        rp[i] = 0
        return
    mask = (1 << e) - 1
    thr = (mask >> 1) + (1 if x < 0 else 0)
    rp[i] = (x >> e) + (1 if (x & mask) > thr else 0)


@micropython.viper
def _sat_shl_r(r, i: int, e: int):
    """r[i] = gemmlowp SaturatingRoundingMultiplyByPOT(r[i], e) for 0 < e < 31."""
    rp = ptr32(r)
    sx = int(_SX)
    one = 1
    x = (rp[i] << sx) >> sx
    thr = (one << (31 - e)) - 1
    if x > thr:
        rp[i] = (one << 31) - 1            # stored as 2**31 - 1
    elif x < 0 - thr:
        rp[i] = one << 31                  # stored as -2**31
    else:
        rp[i] = x << e


@micropython.viper
def _exp_q5(r):
    """r[1] = gemmlowp exp_on_negative_values(r[0]) (Q5.26 raw <= 0 -> Q0.31 raw); uses
    r[2:7]."""
    rp = ptr32(r)
    kp = ptr32(_K)
    sx = int(_SX)
    a = (rp[0] << sx) >> sx
    a_mod = (a & 0xFFFFFF) - 0x1000000
    x = (a_mod << 5) + 0x10000000          # a_mod in [-2**24, 0): the shift cannot saturate
    rp[2] = x
    _srdhm_r(r, 2, 2, 3)                   # x2
    _srdhm_r(r, 3, 2, 4)                   # x3
    _srdhm_r(r, 3, 3, 5)                   # x4
    _rdbpot_r(r, 5, 2)                     # x4 / 4
    rp[5] = rp[5] + rp[4]                  # + x3
    rp[6] = kp[8]
    _srdhm_r(r, 5, 6, 5)
    rp[5] = rp[5] + rp[3]                  # + x2
    _rdbpot_r(r, 5, 1)
    rp[5] = x + ((rp[5] << sx) >> sx)      # x + poly
    rp[6] = kp[7]
    _srdhm_r(r, 6, 5, 5)
    rp[1] = kp[7] + rp[5]
    rem = a_mod - a
    for k in range(7):
        if rem & (1 << (24 + k)):
            rp[6] = kp[k]
            _srdhm_r(r, 1, 6, 1)
    if a == 0:
        one = 1
        rp[1] = (one << 31) - 1


@micropython.viper
def _recip(r):
    """r[1] = gemmlowp one_over_one_plus_x_for_x_in_0_1(r[0]) (Q0.31 raw); uses r[2:6]."""
    rp = ptr32(r)
    kp = ptr32(_K)
    sx = int(_SX)
    one = 1
    a = (rp[0] << sx) >> sx
    if a == ((one << 31) << sx) >> sx:
        rp[2] = -1                         # RoundingHalfSum(-2**31, 2**31 - 1)
    else:
        rp[2] = (a >> 1) + (one << 30)
    rp[3] = kp[10]
    _srdhm_r(r, 2, 3, 4)
    rp[5] = kp[9] + rp[4]                  # x
    for _ in range(3):
        _srdhm_r(r, 2, 5, 4)
        rp[4] = (one << 29) - rp[4]        # 1 - half_den * x
        _srdhm_r(r, 5, 4, 4)
        _sat_shl_r(r, 4, 2)
        rp[5] = rp[5] + rp[4]
    rp[1] = rp[5]
    _sat_shl_r(r, 1, 1)


@micropython.viper
def _slot(keys, p) -> int:
    """The cache slot whose key is (p[2], p[3], p[4]) (multiplier, left shift, diff_min), or
    -1."""
    kp = ptr32(keys)
    pp = ptr32(p)
    for s in range(int(_SLOTS)):
        j = s * 4
        if kp[j + 3] and kp[j] == pp[2] and kp[j + 1] == pp[3] and kp[j + 2] == pp[4]:
            return s
    return -1


@micropython.viper
def _fill(slot: int, p):
    """Slot `slot` := exp(srdhm(diff << p[3], p[2])) for diff = 0, -1, ..., -255 (0 below
    diff_min), keyed by p[2:5]."""
    pp = ptr32(p)
    kp = ptr32(_KEYS)
    tp = ptr32(_TABLES)
    rp = ptr32(_R)
    r = _R
    sx = int(_SX)
    lshift = pp[3]
    diff_min = (pp[4] << sx) >> sx
    base = slot * 256
    for d in range(256):
        tp[base + d] = 0
        if 0 - d >= diff_min:
            rp[6] = (0 - d) << lshift
            rp[7] = pp[2]
            _srdhm_r(r, 6, 7, 0)
            _exp_q5(r)
            tp[base + d] = rp[1]
    j = slot * 4
    kp[j] = pp[2]
    kp[j + 1] = pp[3]
    kp[j + 2] = pp[4]
    kp[j + 3] = 1


@micropython.viper
def _softmax_rows(out, a, p, slot: int):
    """softmax_s8's rows with the exp table of `slot`."""
    ap = ptr8(a)
    pp = ptr32(p)
    tp = ptr32(_TABLES)
    rp = ptr32(_R)
    r = _R
    sx = int(_SX)
    rows = pp[0]
    depth = pp[1]
    diff_min = (pp[4] << sx) >> sx
    bits = pp[5]
    out_min = 0 - (1 << (bits - 1))
    out_max = (1 << (bits - 1)) - 1
    base_t = slot * 256
    one = 1
    for row in range(rows):
        base = row * depth
        mx = -128
        for i in range(base, base + depth):
            v = (ap[i] ^ 0x80) - 0x80
            if v > mx:
                mx = v
        total = 0
        for i in range(base, base + depth):
            diff = ((ap[i] ^ 0x80) - 0x80) - mx
            if diff >= diff_min:                # total += RoundingDivideByPOT(e, 12)
                e = (tp[base_t - diff] << sx) >> sx
                e = (e >> 12) + (1 if (e & 0xFFF) > (0x800 if e < 0 else 0x7FF) else 0)
                total = ((total + e) << sx) >> sx
        hp1 = 0
        if total >= 0:
            hp1 = 32
            t = total
            while t:
                t = t >> 1
                hp1 -= 1
        if hp1 >= 32:
            shifted = ((one << 31) << sx) >> sx
        else:
            shifted = (((total << hp1) - (one << 31)) << sx) >> sx
        rp[0] = shifted
        _recip(r)
        rp[0] = rp[1]                       # scale
        exponent = 12 - hp1 + 31 - bits       # RoundingDivideByPOT below (0 if >= 32)
        mask = (one << exponent) - 1 if exponent < 32 else 0
        thr = mask >> 1
        for i in range(base, base + depth):
            diff = ((ap[i] ^ 0x80) - 0x80) - mx
            v = out_min
            if diff >= diff_min:
                rp[2] = tp[base_t - diff]
                _srdhm_r(r, 0, 2, 3)
                x = (rp[3] << sx) >> sx
                v = out_min
                if exponent < 32:
                    v += (x >> exponent) + \
                        (1 if (x & mask) > thr + (1 if x < 0 else 0) else 0)
                if v > out_max:
                    v = out_max
                elif v < out_min:
                    v = out_min
            if bits == 8:
                ptr8(out)[i] = v
            else:
                ptr16(out)[i] = v


def softmax_s8(out, a, b, p):
    """SOFTMAX int8 -> int8 / int16 (kernels/python.py SOFTMAX_HEADER layout)."""
    slot = _slot(_KEYS, p)
    if slot < 0:
        slot = _NEXT[0]
        _NEXT[0] = (slot + 1) % _SLOTS
        _fill(slot, p)
    _softmax_rows(out, a, p, slot)


KERNELS = {'softmax_s8': softmax_s8}
_viper.KERNELS.update(KERNELS)          # the viper backend's table (either import order)
