"""RELU RELU6 RELU_N1_TO_1 LEAKY_RELU PRELU HARD_SWISH LOGISTIC TANH (TFLM semantics).

int8 -> int8 activations become a 256-entry lookup table computed at prepare time with TFLM's
exact integer algorithm (so every backend only needs the table kernel); int16 ones run
per-element kernels; float32 ones run unary_float. RELU_N1_TO_1 is not in TFLM: it follows
TFLite's ReluX (requantize, clamp to the quantized [-1, 1]).
"""

from .. import quant
from ..kernels import codes as K
from .elementwise import (unsupported, io_tensors, scale_of, zp_of, need_scale, dbl,
                          binary_tensors, check_output_size, unary_run, binary_run,
                          signed_float_bits, QRANGE)


def _unary(m, op):
    in_t, out_t = io_tensors(m, op, 1)
    if in_t.dtype != out_t.dtype:
        raise unsupported(op, 'input %s but output %s' % (in_t.dtype, out_t.dtype))
    check_output_size(op, out_t, in_t.size)
    return in_t, out_t


def _lut_run(m, op, in_t, out_t, fn):
    """int8 -> int8 via table: fn(q) gives the output for the signed input value q."""
    table = [0] * 256
    for v in range(256):
        q = v - 256 if v > 127 else v
        table[v] = fn(q)
    return unary_run(m, op, 'lut_int8', [in_t.size] + table)


def _float_run(m, op, in_t, code, alpha_bits=0):
    return unary_run(m, op, 'unary_float', [in_t.size, code, alpha_bits])


def _clamp(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


def _relu_params(op, in_t, out_t, act_min, act_max):
    """TFLM CalculateReluOpData: (multiplier, shift, qmin, qmax); act_max None = +inf."""
    lo, hi = QRANGE[out_t.dtype]
    so = scale_of(out_t)
    mult, shift = quant.quantize_multiplier(quant.ddiv(dbl(scale_of(in_t)), dbl(so)))
    qmin = max(lo, zp_of(out_t) + quant.tflite_round(quant.f32(act_min / quant.f32(so))))
    qmax = hi
    if act_max is not None:
        qmax = min(hi, zp_of(out_t) + quant.tflite_round(quant.f32(act_max / quant.f32(so))))
    return mult, shift, qmin, qmax


def _prepare_relu_x(m, op, act_min, act_max, float_code):
    in_t, out_t = _unary(m, op)
    dt = in_t.dtype
    if dt == 'float32':
        return _float_run(m, op, in_t, float_code)
    if dt not in QRANGE:
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, in_t, out_t)
    if dt == 'int16' and (zp_of(in_t) or zp_of(out_t)):
        raise unsupported(op, 'int16 needs zero points 0')
    mult, shift, qmin, qmax = _relu_params(op, in_t, out_t, act_min, act_max)
    izp, ozp = zp_of(in_t), zp_of(out_t)
    if dt == 'int8':
        return _lut_run(m, op, in_t, out_t, lambda q: _clamp(
            ozp + quant.multiply_by_quantized_multiplier(q - izp, mult, shift), qmin, qmax))
    return unary_run(m, op, 'requant_int16', [in_t.size, izp, ozp, mult, shift, mult, shift, 0,
                                              qmin, qmax, 1])


def prepare_relu(m, op):
    return _prepare_relu_x(m, op, 0.0, None, K.UF_RELU)


def prepare_relu_n1_to_1(m, op):
    return _prepare_relu_x(m, op, -1.0, 1.0, K.UF_RELU_N1_TO_1)


def prepare_relu6(m, op):
    """TFLM Relu6: clamps to the input's quantized 0 and 6, no requantization."""
    in_t, out_t = _unary(m, op)
    dt = in_t.dtype
    if dt == 'float32':
        return _float_run(m, op, in_t, K.UF_RELU6)
    if dt not in QRANGE:
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, in_t)
    lo, hi = QRANGE[dt]
    zero = zp_of(in_t)
    six = _clamp(zero + quant.tflite_round(quant.f32(6.0 / quant.f32(scale_of(in_t)))), lo, hi)
    if dt == 'int8':
        return _lut_run(m, op, in_t, out_t, lambda q: _clamp(q, zero, six))
    return unary_run(m, op, 'requant_int16', [in_t.size, 0, 0, 0, 0, 0, 0, 0, zero, six, 0])


def prepare_leaky_relu(m, op):
    in_t, out_t = _unary(m, op)
    dt = in_t.dtype
    alpha = quant.f32(op.options.get('alpha', 0.0))
    if dt == 'float32':
        return _float_run(m, op, in_t, K.UF_LEAKY_RELU, signed_float_bits(alpha))
    if dt not in QRANGE:
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, in_t, out_t)
    si, so = dbl(scale_of(in_t)), dbl(scale_of(out_t))
    ma, sa = quant.quantize_multiplier(quant.ddiv(quant.dmul(si, dbl(alpha)), so))
    mi, shi = quant.quantize_multiplier(quant.ddiv(si, so))
    negate = 1 if ma < 0 else 0
    ma = -ma if ma < 0 else ma
    izp, ozp = zp_of(in_t), zp_of(out_t)
    lo, hi = QRANGE[dt]
    if dt == 'int8':
        return _lut_run(m, op, in_t, out_t, lambda q: _clamp(
            ozp + _leaky(q - izp, mi, shi, ma, sa, negate), lo, hi))
    return unary_run(m, op, 'requant_int16', [in_t.size, izp, ozp, mi, shi, ma, sa, negate,
                                              lo, hi, 1])


def _leaky(x, mi, shi, ma, sa, negate):
    if x >= 0:
        return quant.multiply_by_quantized_multiplier(x, mi, shi)
    y = quant.multiply_by_quantized_multiplier(x, ma, sa)
    return -y if negate else y


def prepare_hard_swish(m, op):
    in_t, out_t = _unary(m, op)
    dt = in_t.dtype
    if dt == 'float32':
        return _float_run(m, op, in_t, K.UF_HARD_SWISH)
    if dt != 'int8':
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, in_t, out_t)
    f32 = quant.f32
    hires = f32(f32(1.0 / 128.0) * f32(scale_of(in_t)))
    out_m, out_e = quant.quantize_multiplier(quant.ddiv(dbl(hires), dbl(scale_of(out_t))))
    relu_m, relu_e = quant.quantize_multiplier(quant.ddiv(dbl(hires), dbl(3.0 / 32768.0)))
    if out_e > 0:
        raise unsupported(op, 'output multiplier exponent %d > 0' % out_e)
    params = (zp_of(in_t), zp_of(out_t), _to_int16_multiplier(out_m), out_e,
              _to_int16_multiplier(relu_m), relu_e)
    return _lut_run(m, op, in_t, out_t, lambda q: hard_swish_int8(q, params))


def _to_int16_multiplier(m32):
    """TFLM DownScaleInt32ToInt16Multiplier."""
    if m32 >= 2147483647 - (1 << 15):
        return 32767
    return (m32 + (1 << 15)) >> 16


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int16."""
    if a == b == -32768:
        return 32767
    ab = a * b
    nudge = (1 << 14) if ab >= 0 else 1 - (1 << 14)
    s = ab + nudge
    return s >> 15 if s >= 0 else -((-s) >> 15)


def _sat16(x):
    return -32768 if x < -32768 else (32767 if x > 32767 else x)


def _doubling_high16(a, b):
    """TFLM hard_swish SaturatingDoublingHighMul (truncating, int16)."""
    if a == b == -32768:
        return 32767
    ab = a * b
    return ab >> 15 if ab >= 0 else -((-ab) >> 15)


def hard_swish_int8(q, params):
    """TFLM reference HardSwish<int8_t> for one input value q."""
    izp, ozp, out_m16, out_e, relu_m16, relu_e = params
    hires = (q - izp) * 128
    preshift = _srdhm16(hires, out_m16)
    reluish = hires
    if relu_e > 0:
        reluish = _sat16(reluish << (relu_e - 1))
    reluish = _srdhm16(reluish, relu_m16)
    if relu_e > 0:
        reluish = _sat16(reluish << 1)
    if relu_e < 0:
        reluish = quant.rounding_divide_by_pot(reluish, -relu_e)
    reluish = (reluish + (1 << 15)) >> 1
    out = quant.rounding_divide_by_pot(_doubling_high16(reluish, preshift), -out_e) + ozp
    return _clamp(_wrap16(out), -128, 127)


def _wrap16(x):
    x &= 0xFFFF
    return x - 0x10000 if x & 0x8000 else x


def prepare_logistic(m, op):
    return _prepare_sigmoid_like(m, op, True)


def prepare_tanh(m, op):
    return _prepare_sigmoid_like(m, op, False)


def _prepare_sigmoid_like(m, op, logistic):
    in_t, out_t = _unary(m, op)
    dt = in_t.dtype
    if dt == 'float32':
        return _float_run(m, op, in_t, K.UF_LOGISTIC if logistic else K.UF_TANH)
    if dt == 'int8':
        need_scale(op, in_t)
        if logistic and zp_of(out_t) != -128:
            raise unsupported(op, 'int8 LOGISTIC needs output zero point -128')
        mult, shift = quant.quantize_multiplier(quant.dmul(dbl(scale_of(in_t)), (1, 27)))
        radius = _input_radius(shift)
        izp = zp_of(in_t)
        return _lut_run(m, op, in_t, out_t,
                        lambda q: _sigmoid_like_int8(q - izp, radius, mult, shift, logistic))
    if dt == 'int16':
        need_scale(op, in_t, out_t)
        mult, shift = _int16_input_multiplier(op, in_t, out_t, logistic)
        name = 'logistic_int16' if logistic else 'tanh_int16'
        return unary_run(m, op, name, [in_t.size, mult, shift])
    raise unsupported(op, 'dtype %s' % dt)


def _input_radius(left_shift):
    """TFLM CalculateInputRadius(4, left_shift, 31): floor(15 * 2**27 / 2**left_shift)."""
    v = 15 << 27
    return v >> left_shift if left_shift >= 0 else v << -left_shift


def _sigmoid_like_int8(x, radius, mult, shift, logistic):
    """TFLM's int8 LOGISTIC (or TANH) of x, the input minus its zero point."""
    if x <= -radius:
        return -128
    if x >= radius:
        return 127
    from ..kernels.python_eltwise import fixed_logistic, fixed_tanh   # gemmlowp, at prepare only
    q4 = quant.multiply_by_quantized_multiplier(x, mult, shift)
    if logistic:
        y = quant.rounding_divide_by_pot(fixed_logistic(q4, 4), 23) - 128
    else:
        y = quant.rounding_divide_by_pot(fixed_tanh(q4, 4), 24)
    return _clamp(y, -128, 127)


def _checked_log2(x):
    """TFLM CheckedLog2: (rounded log2, whether x is within 1e-3 of a power of two)."""
    import math
    lg = math.log(x) / math.log(2.0)
    r = quant.tflite_round(lg)
    return r, abs(lg - r) < 1e-3


def _int16_input_multiplier(op, in_t, out_t, logistic):
    """TFLM's int16 LOGISTIC/TANH prepare, resolved to a nonzero multiplier and shift."""
    if zp_of(in_t) or zp_of(out_t):
        raise unsupported(op, 'int16 needs zero points 0')
    out_log2, out_pot = _checked_log2(scale_of(out_t))
    if not out_pot or out_log2 != -15:
        raise unsupported(op, 'int16 output scale must be 2**-15')
    log2, pot = _checked_log2(scale_of(in_t))
    shift = 12 + log2
    pot = pot and (shift == 0 if logistic else shift in (0, 1))
    if pot:
        return 3 << shift, 0
    mm, me = quant.dmul(dbl(scale_of(in_t)), (12288, 0))   # scale * 4096 * 3, exact
    shift = 0
    while _dbl_le(mm, me, 32767, -1) and shift <= 30:      # multiplier <= 32767 / 2
        shift += 1
        me += 1
    mult = mm << me if me >= 0 else mm >> -me              # static_cast<int32_t>, mm > 0
    return mult, shift


def _dbl_le(m1, e1, m2, e2):
    return quant.dcmp((m1, e1), (m2, e2)) <= 0


def prepare_prelu(m, op):
    a_t, alpha_t, out_t, header = binary_tensors(m, op)
    dt = out_t.dtype
    if a_t.dtype != dt:
        raise unsupported(op, 'input %s but output %s' % (a_t.dtype, dt))
    if dt == 'float32':
        if alpha_t.dtype != 'float32':
            raise unsupported(op, 'float PRELU needs a float32 alpha')
        return binary_run(m, op, 'binary_float', header + [K.OP_PRELU, 0])
    if dt not in QRANGE or alpha_t.dtype != 'int8':
        raise unsupported(op, 'input %s with alpha %s' % (dt, alpha_t.dtype))
    need_scale(op, a_t, alpha_t, out_t)
    si, sa, so = dbl(scale_of(a_t)), dbl(scale_of(alpha_t)), dbl(scale_of(out_t))
    m1, s1 = quant.quantize_multiplier(quant.ddiv(si, so))
    m2, s2 = quant.quantize_multiplier(quant.ddiv(quant.dmul(si, sa), so))
    lo, hi = QRANGE[dt]
    return binary_run(m, op, 'prelu_q', header + [-zp_of(a_t), -zp_of(alpha_t), zp_of(out_t),
                                                  m1, s1, m2, s2, lo, hi])


OPS = {
    'RELU': prepare_relu, 'RELU6': prepare_relu6, 'RELU_N1_TO_1': prepare_relu_n1_to_1,
    'LEAKY_RELU': prepare_leaky_relu, 'PRELU': prepare_prelu, 'HARD_SWISH': prepare_hard_swish,
    'LOGISTIC': prepare_logistic, 'TANH': prepare_tanh,
}
