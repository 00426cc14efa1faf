"""Elementwise, activation, reduce and resize kernels (python reference backend).

Every kernel is kernel(out, a, b, p) like the rest of kernels/python.py. `out`, `a`, `b` are
typed views of the tensors (int8 'b', int16 'h', int32 'i', float32 'f'); `p` is an array('i')
laid out as documented at each kernel. Quantized offsets follow TFLM: in_offset = -zero_point,
out_offset = +zero_point; "mbqm" is TFLM's double-rounding MultiplyByQuantizedMultiplier.

Binary kernels share a broadcast header (prepare collapses the shapes to 5 dims):

    p[0:5]   out dims d0..d4 (d4 innermost; output is dense row-major)
    p[5:10]  element strides of a for each out dim (0 where a broadcasts)
    p[10:15] element strides of b for each out dim (0 where b broadcasts)
    p[15:]   the kernel's own parameters (indices below are absolute)

The gemmlowp fixed-point helpers at the bottom (exp, logistic, tanh, 1/(1+x)) are exact int32
ports, used by ops/activations.py to build int8 lookup tables and by the int8 DIV kernel.
None of the kernels allocates heap on a 64-bit port (products stay small ints there).
"""
import math
from array import array

from ..compat import bits_float
from ..quant import (srdhm as _srdhm, rounding_divide_by_pot as _rdbp,
                     multiply_by_quantized_multiplier as _mbqm, wrap32 as _wrap32)
from .codes import (BCAST_DIMS, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MAX, OP_MIN, OP_SQDIFF,
                    OP_PRELU, UF_RELU, UF_RELU6, UF_RELU_N1_TO_1, UF_LOGISTIC, UF_TANH,
                    UF_HARD_SWISH, UF_LEAKY_RELU, RF_SUM, RF_MEAN, RF_MAX, DT_INT8, DT_INT16,
                    DT_INT32, DT_FLOAT32, CT_INT8, CT_INT16, CT_INT32, CT_UINT32, CT_FLOAT32,
                    CT_BOOL, CT_CODES)

__all__ = ('add_int8', 'add_int16', 'mul_int8', 'mul_int16', 'div_int8', 'sqdiff_int8',
           'sqdiff_int16', 'prelu_q', 'minmax', 'binary_int32', 'binary_float', 'lut_int8',
           'logistic_int16', 'tanh_int16', 'requant_int16', 'unary_float', 'reduce_int',
           'reduce_max', 'reduce_float', 'resize_nearest', 'resize_bilinear_int8',
           'resize_bilinear_float', 'cast', 'cast_float')

INT32_MIN = -2147483648
INT32_MAX = 2147483647


def _broadcast(row, out, a, b, p):
    """Call row(out, o, a, ia, sa, b, ib, sb, n, p) once per innermost run of the output."""
    d0, d1, d2 = p[0], p[1], p[2]
    d3, n = p[3], p[4]
    a0, a1, a2 = p[5], p[6], p[7]
    a3, sa = p[8], p[9]
    b0, b1, b2 = p[10], p[11], p[12]
    b3, sb = p[13], p[14]
    o = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                ia = i0 * a0 + i1 * a1 + i2 * a2
                ib = i0 * b0 + i1 * b1 + i2 * b2
                for _ in range(d3):
                    row(out, o, a, ia, sa, b, ib, sb, n, p)
                    o += n
                    ia += a3
                    ib += b3


# ---------------------------------------------------------------- ADD / SUB int8
def _add8_row(out, o, a, ia, sa, b, ib, sb, n, p):
    out_off, mult, rshift = p[15], p[16], -p[17]
    lo, hi = p[18], p[19]
    mask = (1 << rshift) - 1
    half = mask >> 1
    for _ in range(n):
        raw = p[20 + (a[ia] & 255)] + p[276 + (b[ib] & 255)]
        ab = raw * mult
        if ab >= 0:
            x = (ab + 0x40000000) >> 31
        else:
            x = -((0x3FFFFFFF - ab) >> 31)
        if rshift:
            x = (x >> rshift) + ((x & mask) > half + (x < 0))
        x += out_off
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def add_int8(out, a, b, p):
    """int8 ADD/SUB (TFLM left_shift=20 path), with broadcasting.

    p[15] out_offset, p[16] out_multiplier, p[17] out_shift (<= 0),
    p[18] act_min, p[19] act_max,
    p[20:276]  table of a: scaled input 1 for raw byte value v (index v & 255), i.e.
               mbqm_smaller_than_one((v - zp1) << 20, m1, s1)
    p[276:532] table of b, the same for input 2, negated for SUB.
    out = clamp(mbqm(table_a[a] + table_b[b], out_multiplier, out_shift) + out_offset)
    """
    _broadcast(_add8_row, out, a, b, p)


# ---------------------------------------------------------------- ADD / SUB int16
def _add16_row(out, o, a, ia, sa, b, ib, sb, n, p):
    ls, o1, m1 = p[15], p[16], p[17]
    s1, o2, m2 = p[18], p[19], p[20]
    s2, oo, mo = p[21], p[22], p[23]
    so, lo, hi = p[24], p[25], p[26]
    sign = p[27]
    for _ in range(n):
        x1 = _rdbp(_srdhm(_wrap32((a[ia] + o1) << ls), m1), -s1)
        x2 = _rdbp(_srdhm(_wrap32((b[ib] + o2) << ls), m2), -s2)
        x = _rdbp(_srdhm(_wrap32(x1 + sign * x2), mo), -so) + oo
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def add_int16(out, a, b, p):
    """int16 ADD/SUB (TFLM general-scale path, left_shift=15), with broadcasting.

    p[15] left_shift, p[16] in1_offset, p[17] in1_multiplier, p[18] in1_shift (<= 0),
    p[19] in2_offset, p[20] in2_multiplier, p[21] in2_shift, p[22] out_offset,
    p[23] out_multiplier, p[24] out_shift, p[25] act_min, p[26] act_max,
    p[27] sign: +1 ADD, -1 SUB (raw = scaled1 + sign * scaled2)
    """
    _broadcast(_add16_row, out, a, b, p)


# ---------------------------------------------------------------- MUL int8 / int16
def _mulq_row(out, o, a, ia, sa, b, ib, sb, n, p):
    o1, o2, oo = p[15], p[16], p[17]
    mo, so, lo = p[18], p[19], p[20]
    hi = p[21]
    for _ in range(n):
        x = _mbqm(_wrap32((a[ia] + o1) * (b[ib] + o2)), mo, so) + oo
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def mul_int8(out, a, b, p):
    """Quantized MUL, with broadcasting (int16 uses the same layout, offsets 0).

    p[15] in1_offset, p[16] in2_offset, p[17] out_offset, p[18] out_multiplier,
    p[19] out_shift, p[20] act_min, p[21] act_max.
    out = clamp(mbqm((a + in1_offset) * (b + in2_offset), m, shift) + out_offset)
    """
    _broadcast(_mulq_row, out, a, b, p)


mul_int16 = mul_int8


# ---------------------------------------------------------------- DIV int8
def _div8_row(out, o, a, ia, sa, b, ib, sb, n, p):
    o1, o2, oo = p[15], p[16], p[17]
    mo, so, lo = p[18], p[19], p[20]
    hi = p[21]
    for _ in range(n):
        v1 = a[ia] + o1
        v2 = b[ib] + o2
        if v2 < 0:
            v1 = -v1
            v2 = -v2
        hp1 = leading_zeros32(v2)
        inv = one_over_one_plus_x(_wrap32(((v2 << hp1) & 0xFFFFFFFF) - 0x80000000))
        headroom = leading_sign_bits(v1)
        quot = _srdhm(_wrap32(v1 << headroom), inv)
        total = so - (31 - hp1) - headroom      # 31 - hp1: GetReciprocal's num_bits_over_unit
        x = _srdhm(quot, mo)
        if total >= -31:
            x = _rdbp(x, -total)
        else:
            # TFLM then calls RoundingDivideByPOT with an exponent > 31 (undefined in C);
            # the x86-64 build shifts by exponent & 31 and its mask becomes -1:
            x = (x >> (-total & 31)) + (x >= 0)
        x += oo
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def div_int8(out, a, b, p):
    """int8 DIV (TFLM reciprocal path), with broadcasting.

    p[15] in1_offset, p[16] in2_offset, p[17] out_offset, p[18] out_multiplier,
    p[19] out_shift, p[20] act_min, p[21] act_max. A zero divisor is undefined (as in TFLM).
    Small numerators make TFLM shift by more than 31 bits; this follows its x86-64 result
    (see _div8_row), which the tests check against.
    """
    _broadcast(_div8_row, out, a, b, p)


# ---------------------------------------------------------------- SQUARED_DIFFERENCE int8/16
def _sqdiff_row(out, o, a, ia, sa, b, ib, sb, n, p):
    ls, o1, m1 = p[15], p[16], p[17]
    s1, o2, m2 = p[18], p[19], p[20]
    s2, oo, mo = p[21], p[22], p[23]
    so, lo, hi = p[24], p[25], p[26]
    for _ in range(n):
        x1 = _rdbp(_srdhm((a[ia] + o1) << ls, m1), -s1)
        x2 = _rdbp(_srdhm((b[ib] + o2) << ls, m2), -s2)
        d = x1 - x2
        x = _mbqm(_wrap32(d * d), mo, so) + oo
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def sqdiff_int8(out, a, b, p):
    """Quantized SQUARED_DIFFERENCE (int16 shares it; left_shift 7 for int8, 0 for int16).

    p[15] left_shift, p[16] in1_offset, p[17] in1_multiplier, p[18] in1_shift (<= 0),
    p[19] in2_offset, p[20] in2_multiplier, p[21] in2_shift, p[22] out_offset,
    p[23] out_multiplier, p[24] out_shift (QuantizeMultiplier, any sign),
    p[25] act_min, p[26] act_max.
    """
    _broadcast(_sqdiff_row, out, a, b, p)


sqdiff_int16 = sqdiff_int8


# ---------------------------------------------------------------- PRELU int8/int16
def _prelu_row(out, o, a, ia, sa, b, ib, sb, n, p):
    io, ao, oo = p[15], p[16], p[17]
    m1, s1, m2 = p[18], p[19], p[20]
    s2, lo, hi = p[21], p[22], p[23]
    for _ in range(n):
        x = a[ia] + io
        if x >= 0:
            x = _mbqm(x, m1, s1)
        else:
            x = _mbqm(x * (b[ib] + ao), m2, s2)
        x += oo
        out[o] = lo if x < lo else (hi if x > hi else x)
        o += 1
        ia += sa
        ib += sb


def prelu_q(out, a, b, p):
    """Quantized PRELU: a int8/int16 input, b int8 alpha, with broadcasting.

    p[15] input_offset, p[16] alpha_offset, p[17] output_offset, p[18] multiplier_1,
    p[19] shift_1, p[20] multiplier_2, p[21] shift_2, p[22] qmin, p[23] qmax (output dtype).
    """
    _broadcast(_prelu_row, out, a, b, p)


# ---------------------------------------------------------------- MAXIMUM / MINIMUM
def _max_row(out, o, a, ia, sa, b, ib, sb, n, p):
    for _ in range(n):
        x = a[ia]
        y = b[ib]
        out[o] = x if x > y else y
        o += 1
        ia += sa
        ib += sb


def _min_row(out, o, a, ia, sa, b, ib, sb, n, p):
    for _ in range(n):
        x = a[ia]
        y = b[ib]
        out[o] = x if x < y else y
        o += 1
        ia += sa
        ib += sb


def minmax(out, a, b, p):
    """MAXIMUM / MINIMUM on raw values (TFLM does not requantize), with broadcasting.

    p[15] 1 for MAXIMUM, 0 for MINIMUM; p[16] dtype code (DT_INT8, DT_INT16, DT_INT32,
    DT_FLOAT32). MAXIMUM picks a when a > b else b; MINIMUM a when a < b else b.
    """
    _broadcast(_max_row if p[15] else _min_row, out, a, b, p)


# ---------------------------------------------------------------- int32 arithmetic
def _int32_row(out, o, a, ia, sa, b, ib, sb, n, p):
    op, lo, hi = p[15], p[16], p[17]
    for _ in range(n):
        x = a[ia]
        y = b[ib]
        if op == OP_ADD:
            r = x + y
        elif op == OP_SUB:
            r = x - y
        elif op == OP_MUL:
            r = x * y
        elif op == OP_DIV:
            r = abs(x) // abs(y)
            if (x < 0) != (y < 0):
                r = -r
        elif op == OP_MAX:
            r = x if x > y else y
        elif op == OP_MIN:
            r = x if x < y else y
        else:
            r = x - y
            r = _wrap32(r) * _wrap32(r)
        r = _wrap32(r)
        out[o] = lo if r < lo else (hi if r > hi else r)
        o += 1
        ia += sa
        ib += sb


def binary_int32(out, a, b, p):
    """int32 ADD/SUB/MUL/DIV/MAXIMUM/MINIMUM/SQUARED_DIFFERENCE, with broadcasting.

    p[15] op code (OP_*), p[16] act_min, p[17] act_max. Results wrap to int32 like the C
    code; DIV truncates toward zero (a zero divisor raises ZeroDivisionError).
    """
    _broadcast(_int32_row, out, a, b, p)


# ---------------------------------------------------------------- float32 arithmetic
def _float_row(out, o, a, ia, sa, b, ib, sb, n, p):
    op, act = p[15], p[16]
    for _ in range(n):
        x = a[ia]
        y = b[ib]
        if op == OP_ADD:
            r = x + y
        elif op == OP_SUB:
            r = x - y
        elif op == OP_MUL:
            r = x * y
        elif op == OP_DIV:
            r = _fdiv(x, y)
        elif op == OP_MAX:
            r = x if x > y else y
        elif op == OP_MIN:
            r = x if x < y else y
        elif op == OP_SQDIFF:
            out[o] = x - y          # round the difference to float32 first, like the C code
            r = out[o] * out[o]
        else:
            r = x if x >= 0.0 else x * y
        if r != r:
            r = NAN     # one NaN on every arch (x86's inf - inf is -nan, Arm's +nan)
        out[o] = r      # the clamp compares the float32 result, as TFLM does (-0.0 stays)
        if act:
            out[o] = _fact(out[o], act)
        o += 1
        ia += sa
        ib += sb


def _fdiv(x, y):
    if y != 0.0:
        return x / y
    if x != x or x == 0.0:
        return NAN
    neg = (x < 0) != (str(y)[0] == '-')
    return -INF if neg else INF


INF = float('inf')
NAN = float('nan')


FLT_MAX = 3.4028234663852886e38


def _fact(r, act):
    """Float activation clamp, TFLM ActivationFunctionWithMinMax with CalculateActivationRange:
    0 none (no clamp at all), 1 RELU, 2 RELU_N1_TO_1, 3 RELU6, 4 NONE (clamp to +-FLT_MAX)."""
    if act == 0:
        return r
    if act == 4:
        lo, hi = -FLT_MAX, FLT_MAX
    elif act == 1:
        lo, hi = 0.0, FLT_MAX
    elif act == 2:
        lo, hi = -1.0, 1.0
    else:
        lo, hi = 0.0, 6.0
    if r < lo:
        r = lo
    return hi if hi < r else r


def binary_float(out, a, b, p):
    """float32 ADD/SUB/MUL/DIV/MAXIMUM/MINIMUM/SQUARED_DIFFERENCE/PRELU, with broadcasting.

    p[15] op code (OP_*), p[16] activation clamp: 0 none (MAXIMUM, MINIMUM,
    SQUARED_DIFFERENCE, PRELU), 1 RELU, 2 RELU_N1_TO_1, 3 RELU6, 4 NONE (ADD/SUB/MUL/DIV with
    no fused activation still clamp to +-FLT_MAX, so inf becomes FLT_MAX as in TFLM).
    Each result is rounded to float32 by the store (exact IEEE results for + - * /).
    """
    _broadcast(_float_row, out, a, b, p)


# ---------------------------------------------------------------- CAST
_CT_WRAP = {CT_INT8: (-128, 256), CT_INT16: (-32768, 65536), CT_INT32: (INT32_MIN, 1 << 32),
            CT_UINT32: (0, 1 << 32)}


def _cast_value(x, src, dst):
    if dst == CT_FLOAT32:
        return float(x)
    if dst == CT_BOOL:
        return 1 if x else 0
    lo, span = _CT_WRAP[dst]
    if src == CT_FLOAT32:
        # C static_cast of an out-of-range float is undefined; x86 (the reference) converts
        # through a 32-bit (signed targets) or 64-bit (uint32) integer that becomes INT_MIN.
        limit = 1 << (63 if dst == CT_UINT32 else 31)
        x = -limit if x != x or not -limit <= x < limit else int(x)
    return (x - lo) % span + lo


def cast(out, a, b, p):
    """CAST as TFLM's static_cast: p[0] n, p[1] source, p[2] destination dtype code (CT_*).
    Integers wrap modulo 2**bits, bool is v != 0, float -> int truncates (see _cast_value).
    The native module has `cast` for integer/bool pairs everywhere and `cast_float` for pairs
    with float32 where float is hardware; both names are this function here."""
    src, dst = p[1], p[2]
    for i in range(p[0]):
        out[i] = _cast_value(a[i], src, dst)


cast_float = cast


# ---------------------------------------------------------------- unary int8 lookup table
def lut_int8(out, a, b, p):
    """out[i] = table[a[i] & 255] for int8 -> int8 activations built at prepare time
    (LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6, RELU_N1_TO_1).

    p[0] element count n, p[1:257] the int8 output for each raw input byte value.
    """
    for i in range(p[0]):
        out[i] = p[1 + (a[i] & 255)]


# ---------------------------------------------------------------- int16 activations
def _sigmoid_table():
    """The 0.16 sigmoid(k / 24) table (k = 0..255) that int16 LOGISTIC and TANH interpolate.

    TFLM's table is not plain rounding: each entry is lifted by f''(k) / 16 (half the chord
    error of linear interpolation), and the last entry is pinned to the 0.16 maximum. Working
    from q = 1 - sigmoid keeps the fraction exact enough for float32-only boards.
    """
    table = array('H', bytes(512))
    for k in range(255):
        q = 1.0 / (1.0 + math.exp(k / 24.0))
        s = 1.0 - q
        y = 65536.0 - 65536.0 * q - 65536.0 * s * q * (2.0 * q - 1.0) / 9216.0
        table[k] = int(y + 0.5)
    table[255] = 65535
    return table


SIGMOID_TABLE = _sigmoid_table()


def logistic_int16(out, a, b, p):
    """int16 LOGISTIC (TFLM table interpolation; output scale 2**-15, zero points 0).

    p[0] n, p[1] input_multiplier (already resolved: never 0), p[2] input_left_shift (>= 0).
    """
    # sigmoid(x / 2**12) = table at x / 2**9; by symmetry 1 - sigmoid(-x) for x < 0
    _interpolate_int16(out, a, p, 9, 0x7FFF << 10, 1 << 9, (1 << 25) + (1 << 9) - 1, 10)


def tanh_int16(out, a, b, p):
    """int16 TANH (TFLM table interpolation; output scale 2**-15, zero points 0).

    p[0] n, p[1] input_multiplier (never 0), p[2] input_left_shift (>= 0).
    """
    # tanh(x) = 2 sigmoid(2x) - 1: the same table at x / 2**8, recentred
    _interpolate_int16(out, a, p, 8, 0xFFFF << 8, (1 << 7) - (1 << 23), (1 << 23) + (1 << 7) - 1, 8)


def _interpolate_int16(out, a, p, frac_bits, saturated, pos_add, neg_add, out_shift):
    """The loop of logistic_int16 and tanh_int16: x = scaled input, r = the table
    interpolated at |x| with frac_bits fraction bits (saturated past the end), then
    out = (r + pos_add if x >= 0 else neg_add - r) >> out_shift."""
    mult, shift = p[1], p[2]
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    mask = (1 << frac_bits) - 1
    table = SIGMOID_TABLE
    for i in range(p[0]):
        x = (a[i] * mult + rnd) >> shift
        ax = -x if x < 0 else x
        uh = ax >> frac_bits
        if uh >= 255:
            r = saturated
        else:
            ua = table[uh]
            r = (ua << frac_bits) + (ax & mask) * (table[uh + 1] - ua)
        out[i] = (r + pos_add if x >= 0 else neg_add - r) >> out_shift


def requant_int16(out, a, b, p):
    """int16 RELU / RELU_N1_TO_1 / LEAKY_RELU / RELU6 (one kernel, per-sign multipliers).

    p[0] n, p[1] input zero point, p[2] output zero point,
    p[3] multiplier for x >= 0, p[4] shift for x >= 0,
    p[5] |multiplier| for x < 0, p[6] shift for x < 0, p[7] 1 to negate the x < 0 result,
    p[8] clamp min, p[9] clamp max, p[10] mode: 1 requantize (formula below), 0 clamp only.
    x = a - in_zp; y = out_zp + (x >= 0 ? mbqm(x, m_pos, s_pos) : +-mbqm(x, m_neg, s_neg))
    """
    izp, ozp, mp = p[1], p[2], p[3]
    sp, mn, sn = p[4], p[5], p[6]
    neg, lo, hi = p[7], p[8], p[9]
    mode = p[10]
    for i in range(p[0]):
        x = a[i]
        if mode:
            x -= izp
            if x >= 0:
                x = ozp + _mbqm(x, mp, sp)
            else:
                y = _mbqm(x, mn, sn)
                x = ozp + (-y if neg else y)
        out[i] = lo if x < lo else (hi if x > hi else x)


# ---------------------------------------------------------------- float unary
def unary_float(out, a, b, p):
    """float32 RELU, RELU6, RELU_N1_TO_1, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU.

    p[0] n, p[1] op code (UF_*), p[2] LEAKY_RELU alpha as float32 bits (else 0).
    LOGISTIC/TANH use math.exp/tanh: TFLM uses expf/tanhf, the last bit may differ.
    """
    exp, tanh = math.exp, math.tanh
    op = p[1]
    alpha = bits_float(p[2])
    for i in range(p[0]):
        x = a[i]
        if op == UF_RELU:
            out[i] = x if x > 0.0 else 0.0
        elif op == UF_RELU6:
            out[i] = 6.0 if x > 6.0 else (0.0 if x < 0.0 else x)
        elif op == UF_RELU_N1_TO_1:
            out[i] = 1.0 if x > 1.0 else (-1.0 if x < -1.0 else x)
        elif op == UF_LOGISTIC:
            if x > 16.619047164916992:
                out[i] = 1.0
            elif x < -9.0:
                out[i] = exp(x)
            else:
                out[i] = 1.0 / (1.0 + exp(-x))
        elif op == UF_TANH:
            out[i] = tanh(x)
        elif op == UF_HARD_SWISH:
            out[i] = x + 3.0
            r = out[i]
            out[i] = x * (6.0 if r > 6.0 else (0.0 if r < 0.0 else r))
            out[i] = out[i] / 6.0
        else:
            out[i] = x if x > 0.0 else x * alpha


# ---------------------------------------------------------------- reductions
def reduce_int(out, a, b, p):
    """Quantized MEAN / SUM (int8 or int16), TFLM QuantizedMeanOrSum.

    p[0] n_out, p[1] n_red (input elements per output), p[2] input zero point,
    p[3] output zero point, p[4] multiplier, p[5] shift (MEAN: already divided by n_red
    as TFLM does at eval), p[6] qmin, p[7] qmax,
    p[8:8+n_out] input offset of each output's first element,
    p[8+n_out:8+n_out+n_red] offsets of the reduced elements relative to that.
    out[o] = clamp(mbqm(sum - in_zp * n_red, mult, shift) + out_zp)
    """
    n_out, n_red, izp = p[0], p[1], p[2]
    ozp, mult, shift = p[3], p[4], p[5]
    lo, hi = p[6], p[7]
    red = 8 + n_out
    bias = izp * n_red
    for o in range(n_out):
        base = p[8 + o]
        s = 0
        for r in range(red, red + n_red):
            s += a[base + p[r]]
        x = _mbqm(_wrap32(s - bias), mult, shift) + ozp
        out[o] = lo if x < lo else (hi if x > hi else x)


def reduce_max(out, a, b, p):
    """REDUCE_MAX on raw values (int8, int16, int32 or float32).

    p[0] n_out, p[1] n_red, p[2] unused, then offsets laid out as in reduce_int but starting
    at p[3]: p[3:3+n_out] output bases, then n_red reduced offsets.
    """
    n_out, n_red = p[0], p[1]
    red = 3 + n_out
    for o in range(n_out):
        base = p[3 + o]
        m = a[base + p[red]]
        for r in range(red + 1, red + n_red):
            x = a[base + p[r]]
            if x > m:
                m = x
        out[o] = m


def reduce_float(out, a, b, p):
    """float32 SUM / MEAN / REDUCE_MAX in TFLM's summation order (float32 accumulator).

    p[0] n_out, p[1] n_red, p[2] op code (RF_*), then offsets as in reduce_max (from p[3]).
    """
    n_out, n_red, op = p[0], p[1], p[2]
    if op == RF_MAX:
        reduce_max(out, a, b, p)
        return
    red = 3 + n_out
    for o in range(n_out):
        base = p[3 + o]
        out[o] = 0.0
        for r in range(red, red + n_red):
            out[o] = out[o] + a[base + p[r]]     # the float32 store rounds every partial sum
        if op == RF_MEAN:
            out[o] = out[o] / n_red


# ---------------------------------------------------------------- resize
def resize_nearest(out, a, b, p):
    """RESIZE_NEAREST_NEIGHBOR on byte views (`out`, `a` are the tensors' raw bytes, so any
    element type works): copies one pixel's bytes at a time (byte loop: a slice would
    allocate a memoryview per pixel).

    p[0] batches, p[1] out_h, p[2] out_w, p[3] pixel size in bytes (depth * itemsize),
    p[4] input batch stride in bytes,
    p[5:5+out_h] input row byte offset (in_y * in_w * pixel) per output row,
    p[5+out_h:5+out_h+out_w] input column byte offset (in_x * pixel) per output column.
    """
    nb, oh, ow = p[0], p[1], p[2]
    pix, bstride = p[3], p[4]
    xs = 5 + oh
    o = 0
    for bi in range(nb):
        base = bi * bstride
        for y in range(oh):
            row = base + p[5 + y]
            for x in range(ow):
                i = row + p[xs + x]
                for k in range(i, i + pix):
                    out[o] = a[k]
                    o += 1


def resize_bilinear_int8(out, a, b, p):
    """RESIZE_BILINEAR int8, TFLM ResizeBilinearInteger (10-bit fixed point, double rounding).

    p[0] batches, p[1] out_h, p[2] out_w, p[3] depth, p[4] in_h, p[5] in_w,
    then per output row y three ints (y0, y1, input_y scaled by 1024),
    then per output column x three ints (x0, x1, input_x scaled by 1024).
    """
    nb, oh, ow = p[0], p[1], p[2]
    depth, ih, iw = p[3], p[4], p[5]
    xs = 6 + 3 * oh
    row_stride = iw * depth
    o = 0
    for bi in range(nb):
        base = bi * ih * row_stride
        for y in range(oh):
            y0, y1, iy = p[6 + 3 * y], p[7 + 3 * y], p[8 + 3 * y]
            dy = iy - (y0 << 10)
            r0 = base + y0 * row_stride
            r1 = base + y1 * row_stride
            for x in range(ow):
                x0, x1, ix = p[xs + 3 * x], p[xs + 3 * x + 1], p[xs + 3 * x + 2]
                dx = ix - (x0 << 10)
                w00 = (1024 - dy) * (1024 - dx)
                w10 = dy * (1024 - dx)
                w01 = (1024 - dy) * dx
                w11 = dy * dx
                i00 = r0 + x0 * depth
                i10 = r1 + x0 * depth
                i01 = r0 + x1 * depth
                i11 = r1 + x1 * depth
                for c in range(depth):
                    v = a[i00 + c] * w00 + a[i10 + c] * w10 + a[i01 + c] * w01 + a[i11 + c] * w11
                    if v > 0:
                        v = (v + (1 << 19)) >> 20
                    else:
                        v = -((-v + (1 << 19)) >> 20)
                    out[o] = v
                    o += 1


_F32 = array('f', [0.0])


def _f32mul(x, y):
    _F32[0] = x * y
    return _F32[0]


def _f32add(x, y):
    _F32[0] = x + y
    return _F32[0]


def resize_bilinear_float(out, a, b, p):
    """RESIZE_BILINEAR float32, TFLM ResizeBilinear with its float32 evaluation order.

    p[0] batches, p[1] out_h, p[2] out_w, p[3] depth, p[4] in_h, p[5] in_w,
    then per output row y four ints (y0, y1, float32 bits of 1 - dy, float32 bits of dy)
    with dy = input_y - y0, then per output column x the same four for x.
    out = ((v00*(1-dy))*(1-dx) + (v10*dy)*(1-dx)) + (v01*(1-dy))*dx + (v11*dy)*dx,
    every operation rounded to float32.
    """
    nb, oh, ow = p[0], p[1], p[2]
    depth, ih, iw = p[3], p[4], p[5]
    xs = 6 + 4 * oh
    row_stride = iw * depth
    mul, add = _f32mul, _f32add
    o = 0
    for bi in range(nb):
        base = bi * ih * row_stride
        for y in range(oh):
            k = 6 + 4 * y
            r0 = base + p[k] * row_stride
            r1 = base + p[k + 1] * row_stride
            wy0, wy1 = bits_float(p[k + 2]), bits_float(p[k + 3])
            for x in range(ow):
                k = xs + 4 * x
                x0, x1 = p[k] * depth, p[k + 1] * depth
                wx0, wx1 = bits_float(p[k + 2]), bits_float(p[k + 3])
                for c in range(depth):
                    s = add(mul(mul(a[r0 + x0 + c], wy0), wx0), mul(mul(a[r1 + x0 + c], wy1), wx0))
                    s = add(s, mul(mul(a[r0 + x1 + c], wy0), wx1))
                    out[o] = add(s, mul(mul(a[r1 + x1 + c], wy1), wx1)) + 0.0
                    o += 1


# ---------------------------------------------------------------- gemmlowp fixed point (int32)
def sat_mul_pot(x, exponent):
    """gemmlowp SaturatingRoundingMultiplyByPOT<exponent> on an int32."""
    if exponent > 0:
        thr = (1 << (31 - exponent)) - 1
        if x > thr:
            return INT32_MAX
        if x < -thr:
            return INT32_MIN
        return x << exponent
    if exponent < 0:
        return _rdbp(x, -exponent)
    return x


def rounding_half_sum(a, b):
    s = a + b
    if s >= 0:
        return (s + 1) >> 1
    return -((1 - s) >> 1)


def _exp_quarter(a):
    """exp(x) for x in [-1/4, 0), F0 in and out."""
    x = a + (1 << 28)
    x2 = _srdhm(x, x)
    x3 = _srdhm(x2, x)
    x4 = _srdhm(x2, x2)
    t = _rdbp(_srdhm(_rdbp(x4, 2) + x3, 715827883) + x2, 1)
    return 1895147668 + _srdhm(1895147668, x + t)


_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
               (2, 39332535), (3, 720401), (4, 242))


def exp_on_negative_values(a, integer_bits):
    """gemmlowp exp_on_negative_values: a raw F<integer_bits> <= 0 -> raw F0."""
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = (a & (quarter - 1)) - quarter
    result = _exp_quarter(sat_mul_pot(a_mod, integer_bits))
    remainder = _wrap32(a_mod - a)
    for exponent, mult in _EXP_BARREL:
        if integer_bits > exponent and remainder & (1 << (frac + exponent)):
            result = _srdhm(result, mult)
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = INT32_MAX
    return result


def _newton_over_one_plus(a):
    """Shared Newton-Raphson core of gemmlowp's x-in-[0,1] reciprocals; returns (F2 x)."""
    half_den = rounding_half_sum(a, INT32_MAX)
    x = 1515870810 + _srdhm(half_den, -1010580540)
    for _ in range(3):
        one_minus = (1 << 29) - _srdhm(half_den, x)
        x = x + sat_mul_pot(_srdhm(x, one_minus), 2)
    return x


def one_over_one_plus_x(a):
    """gemmlowp one_over_one_plus_x_for_x_in_0_1 (raw F0 -> raw F0)."""
    return sat_mul_pot(_newton_over_one_plus(a), 1)


def one_minus_x_over_one_plus_x(a):
    """gemmlowp one_minus_x_over_one_plus_x_for_x_in_0_1 (raw F0 -> raw F0)."""
    return sat_mul_pot(_newton_over_one_plus(a) - (1 << 29), 2)


def fixed_logistic(a, integer_bits):
    """gemmlowp logistic: raw F<integer_bits> -> raw F0."""
    if a == 0:
        return 1 << 30
    if a > 0:
        return one_over_one_plus_x(exp_on_negative_values(-a, integer_bits))
    return INT32_MAX - one_over_one_plus_x(exp_on_negative_values(_wrap32(a), integer_bits))


def fixed_tanh(a, integer_bits):
    """gemmlowp tanh: raw F<integer_bits> -> raw F0."""
    if a == 0:
        return 0
    n = a if a < 0 else -a
    t = one_minus_x_over_one_plus_x(exp_on_negative_values(n, integer_bits + 1))
    return -t if a < 0 else t


def leading_zeros32(x):
    """CountLeadingZeros of x as uint32."""
    x &= 0xFFFFFFFF
    if x == 0:
        return 32
    n = 0
    while not x & 0x80000000:
        x <<= 1
        n += 1
    return n


def leading_sign_bits(x):
    """CountLeadingSignBits of an int32 (31 for 0)."""
    if x >= 0:
        return leading_zeros32(x) - 1
    return leading_zeros32(~x) - 1
