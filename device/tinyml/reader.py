"""Bounds-checked TFLite flatbuffer reader -> graph.Graph (subgraph 0).

No flatbuffers library: struct.unpack_from on a memoryview of the source. Every
offset and length is checked before use; malformed input raises
ModelError('<table>.<field>: <what> at offset N'). Constant tensors' data are
memoryview slices of the source buffer (never copied).
"""
import struct
from .errors import ModelError, UnsupportedOpError
from .graph import Tensor, Op, Graph, ITEMSIZE

# BuiltinOperator codes 0..161, in order (schema.fbs).
_OP_NAMES = (
    'ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE '
    'EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D '
    'LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 '
    'RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS '
    'SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER '
    'BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE '
    'UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT '
    'LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG '
    'PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE '
    'EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD '
    'REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV '
    'REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU '
    'SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE '
    'RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE '
    'NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM '
    'BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D '
    'IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL '
    'CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS '
    'RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE '
    'RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2 '
    'UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT')
CUSTOM_CODE = 32

# TensorType enum -> dtype name (None: not representable here).
TENSOR_TYPES = ('float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16',
                'complex64', 'int8', 'float64', 'complex128', 'uint64', 'resource', 'variant',
                'uint32', 'uint16', 'int4', 'bfloat16')

PADDING = ('SAME', 'VALID')
ACTIVATIONS = ('NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT')
WEIGHTS_FORMATS = ('DEFAULT', 'SHUFFLED4x16INT8')
# enum-valued option fields, decoded to names
_ENUMS = {
    'padding': PADDING, 'fused_activation_function': ACTIVATIONS,
    'weights_format': WEIGHTS_FORMATS, 'quantized_bias_type': TENSOR_TYPES,
    'in_data_type': TENSOR_TYPES, 'out_data_type': TENSOR_TYPES, 'out_type': TENSOR_TYPES,
}

# BuiltinOptions union index -> (table name, ((slot, field, struct fmt or 'v'+fmt, default), ...))
# '?' (bool) is read as 'B'; vectors default to ().
OPTION_TABLES = {
    1: ('Conv2DOptions', ((0, 'padding', 'b', 0), (1, 'stride_w', 'i', 0), (2, 'stride_h', 'i', 0),
                          (3, 'fused_activation_function', 'b', 0), (4, 'dilation_w_factor', 'i', 1),
                          (5, 'dilation_h_factor', 'i', 1), (6, 'quantized_bias_type', 'b', 0))),
    2: ('DepthwiseConv2DOptions', ((0, 'padding', 'b', 0), (1, 'stride_w', 'i', 0),
                                   (2, 'stride_h', 'i', 0), (3, 'depth_multiplier', 'i', 0),
                                   (4, 'fused_activation_function', 'b', 0),
                                   (5, 'dilation_w_factor', 'i', 1), (6, 'dilation_h_factor', 'i', 1))),
    8: ('FullyConnectedOptions', ((0, 'fused_activation_function', 'b', 0),
                                  (1, 'weights_format', 'b', 0), (2, 'keep_num_dims', '?', False),
                                  (3, 'asymmetric_quantize_inputs', '?', False),
                                  (4, 'quantized_bias_type', 'b', 0))),
    5: ('Pool2DOptions', ((0, 'padding', 'b', 0), (1, 'stride_w', 'i', 0), (2, 'stride_h', 'i', 0),
                          (3, 'filter_width', 'i', 0), (4, 'filter_height', 'i', 0),
                          (5, 'fused_activation_function', 'b', 0))),
    9: ('SoftmaxOptions', ((0, 'beta', 'f', 0.0),)),
    36: ('LogSoftmaxOptions', ()),
    11: ('AddOptions', ((0, 'fused_activation_function', 'b', 0), (1, 'pot_scale_int16', '?', True))),
    28: ('SubOptions', ((0, 'fused_activation_function', 'b', 0), (1, 'pot_scale_int16', '?', True))),
    21: ('MulOptions', ((0, 'fused_activation_function', 'b', 0),)),
    29: ('DivOptions', ((0, 'fused_activation_function', 'b', 0),)),
    39: ('MaximumMinimumOptions', ()),
    76: ('SquaredDifferenceOptions', ()),
    75: ('LeakyReluOptions', ((0, 'alpha', 'f', 0.0),)),
    91: ('HardSwishOptions', ()),
    27: ('ReducerOptions', ((0, 'keep_dims', '?', False),)),
    15: ('ResizeBilinearOptions', ((2, 'align_corners', '?', False),
                                   (3, 'half_pixel_centers', '?', False))),
    74: ('ResizeNearestNeighborOptions', ((0, 'align_corners', '?', False),
                                          (1, 'half_pixel_centers', '?', False))),
    17: ('ReshapeOptions', ((0, 'new_shape', 'vi', ()),)),
    30: ('SqueezeOptions', ((0, 'squeeze_dims', 'vi', ()),)),
    52: ('ExpandDimsOptions', ()),
    55: ('ShapeOptions', ((0, 'out_type', 'b', 0),)),
    89: ('QuantizeOptions', ()),
    38: ('DequantizeOptions', ()),
    37: ('CastOptions', ((0, 'in_data_type', 'b', 0), (1, 'out_data_type', 'b', 0))),
    10: ('ConcatenationOptions', ((0, 'axis', 'i', 0), (1, 'fused_activation_function', 'b', 0))),
    59: ('PackOptions', ((0, 'values_count', 'i', 0), (1, 'axis', 'i', 0))),
    64: ('UnpackOptions', ((0, 'num', 'i', 0), (1, 'axis', 'i', 0))),
    32: ('StridedSliceOptions', ((0, 'begin_mask', 'i', 0), (1, 'end_mask', 'i', 0),
                                 (2, 'ellipsis_mask', 'i', 0), (3, 'new_axis_mask', 'i', 0),
                                 (4, 'shrink_axis_mask', 'i', 0), (5, 'offset', '?', False))),
    26: ('TransposeOptions', ()),
    22: ('PadOptions', ()),
    43: ('PadV2Options', ()),
    23: ('GatherOptions', ((0, 'axis', 'i', 0), (1, 'batch_dims', 'i', 0))),
    35: ('SplitOptions', ((0, 'num_splits', 'i', 0),)),
    79: ('SplitVOptions', ((0, 'num_splits', 'i', 0),)),
    71: ('UnidirectionalSequenceLSTMOptions', ((0, 'fused_activation_function', 'b', 0),
                                               (1, 'cell_clip', 'f', 0.0), (2, 'proj_clip', 'f', 0.0),
                                               (3, 'time_major', '?', False),
                                               (4, 'asymmetric_quantize_inputs', '?', False),
                                               (5, 'diagonal_recurrent_tensors', '?', False))),
    6: ('SVDFOptions', ((0, 'rank', 'i', 0), (1, 'fused_activation_function', 'b', 0),
                        (2, 'asymmetric_quantize_inputs', '?', False))),
}

# op name -> the BuiltinOptions union index its options use
_OP_OPTIONS = {
    'CONV_2D': 1, 'DEPTHWISE_CONV_2D': 2, 'FULLY_CONNECTED': 8, 'AVERAGE_POOL_2D': 5,
    'MAX_POOL_2D': 5, 'SOFTMAX': 9, 'LOG_SOFTMAX': 36, 'ADD': 11, 'SUB': 28, 'MUL': 21, 'DIV': 29,
    'MAXIMUM': 39, 'MINIMUM': 39, 'SQUARED_DIFFERENCE': 76, 'LEAKY_RELU': 75, 'HARD_SWISH': 91,
    'MEAN': 27, 'SUM': 27, 'REDUCE_MAX': 27, 'RESIZE_BILINEAR': 15, 'RESIZE_NEAREST_NEIGHBOR': 74,
    'RESHAPE': 17, 'SQUEEZE': 30, 'EXPAND_DIMS': 52, 'SHAPE': 55, 'QUANTIZE': 89,
    'DEQUANTIZE': 38, 'CAST': 37, 'CONCATENATION': 10, 'PACK': 59, 'UNPACK': 64,
    'STRIDED_SLICE': 32, 'TRANSPOSE': 26, 'PAD': 22, 'PADV2': 43, 'GATHER': 23, 'SPLIT': 35,
    'SPLIT_V': 79, 'UNIDIRECTIONAL_SEQUENCE_LSTM': 71, 'SVDF': 6,
}

_SIZES = {'b': 1, 'B': 1, '?': 1, 'h': 2, 'H': 2, 'i': 4, 'I': 4, 'f': 4, 'q': 8, 'Q': 8}


def op_name(code):
    if 0 <= code <= 161:      # the code-th word, without splitting the whole table
        start = 0
        for _ in range(code):
            start = _OP_NAMES.index(' ', start) + 1
        end = _OP_NAMES.find(' ', start)
        return _OP_NAMES[start:end] if end >= 0 else _OP_NAMES[start:]
    return 'BUILTIN_%d' % code


class Table:
    """One flatbuffer table: vtable lookups with every access bounds-checked."""

    def __init__(self, fb, pos, name):
        self.fb = fb
        self.name = name
        self.pos = pos
        fb.check(pos, 4, name, 'table')
        vt = pos - fb.unpack('<i', pos)
        fb.check(vt, 4, name, 'vtable')
        vsize = fb.unpack('<H', vt)
        self.tsize = fb.unpack('<H', vt + 2)
        if vsize < 4 or vsize & 1:
            raise ModelError('%s: bad vtable size %d at offset %d' % (name, vsize, vt))
        fb.check(vt, vsize, name, 'vtable')
        fb.check(pos, self.tsize, name, 'table body')
        self.vt = vt
        self.nslots = (vsize - 4) >> 1

    def field(self, slot, size, fname):
        """Absolute position of field `slot` (size bytes), or 0 when absent."""
        if slot >= self.nslots:
            return 0
        off = self.fb.unpack('<H', self.vt + 4 + 2 * slot)
        if off == 0:
            return 0
        if off < 4 or off + size > self.tsize:
            raise ModelError('%s.%s: field outside its table at offset %d'
                             % (self.name, fname, self.pos + off))
        return self.pos + off

    def scalar(self, slot, fmt, default, fname):
        p = self.field(slot, _SIZES[fmt], fname)
        if not p:
            return default
        if fmt == '?':
            return self.fb.unpack('<B', p) != 0
        return self.fb.unpack('<' + fmt, p)

    def _target(self, slot, fname):
        p = self.field(slot, 4, fname)
        if not p:
            return 0
        target = p + self.fb.unpack('<I', p)
        self.fb.check(target, 4, self.name + '.' + fname, 'reference')
        return target

    def table(self, slot, fname, tname):
        t = self._target(slot, fname)
        return Table(self.fb, t, tname) if t else None

    def vector(self, slot, elem_size, fname):
        """(start, length) of a vector field; (0, 0) when absent."""
        t = self._target(slot, fname)
        if not t:
            return 0, 0
        n = self.fb.unpack('<I', t)
        self.fb.check(t + 4, n * elem_size, self.name + '.' + fname, 'vector of %d' % n)
        return t + 4, n

    def numbers(self, slot, fmt, fname):
        """A vector of scalars as a tuple ('' fmt char as struct)."""
        start, n = self.vector(slot, _SIZES[fmt], fname)
        if not n:
            return ()
        return struct.unpack_from('<%d%s' % (n, fmt), self.fb.buf, start)

    def tables(self, slot, fname, tname):
        start, n = self.vector(slot, 4, fname)
        out = []
        for i in range(n):
            p = start + 4 * i
            t = p + self.fb.unpack('<I', p)
            self.fb.check(t, 4, '%s.%s[%d]' % (self.name, fname, i), 'reference')
            out.append(Table(self.fb, t, tname))
        return out

    def bytes(self, slot, fname):
        start, n = self.vector(slot, 1, fname)
        return self.fb.buf[start:start + n] if n else None

    def string(self, slot, fname, lazy=False):
        """The string field (checked UTF-8); lazy: its bytes as a memoryview when that is
        smaller than a str object (graph.Tensor decodes it on access)."""
        start, n = self.vector(slot, 1, fname)
        if not n:
            return ''
        raw = self.fb.buf[start:start + n]
        try:
            s = str(bytes(raw), 'utf-8')
        except (UnicodeError, ValueError):
            raise ModelError('%s.%s: invalid UTF-8 at offset %d' % (self.name, fname, start))
        return raw if lazy and n > 24 else s


class FlatBuffer:
    def __init__(self, buf):
        self.buf = buf
        self.size = len(buf)

    def check(self, pos, size, what, kind):
        if pos < 0 or size < 0 or pos + size > self.size:
            raise ModelError('%s: %s out of bounds at offset %d' % (what, kind, pos))

    def unpack(self, fmt, pos):
        self.check(pos, _SIZES[fmt[1]], 'buffer', 'read')
        return struct.unpack_from(fmt, self.buf, pos)[0]


def is_tflite(buf):
    return len(buf) >= 8 and bytes(buf[4:8]) == b'TFL3'


def read(buf):
    """Parse a TFLite model held in buf (bytes, bytearray or memoryview) -> Graph."""
    mv = memoryview(buf)
    if len(mv) < 8:
        raise ModelError('Model: %d bytes is too short for a TFLite flatbuffer' % len(mv))
    if not is_tflite(mv):
        raise ModelError('Model: file identifier %r is not TFL3' % bytes(mv[4:8]))
    fb = FlatBuffer(mv)
    model = Table(fb, fb.unpack('<I', 0), 'Model')
    buffers = model.tables(4, 'buffers', 'Buffer')
    codes = [_op_code(t) for t in model.tables(1, 'operator_codes', 'OperatorCode')]
    subgraphs = model.tables(2, 'subgraphs', 'SubGraph')
    if not subgraphs:
        raise ModelError('Model.subgraphs: no subgraph at offset %d' % model.pos)
    sg = subgraphs[0]
    tensors = [_tensor(fb, t, i, buffers) for i, t in enumerate(sg.tables(0, 'tensors', 'Tensor'))]
    nt = len(tensors)
    inputs = _indices(sg, 1, 'inputs', nt, False)
    outputs = _indices(sg, 2, 'outputs', nt, False)
    ops = [_operator(fb, t, i, codes, nt) for i, t in enumerate(sg.tables(3, 'operators', 'Operator'))]
    return Graph(tensors, ops, inputs, outputs, mv)


def _indices(table, slot, fname, count, optional):
    idx = table.numbers(slot, 'i', fname)
    low = -1 if optional else 0
    for i in idx:
        if i < low or i >= count:
            raise ModelError('%s.%s: tensor index %d out of range (%d tensors) at offset %d'
                             % (table.name, fname, i, count, table.pos))
    return idx


def _op_code(t):
    deprecated = t.scalar(0, 'b', 0, 'deprecated_builtin_code')
    code = max(deprecated, t.scalar(3, 'i', 0, 'builtin_code'))
    if code == CUSTOM_CODE:
        name = t.string(1, 'custom_code')
        if not name:
            raise ModelError('OperatorCode.custom_code: empty custom code at offset %d' % t.pos)
    else:
        name = op_name(code)
    return name, t.scalar(2, 'i', 1, 'version')


def _tensor(fb, t, index, buffers):
    name = t.string(3, 'name', True)
    shape = t.numbers(0, 'i', 'shape')
    for d in shape:
        if d < 0:
            raise ModelError('Tensor.shape: tensor %d %r has negative dimension %d at offset %d'
                             % (index, t.string(3, 'name'), d, t.pos))
    type_code = t.scalar(1, 'b', 0, 'type')
    dtype = TENSOR_TYPES[type_code] if 0 <= type_code < len(TENSOR_TYPES) else None
    if dtype not in ITEMSIZE:
        raise UnsupportedOpError('tensor %d %r: type %s is not supported'
                                 % (index, t.string(3, 'name'), dtype or type_code))
    scale, zero_point, qdim = _quantization(t.table(4, 'quantization', 'QuantizationParameters'))
    is_variable = t.scalar(5, '?', False, 'is_variable')
    tensor = Tensor(index, name, shape, dtype, scale, zero_point, qdim, None, is_variable)
    b = t.scalar(2, 'I', 0, 'buffer')
    if b >= len(buffers):
        raise ModelError('Tensor.buffer: index %d out of range (%d buffers) at offset %d'
                         % (b, len(buffers), t.pos))
    data = _buffer_data(fb, buffers[b]) if b else None
    if data is not None and not is_variable:
        if len(data) != tensor.nbytes:
            raise ModelError('Tensor.buffer: tensor %d %r holds %d bytes, shape %r needs %d'
                             ' at offset %d' % (index, tensor.name, len(data), shape, tensor.nbytes, t.pos))
        tensor.data = data
    return tensor


def _quantization(q):
    """(scale, zero_point, qdim); per-channel vectors of equal length stay memoryviews of the
    buffer (graph.Tensor decodes them on access), so no boxed floats are kept."""
    if q is None:
        return 0.0, 0, 0
    qdim = q.scalar(6, 'i', 0, 'quantized_dimension')
    if qdim < 0:
        raise ModelError('QuantizationParameters.quantized_dimension: %d at offset %d'
                         % (qdim, q.pos))
    s0, ns = q.vector(2, 4, 'scale')
    z0, nz = q.vector(3, 8, 'zero_point')
    buf = q.fb.buf
    if ns > 1 and nz == ns:
        return buf[s0:s0 + 4 * ns], buf[z0:z0 + 8 * nz], qdim
    scales = struct.unpack_from('<%df' % ns, buf, s0) if ns else ()
    zps = struct.unpack_from('<%dq' % nz, buf, z0) if nz else ()
    scale = scales[0] if ns == 1 else (scales if ns else 0.0)
    zp = zps[0] if nz == 1 else (zps if nz else 0)
    return scale, zp, qdim


def _buffer_data(fb, b):
    data = b.bytes(0, 'data')
    if data is not None:
        return data
    offset = b.scalar(1, 'Q', 0, 'offset')
    size = b.scalar(2, 'Q', 0, 'size')
    if offset > 1 and size:
        fb.check(offset, size, 'Buffer.offset', 'data of %d bytes' % size)
        return fb.buf[offset:offset + size]
    return None


def _operator(fb, t, index, codes, nt):
    code = t.scalar(0, 'I', 0, 'opcode_index')
    if code >= len(codes):
        raise ModelError('Operator.opcode_index: %d out of range (%d codes) at offset %d'
                         % (code, len(codes), t.pos))
    name, version = codes[code]
    inputs = _indices(t, 1, 'inputs', nt, True)
    outputs = _indices(t, 2, 'outputs', nt, False)
    options = _options(t, name, index)
    custom = t.bytes(5, 'custom_options')
    if custom is None:
        size = t.scalar(10, 'Q', 0, 'large_custom_options_size')
        if size:
            offset = t.scalar(9, 'Q', 0, 'large_custom_options_offset')
            fb.check(offset, size, 'Operator.large_custom_options_offset', 'custom options')
            custom = fb.buf[offset:offset + size]
    return Op(index, name, inputs, outputs, options, custom, version)


def _options(t, name, index):
    kind = t.scalar(3, 'B', 0, 'builtin_options_type')
    expected = _OP_OPTIONS.get(name)
    if expected is None:
        return {}
    if kind not in (0, expected):
        raise ModelError('Operator.builtin_options_type: op %s (node %d) has options type %d,'
                         ' expected %s at offset %d'
                         % (name, index, kind, OPTION_TABLES[expected][0], t.pos))
    table_name, fields = OPTION_TABLES[expected]
    table = t.table(4, 'builtin_options', table_name) if kind else None
    options = {}
    for slot, fname, fmt, default in fields:
        if table is None:
            value = default
        elif fmt[0] == 'v':
            value = table.numbers(slot, fmt[1], fname)
        else:
            value = table.scalar(slot, fmt, default, fname)
        enum = _ENUMS.get(fname)
        if enum is not None:
            if not 0 <= value < len(enum):
                raise ModelError('%s.%s: bad value %d in op %s (node %d)'
                                 % (table_name, fname, value, name, index))
            value = enum[value]
        options[fname] = value
    return options
