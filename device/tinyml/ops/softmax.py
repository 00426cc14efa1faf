"""SOFTMAX (int8 -> int8/int16, float32) and LOG_SOFTMAX (int8, float32), TFLM semantics."""
from array import array

from .. import quant
from .conv import fail, unsupported, tensor, scale_tuple, zero_point, kernel, binder

SCALED_DIFF_INTEGER_BITS = 5


def softmax_int8_params(beta, input_scale):
    """TFLM PreprocessSoftmaxScaling + CalculateInputRadius for int8 input
    -> (input_multiplier, input_left_shift, diff_min)."""
    real = quant.dmul(quant.dmul(quant.dbl(beta), quant.dbl(input_scale)),
                      quant.dbl_int(1 << (31 - SCALED_DIFF_INTEGER_BITS)))
    cap = quant.dbl_int((1 << 31) - 1)
    if quant.dcmp(real, cap) > 0:
        real = cap
    mult, shift = quant.quantize_multiplier_greater_than_one(real)
    # floor(((1 << 5) - 1) * 2**26 / 2**shift), exact in double
    radius = (((1 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS)) >> shift
    return mult, shift, -radius


def _rows_depth(op, in_t, out_t):
    if not in_t.shape:
        raise fail(op, 'input must have at least one dimension')
    if tuple(in_t.shape) != tuple(out_t.shape):
        raise fail(op, 'input shape %r != output shape %r' % (in_t.shape, out_t.shape))
    depth = in_t.shape[-1]
    return (in_t.size // depth if depth else 0), depth


def _prepare(m, op, log):
    if not op.inputs or not op.outputs:
        raise fail(op, 'needs one input and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    out_t = tensor(m, op, op.outputs[0], 'output')
    rows, depth = _rows_depth(op, in_t, out_t)
    beta = op.options.get('beta', 1.0)
    if in_t.dtype == 'float32' and out_t.dtype == 'float32':
        params = array('i', [rows, depth])
        block = array('f', [beta])
        name = 'log_softmax_f32' if log else 'softmax_f32'
        return 0, binder(m, kernel(m, name, op), op.outputs[0], op.inputs[0], block, params)
    if log:
        return _prepare_log_int8(m, op, in_t, out_t, rows, depth)
    if in_t.dtype != 'int8' or out_t.dtype not in ('int8', 'int16'):
        raise unsupported(op, 'input %s, output %s' % (in_t.dtype, out_t.dtype))
    out_scale, out_zp = scale_tuple(out_t)[0], zero_point(out_t)
    if out_t.dtype == 'int8':
        if out_zp != -128 or quant.f32(out_scale) != 1.0 / 256:
            raise fail(op, 'int8 softmax output must have scale 1/256 and zero point -128')
        bits = 8
    else:
        if out_zp != -32768 or abs(out_scale - 1.0 / 65536) > 0.001 / 65536:
            raise fail(op, 'int16 softmax output must have scale 1/65536 and zero point -32768')
        bits = 16
    if not scale_tuple(in_t)[0] > 0:
        raise fail(op, 'input has no quantization scale')
    try:
        mult, shift, diff_min = softmax_int8_params(beta, scale_tuple(in_t)[0])
    except ValueError as e:
        raise fail(op, 'beta * input scale unusable: %s' % e)
    params = array('i', [rows, depth, mult, shift, diff_min, bits])
    return 0, binder(m, kernel(m, 'softmax_s8', op), op.outputs[0], op.inputs[0], None, params)


def log_softmax_int8_params(input_scale):
    """TFLM PreprocessLogSoftmaxScalingExp (beta 1) + CalculateInputRadius
    -> (input_multiplier, input_left_shift, diff_min, reverse_multiplier, reverse_shift)."""
    mult, shift, diff_min = softmax_int8_params(1.0, input_scale)
    divisor = quant.ddiv(quant.dbl_int(1 << (31 - shift)), quant.dbl_int(mult))
    rmult, rshift = quant.quantize_multiplier_smaller_than_one_exp(divisor)
    return mult, shift, diff_min, rmult, rshift


def _prepare_log_int8(m, op, in_t, out_t, rows, depth):
    if in_t.dtype != 'int8' or out_t.dtype != 'int8':
        raise unsupported(op, 'input %s, output %s' % (in_t.dtype, out_t.dtype))
    if zero_point(out_t) != 127 or quant.f32(scale_tuple(out_t)[0]) != 16.0 / 256:
        raise fail(op, 'int8 log softmax output must have scale 16/256 and zero point 127')
    if not scale_tuple(in_t)[0] > 0:
        raise fail(op, 'input has no quantization scale')
    try:
        params = log_softmax_int8_params(scale_tuple(in_t)[0])
    except ValueError as e:
        raise fail(op, 'input scale unusable: %s' % e)
    p = array('i', [rows, depth] + list(params))
    return 0, binder(m, kernel(m, 'log_softmax_s8', op), op.outputs[0], op.inputs[0], None, p)


def prepare_softmax(m, op):
    return _prepare(m, op, False)


def prepare_log_softmax(m, op):
    return _prepare(m, op, True)


OPS = {'SOFTMAX': prepare_softmax, 'LOG_SOFTMAX': prepare_log_softmax}
