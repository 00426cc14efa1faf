"""Plain data describing a model: tensors, ops and the graph that holds them.

Readers (the TFLite flatbuffer reader, later the compact format) build these;
ops, the planner and the model only read them (prepare may fill in shapes).

Memory: a tensor's name and per-channel scales / zero points may be held as memoryview
slices of the model buffer and decoded on each access (`t.name` is a str, `t.scale` a tuple
of floats, `t.zero_point` a tuple of ints, as always): a model with a few hundred channels
would otherwise keep thousands of boxed floats alive for as long as it is loaded.
"""
import struct

ITEMSIZE = {
    'int8': 1, 'uint8': 1, 'bool': 1, 'int16': 2, 'uint16': 2, 'float16': 2,
    'int32': 4, 'uint32': 4, 'float32': 4, 'int64': 8, 'uint64': 8, 'float64': 8,
}


def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Tensor:
    """name: str or a memoryview of its UTF-8 bytes; scale / zero_point: as documented, or
    (per-channel) memoryviews of n little-endian float32 scales and n int64 or int32 zero
    points, decoded on access."""

    # defaults as class attributes: an instance stores only what differs (a smaller
    # attribute table per tensor on MicroPython)
    _scale = 0.0
    _zp = 0
    qdim = 0
    data = None
    is_variable = False

    def __init__(self, index, name, shape, dtype, scale=0.0, zero_point=0, qdim=0,
                 data=None, is_variable=False):
        self.index = index
        self._name = name
        self.shape = tuple(shape)
        self.dtype = dtype
        if scale.__class__ is not float or scale:
            self._scale = scale
        if zero_point.__class__ is not int or zero_point:
            self._zp = zero_point
        if qdim:
            self.qdim = qdim
        if data is not None:
            self.data = data
        if is_variable:
            self.is_variable = is_variable

    @property
    def name(self):
        n = self._name
        return n if isinstance(n, str) else str(bytes(n), 'utf-8')

    @name.setter
    def name(self, v):
        self._name = v

    @property
    def scale(self):
        s = self._scale
        if isinstance(s, memoryview):
            return struct.unpack_from('<%df' % (len(s) >> 2), s, 0)
        return s

    @scale.setter
    def scale(self, v):
        self._scale = v

    @property
    def zero_point(self):
        z = self._zp
        if isinstance(z, memoryview):
            s = self._scale
            n = len(s) >> 2 if isinstance(s, memoryview) else len(s)
            return struct.unpack_from('<%d%s' % (n, 'q' if len(z) == 8 * n else 'i'), z, 0)
        return z

    @zero_point.setter
    def zero_point(self, v):
        self._zp = v

    @property
    def itemsize(self):
        return ITEMSIZE[self.dtype]

    @property
    def size(self):
        return element_count(self.shape)

    @property
    def nbytes(self):
        return element_count(self.shape) * ITEMSIZE[self.dtype]

    @property
    def is_constant(self):
        return self.data is not None

    def __repr__(self):
        return 'Tensor(%d %r %s %r)' % (self.index, self.name, self.dtype, self.shape)


class Op:
    custom = None
    version = 1

    def __init__(self, index, name, inputs, outputs, options=None, custom=None, version=1):
        self.index = index
        self.name = name
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.options = options if options is not None else {}
        if custom is not None:
            self.custom = custom
        if version != 1:
            self.version = version

    def __repr__(self):
        return 'Op(%d %s in=%r out=%r)' % (self.index, self.name, self.inputs, self.outputs)


class Graph:
    def __init__(self, tensors, ops, inputs, outputs, buffer=None):
        self.tensors = tensors
        self.ops = ops
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.buffer = buffer
