"""QUANTIZE (float -> int, and requantize between int8/uint8/int16/int32), DEQUANTIZE, CAST."""
from array import array
from .. import quant
from ..errors import ModelError
from . import KernelStep, not_supported
from .elementwise import bind_run
from ..kernels import codes as K

RANGES = {'int8': (-128, 127), 'uint8': (0, 255), 'int16': (-32768, 32767),
          'int32': (-2147483648, 2147483647), 'uint32': (0, 4294967295),
          'int64': (-(1 << 63), (1 << 63) - 1), 'uint16': (0, 65535), 'bool': (0, 1)}

# TFLM QUANTIZE: integer input type -> output types it requantizes to
_REQUANTIZE = {'int8': ('int8', 'uint8', 'int16', 'int32'), 'uint8': ('int8',),
               'int16': ('int8', 'int16', 'int32'), 'int32': ('int8', 'int16')}
_FLOAT_TO = ('int8', 'int16')


def _io(m, op):
    if len(op.inputs) != 1 or op.inputs[0] < 0 or len(op.outputs) != 1:
        raise ModelError('op %s (node %d): needs one input and one output' % (op.name, op.index))
    src = m.tensors[op.inputs[0]]
    dst = m.tensors[op.outputs[0]]
    if src.size != dst.size:
        raise ModelError('op %s (node %d): input %r and output %r differ in size'
                         % (op.name, op.index, src.shape, dst.shape))
    return src, dst


def _per_tensor(op, t, what):
    if isinstance(t.scale, tuple) or isinstance(t.zero_point, tuple):
        raise not_supported(op, '%s tensor %d is per-channel quantized' % (what, t.index))
    return t.scale, t.zero_point


def prepare_quantize(m, op):
    src, dst = _io(m, op)
    out_scale, out_zp = _per_tensor(op, dst, 'output')
    if not out_scale:
        raise ModelError('op QUANTIZE (node %d): output tensor %d has no scale' % (op.index, dst.index))
    if src.dtype == 'float32':
        if dst.dtype not in _FLOAT_TO:
            raise not_supported(op, 'float32 -> %s' % dst.dtype)
        return 0, _bind_affine_quantize(m, op, src, dst)
    if dst.dtype not in _REQUANTIZE.get(src.dtype, ()):
        raise not_supported(op, '%s -> %s' % (src.dtype, dst.dtype))
    in_scale, in_zp = _per_tensor(op, src, 'input')
    scale = quant.ddiv(quant.dbl(in_scale), quant.dbl(out_scale))
    mult, shift = quant.quantize_multiplier(scale)
    lo, hi = RANGES[dst.dtype]
    if src.dtype in ('int8', 'uint8'):
        return 0, _bind_table(m, op, src, _requant_table(src.dtype, in_zp, out_zp, mult, shift,
                                                           lo, hi))
    p = array('i', [src.size, in_zp, out_zp, mult, shift, mult, shift, 0, lo, hi, 1])
    return 0, _bind_kernel(m, op, 'requant_int16', p)


def _requant_table(dtype, in_zp, out_zp, mult, shift, lo, hi):
    """p block for kernels.lut_int8: entry b is the output for the input whose raw byte is b."""
    table = [0] * 257
    table[0] = 0
    for b in range(256):
        x = b - 256 if dtype == 'int8' and b > 127 else b
        y = quant.multiply_by_quantized_multiplier(quant.wrap32(x - in_zp), mult, shift) + out_zp
        table[1 + b] = lo if y < lo else (hi if y > hi else y)
    return table


def _bind_table(m, op, src, table):
    table[0] = src.size
    p = array('i', table)
    if m.tensors[op.outputs[0]].dtype in ('int8', 'uint8'):
        return _bind_kernel(m, op, 'lut_int8', p)
    # int8 -> int16/int32: only the python table kernel writes outputs wider than a byte
    from ..kernels.python_eltwise import lut_int8
    return _bind_kernel(m, op, lut_int8, p)


def _bind_kernel(m, op, kernel, p):
    """kernel: a kernel table name, or the function itself"""
    def make(scratch):
        fn = getattr(m.kernels, kernel) if isinstance(kernel, str) else kernel
        return fn, m.view(op.outputs[0]), m.view(op.inputs[0]), None, p
    return KernelStep(make)


def _bind_affine_quantize(m, op, src, dst):
    scale = quant.f32(dst.scale)
    zp = dst.zero_point
    lo, hi = RANGES[dst.dtype]
    n = src.size

    def bind(scratch):
        out = m.view(op.outputs[0])
        a = m.view(op.inputs[0])
        kernel = getattr(m.kernels, 'quantize_f32', None)   # native only (float hardware)
        if kernel is not None:
            return kernel, out, a, array('f', [scale]), array('i', [n, zp, lo, hi])

        def run():
            for i in range(n):
                q = affine_quantize(a[i], scale, zp)
                out[i] = lo if q < lo else (hi if q > hi else q)
        return run
    return KernelStep(bind)


def affine_quantize(x, scale, zp):
    """TFLM AffineQuantize before clamping: int32(round(float32(x / scale))) + zp, with the
    x86 conversion result (INT32_MIN) for values out of int32 range or NaN."""
    d = x / scale
    if d != d or not -4294967296.0 < d < 4294967296.0:
        return quant.wrap32(-2147483648 + zp)
    v = quant.f32(d)
    if not -2147483648.0 <= v < 2147483648.0:
        return quant.wrap32(-2147483648 + zp)
    return quant.wrap32(quant.tflite_round(v) + zp)


def prepare_dequantize(m, op):
    src, dst = _io(m, op)
    if src.dtype not in ('int8', 'uint8', 'int16') or dst.dtype != 'float32':
        raise not_supported(op, '%s -> %s' % (src.dtype, dst.dtype))
    scale, zp = _per_tensor(op, src, 'input')
    n = src.size
    kind = ('int8', 'uint8', 'int16').index(src.dtype)

    def bind(scratch):
        out = m.view(op.outputs[0])
        a = m.view(op.inputs[0])
        kernel = getattr(m.kernels, 'dequantize_f32', None)  # native only (float hardware)
        b = array('f', [scale])
        if kernel is not None and b[0] == scale:
            # float32 scale * integer of <= 17 bits: exact in double, so one float32
            # rounding of the product equals the python (and TFLM) double product cast
            return kernel, out, a, b, array('i', [n, zp, kind])

        def run():
            for i in range(n):
                out[i] = scale * (a[i] - zp)   # double product rounded to float32 on store
        return run
    return 0, KernelStep(bind)


_CASTABLE = ('int8', 'int16', 'int32', 'uint32', 'float32', 'bool')   # as TFLM's CAST


def prepare_cast(m, op):
    """CAST: one kernel call, `cast` for integer/bool pairs, `cast_float` for pairs with
    float32 (python_eltwise.cast; native where the module has it)."""
    src, dst = _io(m, op)
    if src.dtype not in _CASTABLE or dst.dtype not in _CASTABLE:
        raise not_supported(op, '%s -> %s' % (src.dtype, dst.dtype))
    name = 'cast_float' if 'float32' in (src.dtype, dst.dtype) else 'cast'
    p = array('i', [src.size, K.CT_CODES[src.dtype], K.CT_CODES[dst.dtype]])
    return 0, bind_run(m, op, name, op.inputs[:1], op.outputs[0], p)


OPS = {'QUANTIZE': prepare_quantize, 'DEQUANTIZE': prepare_dequantize, 'CAST': prepare_cast}
