"""FULLY_CONNECTED (int8 per-tensor / per-channel, int16x8, float32)."""
from array import array

from .. import quant
from .conv import (WeightsOf, check_dtypes, int16_bias, fail, unsupported, tensor,
                   const_data, bias_values, float_activation, float_block,
                   quantized_activation, channel_multipliers, scale_tuple, zero_point,
                   kernel, binder)


def check_bias_scale(m, op, s_in, s_w, s_out):
    """TFLM rejects a per-tensor FC whose bias scale strays from input*filter scale."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return
    s_b = scale_tuple(tensor(m, op, op.inputs[2], 'bias'))[0]
    if not s_b:
        return
    diff = abs(float(s_in) * float(s_w) - float(s_b))
    if diff / float(s_out) > 0.02:
        raise fail(op, 'bias scale %g is not input scale * weights scale' % s_b)


def fc_multipliers(m, op, in_t, w_t, out_t, n):
    """Per-channel filters: like conv. Per-tensor: TFLM GetQuantizedConvolutionMultipler as the
    reference build computes it, input*filter and the division all in double."""
    if len(scale_tuple(w_t)) > 1:
        return channel_multipliers(op, in_t, w_t, out_t, n, 0)
    s_in, s_w, s_out = scale_tuple(in_t)[0], scale_tuple(w_t)[0], scale_tuple(out_t)[0]
    if not (s_in > 0 and s_w > 0 and s_out > 0):
        raise fail(op, 'missing or non-positive quantization scale')
    check_bias_scale(m, op, s_in, s_w, s_out)
    prod = quant.dmul(quant.dbl(s_in), quant.dbl(s_w))
    mult, shift = quant.quantize_multiplier(quant.ddiv(prod, quant.dbl(s_out)))
    return array('i', [mult] * n), array('i', [shift] * n)


def fc_geometry(op, in_t, w_t, out_t):
    if len(w_t.shape) != 2:
        raise fail(op, 'weights must be 2-D [out, in]')
    out_d, depth = w_t.shape
    n = in_t.size
    if depth <= 0 or n % depth:
        raise fail(op, 'input size %d not a multiple of weights depth %d' % (n, depth))
    batches = n // depth
    if out_t.size != batches * out_d:
        raise fail(op, 'output shape %r, expected %d x %d values' % (out_t.shape, batches, out_d))
    return batches, depth, out_d


def prepare_fully_connected(m, op):
    if len(op.inputs) < 2 or not op.outputs:
        raise fail(op, 'needs input, weights (and bias) and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    w_t = tensor(m, op, op.inputs[1], 'weights')
    out_t = tensor(m, op, op.outputs[0], 'output')
    batches, depth, out_d = fc_geometry(op, in_t, w_t, out_t)
    dt = check_dtypes(op, in_t, w_t, out_t)
    weights = const_data(op, w_t, 'weights')
    if dt == ('float32', 'float32', 'float32'):
        params = array('i', [batches, depth, out_d, 0, 0, 0, 0])
        block = float_block(float_activation(op), bias_values(m, op, out_d, 'float32'),
                            weights)
        return binder(m, kernel(m, 'fully_connected_f32', op), op.outputs[0],
                         op.inputs[0], block, params)
    if dt == ('int8', 'int8', 'int8'):
        if zero_point(w_t) != 0:
            raise unsupported(op, 'weights zero point %d (must be 0)' % zero_point(w_t))
        mults, shifts = fc_multipliers(m, op, in_t, w_t, out_t, out_d)
        act = quantized_activation(op, out_t)
        params = array('i', (batches, depth, out_d, -zero_point(in_t), zero_point(out_t),
                             act[0], act[1]))
        for part in (bias_values(m, op, out_d), mults, shifts):
            params.extend(part)
        return binder(m, kernel(m, 'fully_connected_s8', op), op.outputs[0],
                         op.inputs[0], WeightsOf(op.inputs[1]), params)
    if dt == ('int16', 'int8', 'int16'):
        if zero_point(w_t) != 0:
            raise unsupported(op, 'weights zero point %d (must be 0)' % zero_point(w_t))
        mults, shifts = fc_multipliers(m, op, in_t, w_t, out_t, out_d)
        act = quantized_activation(op, out_t)
        acc64, lo, hi = int16_bias(m, op, out_d)
        params = array('i', (batches, depth, out_d, -zero_point(in_t), zero_point(out_t),
                             act[0], act[1], acc64))
        for part in (lo, hi, mults, shifts):
            params.extend(part)
        return binder(m, kernel(m, 'fully_connected_s16', op), op.outputs[0],
                         op.inputs[0], WeightsOf(op.inputs[1]), params)


OPS = {'FULLY_CONNECTED': prepare_fully_connected}
