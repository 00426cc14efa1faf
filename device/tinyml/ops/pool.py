"""AVERAGE_POOL_2D and MAX_POOL_2D (int8, int16, float32), TFLM reference semantics."""
from array import array

from .conv import (fail, unsupported, tensor, option, out_size_and_padding, scale_tuple,
                   zero_point, float_activation, quantized_activation, kernel, binder)


def _prepare(m, op, kind):
    if not op.inputs or not op.outputs:
        raise fail(op, 'needs one input and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    out_t = tensor(m, op, op.outputs[0], 'output')
    if len(in_t.shape) != 4 or len(out_t.shape) != 4:
        raise fail(op, 'input and output must be 4-D NHWC')
    if in_t.dtype != out_t.dtype:
        raise unsupported(op, 'input %s, output %s' % (in_t.dtype, out_t.dtype))
    batches, in_h, in_w, ch = in_t.shape
    k_h = option(op, 'filter_height')
    k_w = option(op, 'filter_width')
    stride_h = option(op, 'stride_h', 1)
    stride_w = option(op, 'stride_w', 1)
    padding = option(op, 'padding', 'SAME')
    out_h, pad_t = out_size_and_padding(op, padding, in_h, k_h, stride_h, 1)
    out_w, pad_l = out_size_and_padding(op, padding, in_w, k_w, stride_w, 1)
    if tuple(out_t.shape) != (batches, out_h, out_w, ch):
        raise fail(op, 'output shape %r, expected %r' % (out_t.shape, (batches, out_h, out_w, ch)))
    head = [batches, in_h, in_w, ch, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_t, pad_l]
    if in_t.dtype == 'float32':
        params = array('i', head + [0, 0])
        block = array('f', float_activation(op))
        name = kind + '_f32'
    elif in_t.dtype in ('int8', 'int16'):
        # TFLM's PoolingPrepare: pooling never requantizes
        if abs(scale_tuple(in_t)[0] - scale_tuple(out_t)[0]) > 1e-6 or \
                zero_point(in_t) != zero_point(out_t):
            raise fail(op, 'input and output quantization differ')
        act = quantized_activation(op, out_t)
        params = array('i', head + [act[0], act[1]])
        block = None
        name = kind + ('_s8' if in_t.dtype == 'int8' else '_s16')
    else:
        raise unsupported(op, 'dtype %s' % in_t.dtype)
    return binder(m, kernel(m, name, op), op.outputs[0], op.inputs[0], block, params)


def prepare_avgpool(m, op):
    return _prepare(m, op, 'avgpool')


def prepare_maxpool(m, op):
    return _prepare(m, op, 'maxpool')


OPS = {'AVERAGE_POOL_2D': prepare_avgpool, 'MAX_POOL_2D': prepare_maxpool}
