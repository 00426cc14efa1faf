"""ADD SUB MUL DIV MAXIMUM MINIMUM SQUARED_DIFFERENCE (TFLM reference semantics).

Quantized multipliers are derived exactly as TFLM's prepare does (double or float32
arithmetic, as each op's C++ code uses), on quant.py's emulated doubles. Broadcasting is
numpy-style over any rank; prepare collapses it to the 5-dim header the kernels loop over.
Helpers shared with activations/reduce/resize live here too.
"""
from array import array

from ..errors import ModelError
from .. import quant
from ..compat import float_bits
from ..quant import dbl
from ..kernels import codes as K
from . import KernelStep, not_supported as unsupported

INT32_RANGE = (-2147483648, 2147483647)
QRANGE = {'int8': (-128, 127), 'int16': (-32768, 32767)}
FLOAT_ACT = {'NONE': 4, 'RELU': 1, 'RELU_N1_TO_1': 2, 'RELU6': 3}


# ---------------------------------------------------------------- shared helpers
def fail(op, why):
    return ModelError('op %s (node %d): %s' % (op.name, op.index, why))


def io_tensors(m, op, n_in, n_out=1):
    """The op's first n_in input and n_out output graph tensors; ModelError when missing."""
    if len(op.inputs) < n_in or len(op.outputs) < n_out:
        raise fail(op, 'expected %d inputs and %d outputs, got %d and %d'
                   % (n_in, n_out, len(op.inputs), len(op.outputs)))
    found = []
    for i in op.inputs[:n_in] + op.outputs[:n_out]:
        if i < 0 or i >= len(m.tensors):
            raise fail(op, 'tensor index %d out of range' % i)
        found.append(m.tensors[i])
    return found


def scale_of(t):
    s = t.scale
    if isinstance(s, (tuple, list)):
        s = s[0] if s else 0.0
    return s


def zp_of(t):
    z = t.zero_point
    if isinstance(z, (tuple, list)):
        z = z[0] if z else 0
    return z


def need_scale(op, *tensors):
    for t in tensors:
        if not scale_of(t) > 0:
            raise fail(op, 'tensor %r has no positive quantization scale' % t.name)


def kernel(m, op, name):
    k = getattr(m.kernels, name, None)
    if k is None:
        raise unsupported(op, 'kernel %s missing from the backend' % name)
    return k


def same_dtype(op, want, *tensors):
    for t in tensors:
        if t.dtype != want:
            raise unsupported(op, 'mixed dtypes %s and %s' % (want, t.dtype))


def check_output_size(op, out_t, n):
    if out_t.size != n:
        raise fail(op, 'output %r has %d elements, expected %d' % (out_t.name, out_t.size, n))


def qm_smaller_than_one(op, d):
    try:
        return quant.quantize_multiplier_smaller_than_one_exp(d)
    except ValueError as e:
        raise unsupported(op, 'scales give %s' % e)


def act_range(op, out_t):
    """Quantized fused-activation clamp range of out_t (TFLM CalculateActivationRangeQuantized)."""
    act = op.options.get('fused_activation_function', 'NONE')
    try:
        return quant.activation_range_quantized(act, scale_of(out_t), zp_of(out_t), out_t.dtype)
    except ValueError as e:
        raise unsupported(op, str(e))


def int32_act_range(op):
    """TFLM CalculateActivationRange<int32_t>."""
    act = op.options.get('fused_activation_function', 'NONE')
    if act == 'NONE':
        return INT32_RANGE
    if act == 'RELU':
        return 0, INT32_RANGE[1]
    if act == 'RELU6':
        return 0, 6
    if act == 'RELU_N1_TO_1':
        return -1, 1
    raise unsupported(op, 'fused activation %s' % act)


def float_act(op):
    act = op.options.get('fused_activation_function', 'NONE')
    if act not in FLOAT_ACT:
        raise unsupported(op, 'fused activation %s' % act)
    return FLOAT_ACT[act]


def signed_float_bits(f):
    """The float32 bit pattern of f as a signed int (an array('i') parameter)."""
    u = float_bits(f)
    return u - (1 << 32) if u & 0x80000000 else u


def unary_run(m, op, name, params):
    """(0, bind) of kernel `name` on the op's first input, p = array('i', params)."""
    return 0, bind_run(m, op, name, op.inputs[:1], op.outputs[0], array('i', params))


def binary_run(m, op, name, params):
    """(0, bind) of kernel `name` on the op's first two inputs, p = array('i', params)."""
    p = array('i', [int(v) for v in params])
    return 0, bind_run(m, op, name, op.inputs[:2], op.outputs[0], p)


def bind_run(m, op, name, in_indices, out_index, p, raw=False):
    """A bind(scratch) (KernelStep) returning run() = kernel(out, a, b, p) on the tensors' typed views
    (byte views when raw: MicroPython's typed views of non-int8 tensors cannot be sliced)."""
    fn = kernel(m, op, name)

    def make(scratch):
        view = m.raw if raw else m.view
        b = view(in_indices[1]) if len(in_indices) > 1 else None
        return fn, view(out_index), view(in_indices[0]), b, p
    return KernelStep(make)


# ---------------------------------------------------------------- broadcasting
def broadcast_header(op, shape_a, shape_b):
    """(header list of 15 ints, broadcast output shape) for numpy-style broadcasting."""
    rank = max(len(shape_a), len(shape_b))
    sa = (1,) * (rank - len(shape_a)) + tuple(shape_a)
    sb = (1,) * (rank - len(shape_b)) + tuple(shape_b)
    dims = []
    for x, y in zip(sa, sb):
        if x != y and x != 1 and y != 1:
            raise fail(op, 'shapes %r and %r do not broadcast' % (tuple(shape_a), tuple(shape_b)))
        dims.append(x if y == 1 else y)
    st_a = _strides(sa, dims)
    st_b = _strides(sb, dims)
    runs = []   # [dim, stride_a, stride_b], outermost first, size-1 dims dropped
    for i in range(rank):
        if dims[i] == 1:
            continue
        if runs and _mergeable(runs[-1], dims[i], st_a[i], st_b[i]):
            runs[-1] = [runs[-1][0] * dims[i], st_a[i], st_b[i]]
        else:
            runs.append([dims[i], st_a[i], st_b[i]])
    if len(runs) > K.BCAST_DIMS:
        raise unsupported(op, 'broadcast of %r and %r needs %d loops (max %d)'
                          % (tuple(shape_a), tuple(shape_b), len(runs), K.BCAST_DIMS))
    runs = [[1, 0, 0]] * (K.BCAST_DIMS - len(runs)) + runs
    header = [r[0] for r in runs] + [r[1] for r in runs] + [r[2] for r in runs]
    return header, tuple(dims)


def _strides(shape, dims):
    """Row-major element strides of `shape`, 0 along dims it broadcasts over."""
    st = [0] * len(shape)
    acc = 1
    for i in range(len(shape) - 1, -1, -1):
        st[i] = acc if shape[i] != 1 or dims[i] == 1 else 0
        acc *= shape[i]
    return st


def _mergeable(outer, d, sa, sb):
    """Whether dim (d, sa, sb) continues the run `outer` for both inputs."""
    return outer[1] == sa * d and outer[2] == sb * d


# ---------------------------------------------------------------- prepare
def binary_tensors(m, op):
    """(a, b, out) tensors and the broadcast header of a two-input op, output size checked."""
    a_t, b_t, out_t = io_tensors(m, op, 2)
    header, dims = broadcast_header(op, a_t.shape, b_t.shape)
    n = 1
    for d in dims:
        n *= d
    check_output_size(op, out_t, n)
    return a_t, b_t, out_t, header


def _prepare(m, op, opcode):
    a_t, b_t, out_t, header = binary_tensors(m, op)
    dt = out_t.dtype
    same_dtype(op, dt, a_t, b_t)
    if dt == 'float32':
        act = 0 if opcode in (K.OP_MAX, K.OP_MIN, K.OP_SQDIFF) else float_act(op)
        if opcode in (K.OP_MAX, K.OP_MIN):
            return binary_run(m, op, 'minmax', header + [opcode == K.OP_MAX, K.DT_FLOAT32])
        return binary_run(m, op, 'binary_float', header + [opcode, act])
    if dt == 'int32':
        return binary_run(m, op, 'binary_int32', header + [opcode] + list(_int32_range(op, opcode)))
    if opcode in (K.OP_MAX, K.OP_MIN) and dt in QRANGE:
        dcode = K.DT_INT8 if dt == 'int8' else K.DT_INT16
        return binary_run(m, op, 'minmax', header + [opcode == K.OP_MAX, dcode])
    quantized = _QUANTIZED.get((op.name, dt))
    if quantized is None:
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, a_t, b_t, out_t)
    name, params = quantized(op, a_t, b_t, out_t)
    return binary_run(m, op, name, header + params)


def _int32_range(op, opcode):
    # TFLM's int32 ADD ignores the fused activation; MAX/MIN/SQDIFF have none.
    if opcode in (K.OP_ADD, K.OP_MAX, K.OP_MIN, K.OP_SQDIFF):
        return INT32_RANGE
    return int32_act_range(op)


def _add_int8(op, a_t, b_t, out_t):
    sign = -1 if op.name == 'SUB' else 1
    (m1, s1), (m2, s2), (mo, so) = _add_multipliers(op, a_t, b_t, out_t, 20)
    t1 = _scaled_table(zp_of(a_t), m1, s1, 1)
    t2 = _scaled_table(zp_of(b_t), m2, s2, sign)
    lo, hi = act_range(op, out_t)
    return 'add_int8', [zp_of(out_t), mo, so, lo, hi] + t1 + t2


def _scaled_table(zp, mult, shift, sign):
    """TFLM's scaled input for each raw int8 byte value v (index v & 255)."""
    table = []
    for v in range(256):
        q = v - 256 if v > 127 else v
        table.append(sign * quant.multiply_by_quantized_multiplier_smaller_than_one_exp(
            (q - zp) << 20, mult, shift))
    return table


def _add_int16(op, a_t, b_t, out_t):
    (m1, s1), (m2, s2), (mo, so) = _add_multipliers(op, a_t, b_t, out_t, 15)
    lo, hi = act_range(op, out_t)
    return 'add_int16', [15, -zp_of(a_t), m1, s1, -zp_of(b_t), m2, s2, zp_of(out_t), mo, so,
                         lo, hi, -1 if op.name == 'SUB' else 1]


def _add_multipliers(op, a_t, b_t, out_t, left_shift):
    """TFLM CalculateOpDataAdd / CalculateOpDataSub (double math in the TFLM build the tests
    check against; its disassembly shows divsd/mulsd for both)."""
    out_scale = quant.dmul(quant.dbl_int(1 << left_shift), dbl(scale_of(out_t)))
    twice, in1, in2 = _input_multipliers(op, a_t, b_t)
    return in1, in2, qm_smaller_than_one(op, quant.ddiv(twice, out_scale))


def _input_multipliers(op, a_t, b_t):
    """ADD/SUB/SQUARED_DIFFERENCE input rescaling: (twice the larger input scale, then each
    input's multiplier/shift for scale / twice)."""
    d1, d2 = dbl(scale_of(a_t)), dbl(scale_of(b_t))
    twice = quant.dmul((2, 0), d1 if quant.dcmp(d1, d2) >= 0 else d2)
    return (twice, qm_smaller_than_one(op, quant.ddiv(d1, twice)),
            qm_smaller_than_one(op, quant.ddiv(d2, twice)))


def _mul_q(op, a_t, b_t, out_t):
    if out_t.dtype == 'int16' and (zp_of(a_t) or zp_of(b_t) or zp_of(out_t)):
        raise unsupported(op, 'int16 MUL needs zero points 0')
    real = quant.ddiv(quant.dmul(dbl(scale_of(a_t)), dbl(scale_of(b_t))), dbl(scale_of(out_t)))
    mo, so = quant.quantize_multiplier(real)
    lo, hi = act_range(op, out_t)
    return 'mul_' + out_t.dtype, [-zp_of(a_t), -zp_of(b_t), zp_of(out_t), mo, so, lo, hi]


def _div_int8(op, a_t, b_t, out_t):
    real = quant.ddiv(dbl(scale_of(a_t)), quant.dmul(dbl(scale_of(b_t)), dbl(scale_of(out_t))))
    mo, so = quant.quantize_multiplier(real)
    lo, hi = act_range(op, out_t)
    return 'div_int8', [-zp_of(a_t), -zp_of(b_t), zp_of(out_t), mo, so, lo, hi]


def _sqdiff_q(op, a_t, b_t, out_t):
    dt = out_t.dtype
    left_shift = 7 if dt == 'int8' else 0
    if dt == 'int16' and (zp_of(a_t) or zp_of(b_t) or zp_of(out_t)):
        raise unsupported(op, 'int16 SQUARED_DIFFERENCE needs zero points 0')
    twice, (m1, s1), (m2, s2) = _input_multipliers(op, a_t, b_t)
    out_scale = dbl(quant.f32((1 << (2 * left_shift)) * quant.f32(scale_of(out_t))))
    mo, so = quant.quantize_multiplier(quant.ddiv(quant.dmul(twice, twice), out_scale))
    lo, hi = QRANGE[dt]
    return 'sqdiff_' + dt, [left_shift, -zp_of(a_t), m1, s1, -zp_of(b_t), m2, s2, zp_of(out_t),
                            mo, so, lo, hi]


_QUANTIZED = {
    ('ADD', 'int8'): _add_int8, ('SUB', 'int8'): _add_int8,
    ('ADD', 'int16'): _add_int16, ('SUB', 'int16'): _add_int16,
    ('MUL', 'int8'): _mul_q, ('MUL', 'int16'): _mul_q,
    ('DIV', 'int8'): _div_int8,
    ('SQUARED_DIFFERENCE', 'int8'): _sqdiff_q, ('SQUARED_DIFFERENCE', 'int16'): _sqdiff_q,
}


def _prepare_for(opcode):
    def prepare(m, op):
        return _prepare(m, op, opcode)
    return prepare


OPS = {
    'ADD': _prepare_for(K.OP_ADD), 'SUB': _prepare_for(K.OP_SUB),
    'MUL': _prepare_for(K.OP_MUL), 'DIV': _prepare_for(K.OP_DIV),
    'MAXIMUM': _prepare_for(K.OP_MAX), 'MINIMUM': _prepare_for(K.OP_MIN),
    'SQUARED_DIFFERENCE': _prepare_for(K.OP_SQDIFF),
}
