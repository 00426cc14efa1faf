"""Exact integer versions of TFLite Micro's quantization arithmetic.

TFLM derives requantization multipliers from float32 scales using C++ `double`
arithmetic. Boards may only have float32, so doubles are emulated exactly with
integers here. A double is a tuple (m, e) meaning m * 2**e, m a signed int of at
most 53 significant bits (already correctly rounded), (0, 0) for zero.

    d = dbl(x)              # float32 value of x (a float or a float32 read from
                            # the model) as an exact double
    d = dbl_bits(u)         # same, from the float32 bit pattern u
    d = dbl_int(n)          # an integer as a double (|n| < 2**53 is exact)
    dmul(a, b), ddiv(a, b), dadd(a, b), dsub(a, b)   # IEEE round-to-nearest-even
    dcmp(a, b) -> -1/0/1;  to_float(d) (approximate, for messages)
    quantize_multiplier(d) -> (multiplier, shift)    # TFLM QuantizeMultiplier
    quantize_multiplier_smaller_than_one_exp(d)      # -> (multiplier, left_shift<=0)
    quantize_multiplier_greater_than_one(d)          # -> (multiplier, left_shift>=0)

Prepare-time helpers:
    f32(x)                              round to float32 (a correctly rounded float32
                                        op when x is the double result of one)
    tflite_round(x)                     std::round: halves away from zero
    quantize_real(v, scale, zp)         TFLM Quantize() for activation bounds
    activation_range_quantized(act, scale, zp, dtype) -> (min, max)
    activation_range_float(act) -> (min, max)
    per_channel_multipliers(in_scale, filter_scales, out_scale, n) -> (mults, shifts)
        exactly PopulateConvolutionQuantizationParams

Runtime integer ops (gemmlowp / TFLM semantics, int32 inputs):
    srdhm(a, b)                         SaturatingRoundingDoublingHighMul
    rounding_divide_by_pot(x, exponent) RoundingDivideByPOT
    multiply_by_quantized_multiplier(x, multiplier, shift)   (double rounding,
        TFLM's default build; x * 2**left_shift wraps to int32 like the C code)
    multiply_by_quantized_multiplier_smaller_than_one_exp(x, m, left_shift)
    multiply_by_quantized_multiplier_greater_than_one(x, m, left_shift)
    multiply_by_quantized_multiplier_64(x, multiplier, shift)  int64-x variant
        used by int16-activation conv/FC
"""
import struct
from array import array
from . import compact

INT32_MIN = -2147483648
INT32_MAX = 2147483647
_EMIN = -1074          # exponent of the smallest double subnormal
_EMAX_M = 971          # largest e with a 53-bit m still finite (m * 2**971 < 2**1024)

ZERO = (0, 0)


def _bitlen(n):
    """Bit length of n >= 0 (MicroPython ints have no bit_length)."""
    k = 0
    while n >> (k + 32):
        k += 32
    while n >> k:
        k += 1
    return k


def _round(m, e, sticky=0):
    """Round the exact value sign(m) * (|m| + sticky fraction) * 2**e to a double.

    sticky is nonzero when bits below m were discarded (they are < 1 unit of m)."""
    if m == 0:
        return ZERO
    neg = m < 0
    if neg:
        m = -m
    shift = _bitlen(m) - 53
    if e + shift < _EMIN:
        shift = _EMIN - e
    if shift > 0:
        low = m & ((1 << shift) - 1)
        m >>= shift
        e += shift
        half = 1 << (shift - 1)
        if low > half or (low == half and (sticky or (m & 1))):
            m += 1
            if m >> 53:
                m >>= 1
                e += 1
    if m and e > _EMAX_M:
        raise OverflowError('double overflow')
    if m == 0:
        return ZERO
    return (-m if neg else m, e)


def dbl_bits(u):
    """The float32 with bit pattern u as an exact double."""
    exp = (u >> 23) & 0xFF
    frac = u & 0x7FFFFF
    if exp == 0xFF:
        raise ValueError('scale is inf or nan')
    if exp == 0:
        m, e = frac, -149
    else:
        m, e = frac | 0x800000, exp - 150
    if u >> 31:
        m = -m
    return _round(m, e)


def dbl(x):
    """float32(x) as an exact double."""
    return dbl_bits(struct.unpack('<I', struct.pack('<f', x))[0])


def dbl_int(n):
    return _round(n, 0)


def dmul(a, b):
    return _round(a[0] * b[0], a[1] + b[1])


def ddiv(a, b):
    if b[0] == 0:
        raise ZeroDivisionError('double division by zero')
    if a[0] == 0:
        return ZERO
    na, nb = abs(a[0]), abs(b[0])
    # scale the numerator so the integer quotient has at least 55 bits
    k = 55 + _bitlen(nb) - _bitlen(na)
    if k < 0:
        k = 0
    q, r = divmod(na << k, nb)
    if (a[0] < 0) != (b[0] < 0):
        q = -q
    return _round(q, a[1] - b[1] - k, r)


def dadd(a, b):
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    e = a[1] if a[1] < b[1] else b[1]
    return _round((a[0] << (a[1] - e)) + (b[0] << (b[1] - e)), e)


def dsub(a, b):
    return dadd(a, (-b[0], b[1]))


def dcmp(a, b):
    d = dsub(a, b)[0]
    return (d > 0) - (d < 0)


def to_float(d):
    m, e = d
    return m * 2.0 ** e if e > -1000 else 0.0


def _frexp(d):
    """(m, n, exponent) with |d| = m * 2**-n * 2**exponent, m * 2**-n in [0.5, 1)."""
    m, e = d
    n = _bitlen(abs(m))
    return m, n, e + n


def quantize_multiplier(d):
    """TFLM QuantizeMultiplier(double) -> (int32 multiplier, shift)."""
    m, e = d
    if m == 0:
        return 0, 0
    m, n, shift = _frexp(d)
    # q_fixed = round_half_away(q * 2**31), q = m * 2**-n
    a = abs(m)
    if n > 31:
        a = (a + (1 << (n - 32))) >> (n - 31)
    else:
        a <<= 31 - n
    if a == 1 << 31:
        a >>= 1
        shift += 1
    if shift < -31:
        return 0, 0
    return (-a if m < 0 else a), shift


def quantize_multiplier_smaller_than_one_exp(d):
    if not (0 < d[0] and dcmp(d, (1, 0)) < 0):
        raise ValueError('multiplier %r not in (0, 1)' % to_float(d))
    mult, shift = quantize_multiplier(d)
    if shift > 0:
        raise ValueError('multiplier shift %d > 0' % shift)
    return mult, shift


def quantize_multiplier_greater_than_one(d):
    if dcmp(d, (1, 0)) <= 0:
        raise ValueError('multiplier %r not > 1' % to_float(d))
    mult, shift = quantize_multiplier(d)
    if shift < 0:
        raise ValueError('multiplier shift %d < 0' % shift)
    return mult, shift


def wrap32(x):
    x &= 0xFFFFFFFF
    return x - 0x100000000 if x & 0x80000000 else x


def srdhm(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul for int32 a, b."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    if ab >= 0:
        return (ab + (1 << 30)) >> 31
    return -((-(ab + 1 - (1 << 30))) >> 31)   # C division truncates toward zero


def rounding_divide_by_pot(x, exponent):
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def multiply_by_quantized_multiplier(x, multiplier, shift):
    if shift > 0:
        return srdhm(wrap32(x << shift), multiplier)
    return rounding_divide_by_pot(srdhm(x, multiplier), -shift)


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, left_shift):
    return rounding_divide_by_pot(srdhm(x, multiplier), -left_shift)


def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift):
    return srdhm(wrap32(x << left_shift), multiplier)


def multiply_by_quantized_multiplier_64(x, multiplier, shift):
    """TFLM MultiplyByQuantizedMultiplier(int64 x, ...) (int16 activations)."""
    reduced = (multiplier + (1 << 15)) >> 16 if multiplier < 0x7FFF0000 else 0x7FFF
    total_shift = 15 - shift
    return wrap32((x * reduced + (1 << (total_shift - 1))) >> total_shift)


# ---------------------------------------------------------------- float32 helpers (prepare)

def f32(x):
    """x rounded to float32 (a correctly rounded float32 op when x is a double result)."""
    return struct.unpack('<f', struct.pack('<f', x))[0]


def tflite_round(x):
    """TfLiteRound / std::round: nearest integer, halves away from zero."""
    q = int(x)
    frac = x - q
    if frac >= 0.5:
        q += 1
    elif frac <= -0.5:
        q -= 1
    return q


def quantize_real(value, scale, zero_point):
    """TFLM's Quantize() used for activation ranges: zp + round(float32(value / scale))."""
    return zero_point + tflite_round(f32(f32(value) / f32(scale)))


QRANGE = {'int8': (-128, 127), 'uint8': (0, 255), 'int16': (-32768, 32767)}
FLOAT_MAX = 3.4028234663852886e38


def activation_range_quantized(act, scale, zero_point, dtype):
    """TFLM CalculateActivationRangeQuantized -> (act_min, act_max); ValueError for an
    activation it does not fuse (TANH, SIGN_BIT, ...)."""
    qmin, qmax = QRANGE[dtype]
    if act == 'NONE':
        return qmin, qmax
    if act == 'RELU':
        return max(qmin, quantize_real(0.0, scale, zero_point)), qmax
    if act == 'RELU6':
        return (max(qmin, quantize_real(0.0, scale, zero_point)),
                min(qmax, quantize_real(6.0, scale, zero_point)))
    if act == 'RELU_N1_TO_1':
        return (max(qmin, quantize_real(-1.0, scale, zero_point)),
                min(qmax, quantize_real(1.0, scale, zero_point)))
    raise ValueError('fused activation %s not supported' % act)


def activation_range_float(act):
    if act == 'NONE':
        return -FLOAT_MAX, FLOAT_MAX
    if act == 'RELU':
        return 0.0, FLOAT_MAX
    if act == 'RELU6':
        return 0.0, 6.0
    if act == 'RELU_N1_TO_1':
        return -1.0, 1.0
    raise ValueError('fused activation %s not supported' % act)


def per_channel_multipliers(input_scale, filter_scales, output_scale, n):
    """TFLM PopulateConvolutionQuantizationParams: for each of n channels,
    QuantizeMultiplier((double)in * (double)filter[c] / (double)out).
    filter_scales: a float or a tuple (length 1 broadcasts). -> (mults, shifts) array('i')s
    (lists when a .tmdl tape replays them); repeated filter scales are computed once."""
    stored = compact.replay_multipliers(input_scale, filter_scales, output_scale, n)
    if stored is not None:      # a .tmdl carries the results (tinyml convert)
        return stored
    if not isinstance(filter_scales, (tuple, list)):
        filter_scales = (filter_scales,)
    din = dbl(input_scale)
    dout = dbl(output_scale)
    mults = array('i')
    shifts = array('i')
    last_fs = None
    r = None
    for c in range(n):
        fs = filter_scales[c] if len(filter_scales) > 1 else filter_scales[0]
        if fs != last_fs:       # neighbouring channels often share a scale (or all do)
            r = quantize_multiplier(ddiv(dmul(din, dbl(fs)), dout))
            last_fs = fs
        mults.append(r[0])
        shifts.append(r[1])
    return mults, shifts
