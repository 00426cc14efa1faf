"""CONV_2D (int8 per-channel, int16x8, float32), plus the helpers the other dense ops
(depthwise, fully_connected, pool, softmax) import from here.

Padding follows TFLM ComputePaddingHeightWidth; multipliers follow
PopulateConvolutionQuantizationParams (see quant.per_channel_multipliers).
"""
import struct
from array import array

from ..errors import ModelError, UnsupportedOpError
from .. import quant
from . import KernelStep, kernel_scratch

CONV_HEADER = 20


def fail(op, why):
    return ModelError('%s (node %d): %s' % (op.name, op.index, why))


def unsupported(op, why):
    return UnsupportedOpError('%s (node %d): %s' % (op.name, op.index, why))


def tensor(m, op, index, what):
    """The graph tensor index `index` of op, ModelError if it is missing."""
    if index < 0 or index >= len(m.tensors):
        raise fail(op, 'missing %s tensor' % what)
    return m.tensors[index]


def option(op, name, default=None):
    v = op.options.get(name, default)
    if v is None:
        raise fail(op, 'missing option %s' % name)
    return v


def out_size_and_padding(op, padding, in_size, k, stride, dil):
    """TFLM ComputeOutSize + ComputePaddingWithOffset -> (out_size, pad_before)."""
    if stride <= 0 or dil <= 0:
        raise fail(op, 'stride and dilation must be positive')
    eff = (k - 1) * dil + 1
    if padding == 'SAME':
        out = (in_size + stride - 1) // stride
    elif padding == 'VALID':
        out = (in_size + stride - eff) // stride
    else:
        raise unsupported(op, 'padding %r' % padding)
    if out <= 0:
        raise fail(op, 'filter larger than input')
    total = (out - 1) * stride + eff - in_size
    return out, (total // 2 if total > 0 else 0)


def scale_tuple(t):
    s = t.scale
    return tuple(s) if isinstance(s, (tuple, list)) else (s,)


def zero_point(t):
    z = t.zero_point
    if isinstance(z, (tuple, list)):
        return z[0] if z else 0
    return z


DENSE_DTYPES = (('float32', 'float32', 'float32'), ('int8', 'int8', 'int8'),
                ('int16', 'int8', 'int16'))


def check_dtypes(op, in_t, w_t, out_t):
    """(input, weights, output) dtypes, UnsupportedOpError unless a kernel exists."""
    dt = (in_t.dtype, w_t.dtype, out_t.dtype)
    if dt not in DENSE_DTYPES:
        raise unsupported(op, 'dtype combination input %s, weights %s, output %s' % dt)
    return dt


def const_data(op, t, what):
    if t.data is None:
        raise unsupported(op, '%s must be a constant tensor' % what)
    if len(t.data) != t.nbytes:
        raise fail(op, '%s holds %d bytes, expected %d' % (what, len(t.data), t.nbytes))
    return t.data


def bias_values(m, op, n, want_dtype='int32'):
    """Bias (input 2) as a list of n ints/floats, zeros when absent."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return [0.0 if want_dtype == 'float32' else 0] * n
    t = tensor(m, op, op.inputs[2], 'bias')
    if t.dtype != want_dtype:
        raise unsupported(op, 'bias dtype %s (expected %s)' % (t.dtype, want_dtype))
    if t.size != n:
        raise fail(op, 'bias has %d values, expected %d' % (t.size, n))
    data = const_data(op, t, 'bias')
    fmt = {'int32': 'i', 'int64': 'q', 'float32': 'f'}[want_dtype]
    return list(struct.unpack('<%d%s' % (n, fmt), bytes(data)))


def quantized_activation(op, out_t):
    act = op.options.get('fused_activation_function', 'NONE')
    try:
        return quant.activation_range_quantized(act, scale_tuple(out_t)[0],
                                                zero_point(out_t), out_t.dtype)
    except ValueError as e:
        raise unsupported(op, str(e))


def float_activation(op):
    act = op.options.get('fused_activation_function', 'NONE')
    try:
        return quant.activation_range_float(act)
    except ValueError as e:
        raise unsupported(op, str(e))


def channel_multipliers(op, in_t, w_t, out_t, n, qdim):
    """Per-channel (multiplier, shift) lists; qdim is the filter's channel axis."""
    fs = scale_tuple(w_t)
    if len(fs) not in (1, n):
        raise fail(op, 'filter has %d scales for %d channels' % (len(fs), n))
    if len(fs) > 1 and w_t.qdim != qdim:
        raise fail(op, 'filter quantized_dimension %d, expected %d' % (w_t.qdim, qdim))
    for s in (scale_tuple(in_t)[0], scale_tuple(out_t)[0]) + fs:
        if not s > 0:
            raise fail(op, 'missing or non-positive quantization scale')
    return quant.per_channel_multipliers(scale_tuple(in_t)[0], fs, scale_tuple(out_t)[0], n)


def int16_bias(m, op, n):
    """(acc64, bias_lo, bias_hi) for int16-activation conv/FC: the bias type (or the
    quantized_bias_type option when there is no bias) picks TFLM's accumulator width."""
    if len(op.inputs) >= 3 and op.inputs[2] >= 0:
        bt = tensor(m, op, op.inputs[2], 'bias').dtype
        if bt not in ('int32', 'int64'):
            raise unsupported(op, 'bias dtype %s with int16 activations' % bt)
        values = bias_values(m, op, n, bt)
        acc64 = bt == 'int64'
    else:
        values = [0] * n
        acc64 = op.options.get('quantized_bias_type') != 'int32'
    lo = []
    hi = []
    for v in values:
        w = v & 0xFFFFFFFF
        lo.append(w - 0x100000000 if w & 0x80000000 else w)
        hi.append(v >> 32)
    return (1 if acc64 else 0), lo, hi


def kernel(m, name, op):
    k = getattr(m.kernels, name, None)
    if k is None:
        raise unsupported(op, 'kernel %s missing from backend' % name)
    return k


class WeightsOf:
    """Marks a kernel's `b` as the typed view of tensor `index` (weights used in place:
    int8 constants index as signed values), resolved when the op is bound."""

    def __init__(self, index):
        self.index = index


def packed_kernel(m, fn, params, weights):
    """(fn', weights') when the backend runs the call faster from weights it lays out once
    (pack_weights: the native fully connected layers small enough), else None."""
    pack = getattr(m.kernels, 'pack_weights', None)
    if pack is None:
        return None
    return pack(fn, params, m.view(weights.index) if isinstance(weights, WeightsOf) else weights)


def binder(m, fn, out_i, in_i, weights, params):
    """prepare's result for an op that is the call fn(out, in, weights, params): no planned
    scratch, and the KernelStep. Weights the backend packs are packed here, at load."""
    packed = packed_kernel(m, fn, params, weights)
    if packed is not None:
        fn, weights = packed

    def make(scratch):
        b = m.view(weights.index) if isinstance(weights, WeightsOf) else weights
        return fn, m.view(out_i), m.view(in_i), b, params
    return 0, KernelStep(make, kernel_scratch(m, fn, params),
                         len(weights) if packed is not None else 0)


def conv_geometry(op, in_t, w_t, out_t, k_h, k_w, dil_h, dil_w):
    """(batches, in_h, in_w, in_c, out_h, out_w, stride_h, stride_w, pad_top, pad_left),
    checking the output tensor's N, H, W against TFLM's ComputeOutSize."""
    if len(in_t.shape) != 4 or len(out_t.shape) != 4:
        raise fail(op, 'input and output must be 4-D NHWC')
    batches, in_h, in_w, in_c = in_t.shape
    stride_h = option(op, 'stride_h', 1)
    stride_w = option(op, 'stride_w', 1)
    padding = option(op, 'padding', 'SAME')
    out_h, pad_t = out_size_and_padding(op, padding, in_h, k_h, stride_h, dil_h)
    out_w, pad_l = out_size_and_padding(op, padding, in_w, k_w, stride_w, dil_w)
    if out_t.shape[0] != batches or out_t.shape[1] != out_h or out_t.shape[2] != out_w:
        raise fail(op, 'output shape %r does not match computed (%d, %d, %d, _)'
                   % (out_t.shape, batches, out_h, out_w))
    return (batches, in_h, in_w, in_c, out_h, out_w, stride_h, stride_w, pad_t, pad_l)


def build_params(geo, out_c, k_h, k_w, dil_h, dil_w, in_off, out_off, act, dm,
                 bias=None, mults=None, shifts=None):
    batches, in_h, in_w, in_c, out_h, out_w, stride_h, stride_w, pad_t, pad_l = geo
    p = array('i', (batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride_h,
                    stride_w, dil_h, dil_w, pad_t, pad_l, in_off, out_off, act[0], act[1], dm))
    if bias is not None:
        p.extend(bias)
        p.extend(mults)
        p.extend(shifts)
    return p


def float_block(act, bias, weights_data):
    """array('f') [act_min, act_max, bias..., weights...] for the float kernels."""
    b = array('f', [act[0], act[1]] + bias)
    b.extend(array('f', bytes(weights_data)))
    return b


def prepare_conv(m, op):
    if len(op.inputs) < 2 or not op.outputs:
        raise fail(op, 'needs input, filter (and bias) and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    w_t = tensor(m, op, op.inputs[1], 'filter')
    out_t = tensor(m, op, op.outputs[0], 'output')
    if len(w_t.shape) != 4:
        raise fail(op, 'filter must be 4-D OHWI')
    out_c, k_h, k_w, w_in_c = w_t.shape
    dil_h = option(op, 'dilation_h_factor', 1)
    dil_w = option(op, 'dilation_w_factor', 1)
    geo = conv_geometry(op, in_t, w_t, out_t, k_h, k_w, dil_h, dil_w)
    if w_in_c != geo[3]:
        raise unsupported(op, 'grouped convolution (input depth %d, filter depth %d)'
                          % (geo[3], w_in_c))
    if out_t.shape[3] != out_c:
        raise fail(op, 'output depth %d != filter count %d' % (out_t.shape[3], out_c))
    dt = check_dtypes(op, in_t, w_t, out_t)
    weights = const_data(op, w_t, 'filter')
    if dt == ('float32', 'float32', 'float32'):
        act = float_activation(op)
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, 0, 0, (0, 0), 1)
        block = float_block(act, bias_values(m, op, out_c, 'float32'), weights)
        return binder(m, kernel(m, 'conv_f32', op), op.outputs[0], op.inputs[0],
                         block, params)
    if dt == ('int8', 'int8', 'int8'):
        mults, shifts = channel_multipliers(op, in_t, w_t, out_t, out_c, 0)
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, -zero_point(in_t),
                              zero_point(out_t), quantized_activation(op, out_t), 1,
                              bias_values(m, op, out_c), mults, shifts)
        return binder(m, kernel(m, 'conv_s8', op), op.outputs[0], op.inputs[0],
                         WeightsOf(op.inputs[1]), params)
    if dt == ('int16', 'int8', 'int16'):
        if zero_point(in_t) != 0 or zero_point(out_t) != 0:
            raise unsupported(op, 'int16 activations need zero points 0')
        mults, shifts = channel_multipliers(op, in_t, w_t, out_t, out_c, 0)
        acc64, lo, hi = int16_bias(m, op, out_c)
        params = build_params(geo, out_c, k_h, k_w, dil_h, dil_w, 0, 0,
                              quantized_activation(op, out_t), 1)
        params.append(acc64)
        for part in (lo, hi, mults, shifts):
            params.extend(part)
        return binder(m, kernel(m, 'conv_s16', op), op.outputs[0], op.inputs[0],
                         WeightsOf(op.inputs[1]), params)


OPS = {'CONV_2D': prepare_conv}
