"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (NHWC, TFLM reference semantics).

All source coordinates depend only on the shapes, so prepare computes them (float32 math
emulated like TFLM's) and the kernels only gather and blend.
"""
import math
import struct
from array import array

from .. import quant
from ..quant import f32 as _f32
from .elementwise import fail, unsupported, io_tensors, bind_run, unary_run, signed_float_bits


def _sizes(op, in_t, size_t, out_t):
    if len(in_t.shape) != 4:
        raise unsupported(op, 'input must be 4-D NHWC, got shape %r' % (in_t.shape,))
    if size_t.dtype != 'int32' or size_t.size != 2 or len(size_t.shape) != 1:
        raise fail(op, 'size must be an int32 tensor of 2 values')
    if size_t.data is None:
        raise unsupported(op, 'non-constant size tensor')
    oh, ow = struct.unpack('<2i', bytes(size_t.data[:8]))
    nb, ih, iw, c = in_t.shape
    if oh <= 0 or ow <= 0:
        raise fail(op, 'output size %dx%d' % (oh, ow))
    if out_t.size != nb * oh * ow * c:
        raise fail(op, 'output shape %r does not match size %dx%d' % (out_t.shape, oh, ow))
    if out_t.dtype != in_t.dtype:
        raise unsupported(op, 'input %s but output %s' % (in_t.dtype, out_t.dtype))
    return nb, ih, iw, c, oh, ow


def _scale(in_size, out_size, align_corners):
    if align_corners and out_size > 1:
        return _f32((in_size - 1) / _f32(out_size - 1))
    return _f32(in_size / _f32(out_size))


def nearest_index(value, in_size, out_size, align_corners, half_pixel_centers):
    """TFLM GetNearestNeighbor."""
    scale = _scale(in_size, out_size, align_corners)
    offset = 0.5 if half_pixel_centers else 0.0
    v = _f32(_f32(value + offset) * scale)
    idx = quant.tflite_round(v) if align_corners else int(math.floor(v))
    idx = min(idx, in_size - 1)
    if half_pixel_centers:
        idx = max(0, idx)
    return idx


def prepare_nearest(m, op):
    in_t, size_t, out_t = io_tensors(m, op, 2)
    nb, ih, iw, c, oh, ow = _sizes(op, in_t, size_t, out_t)
    if in_t.dtype not in ('int8', 'int16', 'float32'):
        raise unsupported(op, 'dtype %s' % in_t.dtype)
    ac = bool(op.options.get('align_corners', False))
    hpc = bool(op.options.get('half_pixel_centers', False))
    pix = c * in_t.itemsize
    rows = [nearest_index(y, ih, oh, ac, hpc) * iw * pix for y in range(oh)]
    cols = [nearest_index(x, iw, ow, ac, hpc) * pix for x in range(ow)]
    p = array('i', [nb, oh, ow, pix, ih * iw * pix] + rows + cols)
    return 0, bind_run(m, op, 'resize_nearest', op.inputs[:1], op.outputs[0], p, raw=True)


def _c_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _int_coords(value, scale_10, hpc, in_size):
    """TFLM ComputeInterpolationValuesInteger -> (lower, upper, scaled)."""
    if hpc:
        scaled = value * scale_10 + _c_div(scale_10, 2) - (1 << 9)
    else:
        scaled = value * scale_10
    lower = max(_c_div(scaled, 1 << 10), 0)
    upper = min(_c_div(scaled + (1 << 10) - 1, 1 << 10), in_size - 1)
    return lower, upper, scaled


def _int_scale(in_size, out_size, ac):
    if ac and out_size > 1:
        return ((1 << 10) * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return ((1 << 10) * in_size + out_size // 2) // out_size


def _float_coords(value, scale, hpc, in_size):
    """TFLM ComputeInterpolationValues -> (lower, upper, bits of 1 - d, bits of d), where
    d = scaled - lower is the float32 weight of the upper neighbour."""
    if hpc:
        scaled = _f32(_f32(_f32(value + 0.5) * scale) - 0.5)
    else:
        scaled = _f32(value * scale)
    lower = max(int(math.floor(scaled)), 0)
    upper = min(int(math.ceil(scaled)), in_size - 1)
    d = _f32(scaled - lower)
    return lower, upper, signed_float_bits(_f32(1 - d)), signed_float_bits(d)


def prepare_bilinear(m, op):
    in_t, size_t, out_t = io_tensors(m, op, 2)
    nb, ih, iw, c, oh, ow = _sizes(op, in_t, size_t, out_t)
    ac = bool(op.options.get('align_corners', False))
    hpc = bool(op.options.get('half_pixel_centers', False))
    if ac and hpc:
        raise fail(op, 'align_corners and half_pixel_centers are exclusive')
    if in_t.dtype == 'int8':
        hs, ws = _int_scale(ih, oh, ac), _int_scale(iw, ow, ac)
        coords, name = _int_coords, 'resize_bilinear_int8'
    elif in_t.dtype == 'float32':
        hs, ws = _scale(ih, oh, ac), _scale(iw, ow, ac)
        coords, name = _float_coords, 'resize_bilinear_float'
    else:
        raise unsupported(op, 'dtype %s' % in_t.dtype)
    params = [nb, oh, ow, c, ih, iw]
    for y in range(oh):
        params.extend(coords(y, hs, hpc, ih))
    for x in range(ow):
        params.extend(coords(x, ws, hpc, iw))
    return unary_run(m, op, name, params)


OPS = {'RESIZE_NEAREST_NEIGHBOR': prepare_nearest, 'RESIZE_BILINEAR': prepare_bilinear}
