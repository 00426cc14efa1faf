"""Plain data describing a model: tensors, ops and the graph that holds them.

Readers (the TFLite flatbuffer reader, later the compact format) build these;
ops, the planner and the model only read them (prepare may fill in shapes).
"""

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
    def __init__(self, index, name, shape, dtype, scale=0.0, zero_point=0, qdim=0,
                 data=None, is_variable=False):
        self.index = index
        self.name = name
        self.shape = tuple(shape)
        self.dtype = dtype
        self.scale = scale
        self.zero_point = zero_point
        self.qdim = qdim
        self.data = data
        self.is_variable = is_variable

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
    def __init__(self, index, name, inputs, outputs, options=None, custom=None, version=1):
        self.index = index
        self.name = name
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.options = options if options is not None else {}
        self.custom = custom
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
