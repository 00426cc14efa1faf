"""DEPTHWISE_CONV_2D (int8 per-channel, int16x8, float32).

Filter [1, k_h, k_w, in_c * depth_multiplier]; output channel oc reads input channel
oc // depth_multiplier.
"""
from array import array

from .conv import (WeightsOf, check_dtypes, int16_bias, fail, unsupported, tensor, option,
                   conv_geometry, build_params, const_data, bias_values, float_activation,
                   float_block, quantized_activation, channel_multipliers, zero_point,
                   kernel, binder)


def prepare_depthwise(m, op):
    if len(op.inputs) < 2 or not op.outputs:
        raise fail(op, 'needs input, filter (and bias) and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    w_t = tensor(m, op, op.inputs[1], 'filter')
    out_t = tensor(m, op, op.outputs[0], 'output')
    if len(w_t.shape) != 4 or w_t.shape[0] != 1:
        raise fail(op, 'filter must be [1, k_h, k_w, channels]')
    _, k_h, k_w, out_c = w_t.shape
    dil_h = option(op, 'dilation_h_factor', 1)
    dil_w = option(op, 'dilation_w_factor', 1)
    geo = conv_geometry(op, in_t, w_t, out_t, k_h, k_w, dil_h, dil_w)
    in_c = geo[3]
    if in_c == 0 or out_c % in_c:
        raise fail(op, 'filter channels %d not a multiple of input depth %d' % (out_c, in_c))
    dm = out_c // in_c
    declared = op.options.get('depth_multiplier', dm)
    if declared and declared != dm:
        raise fail(op, 'depth_multiplier %d but filter implies %d' % (declared, dm))
    if out_t.shape[3] != out_c:
        raise fail(op, 'output depth %d != filter channels %d' % (out_t.shape[3], out_c))
    dt = check_dtypes(op, in_t, w_t, out_t)
    weights = const_data(op, w_t, 'filter')
    if dt == ('float32', 'float32', 'float32'):
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, 0, 0, (0, 0), dm)
        block = float_block(float_activation(op), bias_values(m, op, out_c, 'float32'),
                            weights)
        return binder(m, kernel(m, 'depthwise_f32', op), op.outputs[0], op.inputs[0],
                         block, params)
    if dt == ('int8', 'int8', 'int8'):
        mults, shifts = channel_multipliers(op, in_t, w_t, out_t, out_c, 3)
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, -zero_point(in_t),
                              zero_point(out_t), quantized_activation(op, out_t), dm,
                              bias_values(m, op, out_c), mults, shifts)
        return binder(m, kernel(m, 'depthwise_s8', op), op.outputs[0], op.inputs[0],
                         WeightsOf(op.inputs[1]), params)
    if dt == ('int16', 'int8', 'int16'):
        if zero_point(in_t) != 0 or zero_point(out_t) != 0:
            raise unsupported(op, 'int16 activations need zero points 0')
        if len(op.inputs) >= 3 and op.inputs[2] >= 0 and \
                tensor(m, op, op.inputs[2], 'bias').dtype != 'int64':
            raise unsupported(op, 'int16 depthwise needs an int64 bias')
        mults, shifts = channel_multipliers(op, in_t, w_t, out_t, out_c, 3)
        _, lo, hi = int16_bias(m, op, out_c)
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, 0, 0,
                              quantized_activation(op, out_t), dm)
        params.append(1)
        for part in (lo, hi, mults, shifts):
            params.extend(part)
        return binder(m, kernel(m, 'depthwise_s16', op), op.outputs[0], op.inputs[0],
                         WeightsOf(op.inputs[1]), params)


OPS = {'DEPTHWISE_CONV_2D': prepare_depthwise}
