"""Build small .tflite models from a Python spec (host only; for per-op tests).

    from tflite_builder import ModelBuilder
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.5, zero_point=-1, name='x')   # arena tensor
    w = b.const('int8', (3, 4), [[1, 2, 3, 4]] * 3, scale=(0.1, 0.2, 0.3), zero_point=0, qdim=0)
    s = b.tensor('int8', (1, 3), variable=True)                        # state tensor
    y = b.tensor('int8', (1, 3), scale=0.25, zero_point=3)
    b.op('FULLY_CONNECTED', [x, w, -1], [y], fused_activation_function='RELU')
    b.op('SignalWindow', [x, w], [y], custom=flexbuffer_bytes)  # a name that is no builtin -> custom op
    model_bytes = b.build(inputs=[x], outputs=[y])

- `tensor(dtype, shape, scale=None, zero_point=None, qdim=0, name=None, variable=False)` and
  `const(dtype, shape, data, ...)` return tensor indices; `data` is anything numpy can turn into
  an array of that shape (converted to dtype), or raw bytes. Per-channel: scale/zero_point tuples.
  Quantization is written only when scale is given.
- `op(name, inputs, outputs, custom=None, version=1, **options)`: options use the TFLite schema
  field names; enum fields take the names tinyml's reader returns ('SAME', 'RELU6', ...).
  Builtin op options are written as the table that op uses (tinyml.reader._OP_OPTIONS); pass
  `options_type=<BuiltinOptions index>` to force another (for malformed-model tests).
- `build(inputs, outputs, external_buffers=False)` -> bytes. external_buffers=True stores constant
  data after the flatbuffer (Buffer.offset/size), as large-model converters do (for reader
  tests: the TFLM build here does not read such buffers).
Flexbuffer custom options: `flatbuffers.flexbuffers.Dumps({...})`.
"""
import importlib

import flatbuffers
import numpy as np

from tinyml import reader

_NP = {'float32': np.float32, 'float16': np.float16, 'int32': np.int32, 'uint8': np.uint8,
       'int64': np.int64, 'bool': np.bool_, 'int16': np.int16, 'int8': np.int8,
       'float64': np.float64, 'uint64': np.uint64, 'uint32': np.uint32, 'uint16': np.uint16}
_BUILTIN_CODES = {name: code for code, name in enumerate(reader._OP_NAMES.split())}


def _camel(field):
    return ''.join(p[:1].upper() + p[1:] for p in field.split('_'))


def _schema(name):
    return importlib.import_module('tflite.' + name)


class ModelBuilder:
    def __init__(self):
        self.tensors = []   # dicts
        self.ops = []       # dicts

    def tensor(self, dtype, shape, scale=None, zero_point=None, qdim=0, name=None,
               variable=False, data=None):
        if dtype not in _NP:
            raise ValueError('dtype %r' % dtype)
        raw = None
        if data is not None:
            if isinstance(data, (bytes, bytearray)):
                raw = bytes(data)
            else:
                arr = np.asarray(data).astype(_NP[dtype])
                raw = arr.reshape(tuple(shape)).tobytes()
        self.tensors.append(dict(dtype=dtype, shape=tuple(int(d) for d in shape), scale=scale,
                                 zero_point=zero_point, qdim=qdim, variable=variable, data=raw,
                                 name=name if name is not None else 't%d' % len(self.tensors)))
        return len(self.tensors) - 1

    def const(self, dtype, shape, data, **kw):
        return self.tensor(dtype, shape, data=data, **kw)

    def op(self, name, inputs, outputs, custom=None, version=1, options_type=None, **options):
        self.ops.append(dict(name=name, inputs=list(inputs), outputs=list(outputs), custom=custom,
                             version=version, options=options, options_type=options_type))

    # -- writing ---------------------------------------------------------------------------
    def build(self, inputs, outputs, external_buffers=False):
        fb = flatbuffers.Builder(1024)
        m = _schema('Model')
        consts = [t for t in self.tensors if t['data'] is not None]
        buffer_of = {}
        for t in consts:
            buffer_of[id(t)] = len(buffer_of) + 1
        external = []
        buffers = [self._buffer(fb, None)]
        for t in consts:
            if external_buffers:
                external.append(t['data'])
                buffers.append(None)  # patched below once offsets are known
            else:
                buffers.append(self._buffer(fb, t['data']))
        codes, code_index = self._op_codes(fb)
        subgraph = self._subgraph(fb, buffer_of, code_index, inputs, outputs)
        if external_buffers:
            return self._build_external(inputs, outputs, external)
        return self._finish(fb, m, buffers, codes, subgraph)

    def _finish(self, fb, m, buffers, codes, subgraph, version=3):
        desc = fb.CreateString('tinyml test model')
        buf_vec = self._table_vector(fb, m.StartBuffersVector, buffers)
        code_vec = self._table_vector(fb, m.StartOperatorCodesVector, codes)
        sg_vec = self._table_vector(fb, m.StartSubgraphsVector, [subgraph])
        m.Start(fb)
        m.AddVersion(fb, version)
        m.AddOperatorCodes(fb, code_vec)
        m.AddSubgraphs(fb, sg_vec)
        m.AddDescription(fb, desc)
        m.AddBuffers(fb, buf_vec)
        fb.Finish(m.End(fb), file_identifier=b'TFL3')
        return bytes(fb.Output())

    def _build_external(self, inputs, outputs, datas):
        # The flatbuffer's size fixes where the data goes: rebuild until the offsets settle
        # (ForceDefaults keeps every field present so sizes do not depend on values).
        offsets = [1 << 40] * len(datas)
        for _ in range(3):
            fb = flatbuffers.Builder(1024)
            fb.ForceDefaults(True)
            buffers = [self._buffer(fb, None)]
            for off, d in zip(offsets, datas):
                buffers.append(self._buffer(fb, None, off, len(d)))
            buffer_of = {id(t): i + 1 for i, t in
                         enumerate(t for t in self.tensors if t['data'] is not None)}
            codes, code_index = self._op_codes(fb)
            subgraph = self._subgraph(fb, buffer_of, code_index, inputs, outputs)
            head = self._finish(fb, _schema('Model'), buffers, codes, subgraph)
            pos = (len(head) + 15) & ~15
            placed = []
            for d in datas:
                placed.append(pos)
                pos = (pos + len(d) + 15) & ~15
            if placed == offsets:
                break
            offsets = placed
        else:
            raise AssertionError('external buffer layout did not settle')
        out = bytearray(head)
        for off, d in zip(offsets, datas):
            out.extend(b'\0' * (off - len(out)))
            out.extend(d)
        return bytes(out)

    @staticmethod
    def _table_vector(fb, start, items):
        start(fb, len(items))
        for item in reversed(items):
            fb.PrependUOffsetTRelative(item)
        return fb.EndVector()

    @staticmethod
    def _int_vector(fb, values, prepend='PrependInt32', size=4):
        fb.StartVector(size, len(values), size)
        for v in reversed(values):
            getattr(fb, prepend)(v)
        return fb.EndVector()

    def _buffer(self, fb, data, offset=0, size=0):
        b = _schema('Buffer')
        vec = None
        if data is not None:
            fb.StartVector(1, len(data), 16)
            fb.head = fb.head - len(data)
            fb.Bytes[fb.head:fb.head + len(data)] = data
            vec = fb.EndVector()
        b.Start(fb)
        if vec is not None:
            b.AddData(fb, vec)
        if size:
            b.AddOffset(fb, offset)
            b.AddSize(fb, size)
        return b.End(fb)

    def _op_codes(self, fb):
        oc = _schema('OperatorCode')
        names = []
        for o in self.ops:
            key = (o['name'], o['version'])
            if key not in names:
                names.append(key)
        codes = []
        for name, version in names:
            builtin = _BUILTIN_CODES.get(name)
            custom = fb.CreateString(name) if builtin is None else None
            code = reader.CUSTOM_CODE if builtin is None else builtin
            oc.Start(fb)
            oc.AddDeprecatedBuiltinCode(fb, min(code, 127))
            oc.AddBuiltinCode(fb, code)
            if custom is not None:
                oc.AddCustomCode(fb, custom)
            oc.AddVersion(fb, version)
            codes.append(oc.End(fb))
        return codes, {key: i for i, key in enumerate(names)}

    def _subgraph(self, fb, buffer_of, code_index, inputs, outputs):
        sg = _schema('SubGraph')
        tensors = [self._tensor(fb, t, buffer_of.get(id(t), 0)) for t in self.tensors]
        ops = [self._operator(fb, o, code_index[(o['name'], o['version'])]) for o in self.ops]
        t_vec = self._table_vector(fb, sg.StartTensorsVector, tensors)
        o_vec = self._table_vector(fb, sg.StartOperatorsVector, ops)
        in_vec = self._int_vector(fb, list(inputs))
        out_vec = self._int_vector(fb, list(outputs))
        name = fb.CreateString('main')
        sg.Start(fb)
        sg.AddTensors(fb, t_vec)
        sg.AddInputs(fb, in_vec)
        sg.AddOutputs(fb, out_vec)
        sg.AddOperators(fb, o_vec)
        sg.AddName(fb, name)
        return sg.End(fb)

    def _tensor(self, fb, t, buffer_index):
        ts = _schema('Tensor')
        shape = self._int_vector(fb, list(t['shape']))
        name = fb.CreateString(t['name'])
        quant = self._quantization(fb, t) if t['scale'] is not None else None
        ts.Start(fb)
        ts.AddShape(fb, shape)
        ts.AddType(fb, reader.TENSOR_TYPES.index(t['dtype']))
        ts.AddBuffer(fb, buffer_index)
        ts.AddName(fb, name)
        if quant is not None:
            ts.AddQuantization(fb, quant)
        if t['variable']:
            ts.AddIsVariable(fb, True)
        return ts.End(fb)

    @staticmethod
    def _quantization(fb, t):
        q = _schema('QuantizationParameters')
        scales = t['scale'] if isinstance(t['scale'], (tuple, list)) else [t['scale']]
        zp = t['zero_point'] if t['zero_point'] is not None else 0
        zps = zp if isinstance(zp, (tuple, list)) else [zp] * len(scales)
        fb.StartVector(4, len(scales), 4)
        for s in reversed(scales):
            fb.PrependFloat32(float(s))
        s_vec = fb.EndVector()
        fb.StartVector(8, len(zps), 8)
        for z in reversed(zps):
            fb.PrependInt64(int(z))
        z_vec = fb.EndVector()
        q.Start(fb)
        q.AddScale(fb, s_vec)
        q.AddZeroPoint(fb, z_vec)
        q.AddQuantizedDimension(fb, t['qdim'])
        return q.End(fb)

    def _operator(self, fb, o, code):
        op = _schema('Operator')
        in_vec = self._int_vector(fb, o['inputs'])
        out_vec = self._int_vector(fb, o['outputs'])
        opts_type, opts = self._options(fb, o)
        custom = None
        if o['custom'] is not None:
            custom = fb.CreateByteVector(bytes(o['custom']))
        op.Start(fb)
        op.AddOpcodeIndex(fb, code)
        op.AddInputs(fb, in_vec)
        op.AddOutputs(fb, out_vec)
        if opts is not None:
            op.AddBuiltinOptionsType(fb, opts_type)
            op.AddBuiltinOptions(fb, opts)
        if custom is not None:
            op.AddCustomOptions(fb, custom)
        return op.End(fb)

    def _options(self, fb, o):
        kind = o['options_type'] or reader._OP_OPTIONS.get(o['name'])
        if kind is None:
            if o['options']:
                raise ValueError('op %s takes no builtin options' % o['name'])
            return 0, None
        table, fields = reader.OPTION_TABLES[kind]
        known = {f[1]: f for f in fields}
        for key in o['options']:
            if key not in known:
                raise ValueError('%s has no field %r' % (table, key))
        mod = _schema(table)
        vectors = {}
        for key, value in o['options'].items():
            if known[key][2][0] == 'v':
                vectors[key] = self._int_vector(fb, list(value))
        mod.Start(fb)
        for key, value in o['options'].items():
            adder = getattr(mod, 'Add' + _camel(key))
            if key in vectors:
                adder(fb, vectors[key])
                continue
            enum = reader._ENUMS.get(key)
            if enum is not None and isinstance(value, str):
                value = enum.index(value)
            adder(fb, value)
        return kind, mod.End(fb)
