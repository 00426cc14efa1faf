"""reader.py against the `tflite` package's parse, builder-made edge cases, and fuzzing."""
import importlib
import random

import numpy as np
import pytest
import tflite

from conftest import corpus_models, model_zoo
from tflite_builder import ModelBuilder
from tinyml import ModelError, UnsupportedOpError, reader


def _camel(field):
    return ''.join(p[:1].upper() + p[1:] for p in field.split('_'))


def _expected_options(op, name):
    kind = op.BuiltinOptionsType()
    if name not in reader._OP_OPTIONS:
        return {}
    table_name, fields = reader.OPTION_TABLES[reader._OP_OPTIONS[name]]
    mod = importlib.import_module('tflite.' + table_name)
    table = None
    if kind:
        table = getattr(mod, table_name)()
        t = op.BuiltinOptions()
        table.Init(t.Bytes, t.Pos)
    out = {}
    for slot, fname, fmt, default in fields:
        if table is None:
            value = default
        elif fmt[0] == 'v':
            n = getattr(table, _camel(fname) + 'Length')()
            value = tuple(getattr(table, _camel(fname))(j) for j in range(n))
        else:
            value = getattr(table, _camel(fname))()
        if fname in reader._ENUMS:
            value = reader._ENUMS[fname][value]
        out[fname] = value
    return out


def _compare_with_tflite(buf):
    g = reader.read(buf)
    m = tflite.Model.GetRootAsModel(buf, 0)
    sg = m.Subgraphs(0)
    assert len(g.tensors) == sg.TensorsLength()
    for i, t in enumerate(g.tensors):
        ref = sg.Tensors(i)
        assert t.index == i
        assert t.name == (ref.Name() or b'').decode()
        assert t.shape == tuple(int(d) for d in ref.ShapeAsNumpy()) if ref.ShapeLength() else t.shape == ()
        assert t.dtype == reader.TENSOR_TYPES[ref.Type()]
        assert t.is_variable == ref.IsVariable()
        q = ref.Quantization()
        scales = list(q.ScaleAsNumpy()) if q is not None and q.ScaleLength() else []
        zps = list(q.ZeroPointAsNumpy()) if q is not None and q.ZeroPointLength() else []
        got_scales = list(t.scale) if isinstance(t.scale, tuple) else ([t.scale] if scales else [])
        got_zps = list(t.zero_point) if isinstance(t.zero_point, tuple) else ([t.zero_point] if zps else [])
        assert np.array_equal(np.float32(got_scales), np.float32(scales))
        assert got_zps == [int(z) for z in zps]
        assert t.qdim == (q.QuantizedDimension() if q is not None else 0)
        data = m.Buffers(ref.Buffer()).DataAsNumpy() if ref.Buffer() else 0
        if isinstance(data, np.ndarray) and data.size and not t.is_variable:
            assert bytes(t.data) == data.tobytes()
        else:
            assert t.data is None
    assert g.inputs == tuple(sg.InputsAsNumpy())
    assert g.outputs == tuple(sg.OutputsAsNumpy())
    assert len(g.ops) == sg.OperatorsLength()
    for i, op in enumerate(g.ops):
        ref = sg.Operators(i)
        code = m.OperatorCodes(ref.OpcodeIndex())
        builtin = max(code.DeprecatedBuiltinCode(), code.BuiltinCode())
        name = code.CustomCode().decode() if builtin == tflite.BuiltinOperator.CUSTOM else \
            reader.op_name(builtin)
        assert op.name == name
        assert op.version == code.Version()
        assert op.inputs == tuple(ref.InputsAsNumpy()) if ref.InputsLength() else op.inputs == ()
        assert op.outputs == tuple(ref.OutputsAsNumpy())
        assert op.options == _expected_options(ref, name)
        if ref.CustomOptionsLength():
            assert bytes(op.custom) == ref.CustomOptionsAsNumpy().tobytes()
        else:
            assert op.custom is None
    return g


@pytest.mark.parametrize('name', corpus_models())
def test_corpus_model_matches_tflite_package(name):
    buf = (model_zoo() / (name + '.tflite')).read_bytes()
    g = _compare_with_tflite(buf)
    assert g.ops and g.inputs and g.outputs


def _fc_model(**kw):
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.5, zero_point=-1, name='x')
    w = b.const('int8', (3, 4), np.arange(12).reshape(3, 4), scale=(0.1, 0.2, 0.3),
                zero_point=(0, 0, 0), qdim=0)
    bias = b.const('int32', (3,), [1, -2, 3])
    y = b.tensor('int8', (1, 3), scale=0.25, zero_point=3, name='y')
    b.op('FULLY_CONNECTED', [x, w, bias], [y], fused_activation_function='RELU6')
    return b.build([x], [y], **kw)


def test_builder_model_parses_like_tflite():
    g = _compare_with_tflite(_fc_model())
    assert g.ops[0].options['fused_activation_function'] == 'RELU6'
    w = g.tensors[1]
    assert w.scale == pytest.approx((0.1, 0.2, 0.3)) and w.zero_point == (0, 0, 0)
    assert bytes(w.data) == bytes(range(12))
    assert g.tensors[2].scale == 0.0 and g.tensors[2].zero_point == 0


def test_weights_are_views_not_copies():
    buf = bytearray(_fc_model())
    g = reader.read(buf)
    w = g.tensors[1]
    assert isinstance(w.data, memoryview)
    first = bytes(w.data)
    start = bytes(buf).find(first)
    buf[start] ^= 0x7F
    assert bytes(w.data)[0] == first[0] ^ 0x7F


def test_external_buffers_read_from_offset():
    inline = reader.read(_fc_model())
    external = reader.read(_fc_model(external_buffers=True))
    for a, b in zip(inline.tensors, external.tensors):
        assert (a.data is None) == (b.data is None)
        if a.data is not None:
            assert bytes(a.data) == bytes(b.data)


def test_custom_op_and_vector_options():
    b = ModelBuilder()
    x = b.tensor('int8', (2, 3), scale=1.0, zero_point=0)
    r = b.tensor('int8', (3, 2), scale=1.0, zero_point=0)
    y = b.tensor('int8', (3, 2), scale=1.0, zero_point=0)
    b.op('RESHAPE', [x], [r], new_shape=[3, 2])
    b.op('MyCustomThing', [r], [y], custom=b'\x01\x02\x03')
    g = _compare_with_tflite(b.build([x], [y]))
    assert g.ops[0].options == {'new_shape': (3, 2)}
    assert g.ops[1].name == 'MyCustomThing' and bytes(g.ops[1].custom) == b'\x01\x02\x03'


def test_absent_options_give_schema_defaults():
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4, 4, 1), scale=1.0, zero_point=0)
    y = b.tensor('int8', (1, 2, 2, 1), scale=1.0, zero_point=0)
    b.op('MAX_POOL_2D', [x], [y])
    b.ops[0]['options_type'] = None
    g = reader.read(b.build([x], [y]))
    assert g.ops[0].options['padding'] == 'SAME' and g.ops[0].options['stride_w'] == 0


def test_wrong_options_table_is_model_error():
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    y = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    b.op('ADD', [x, x], [y], options_type=21, fused_activation_function='NONE')  # MulOptions
    with pytest.raises(ModelError, match='ADD.*node 0.*expected AddOptions'):
        reader.read(b.build([x], [y]))


def test_constant_size_mismatch_is_model_error():
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    w = b.const('int8', (1, 4), b'\x01\x02\x03')
    y = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    b.op('ADD', [x, w], [y])
    with pytest.raises(ModelError, match='holds 3 bytes'):
        reader.read(b.build([x], [y]))


def test_bad_tensor_index_is_model_error():
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    y = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    b.op('ADD', [x, 7], [y])
    with pytest.raises(ModelError, match='Operator.inputs: tensor index 7'):
        reader.read(b.build([x], [y]))


def test_unsupported_tensor_type():
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=1.0, zero_point=0)
    y = b.tensor('int8', (1, 4))
    buf = bytearray(b.build([x], [y]))
    g = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0).Tensors(1)
    # Overwrite the type byte with INT4 (17).
    o = g._tab.Offset(6)
    buf[g._tab.Pos + o] = 17
    with pytest.raises(UnsupportedOpError, match="tensor 1 't1': type int4"):
        reader.read(buf)


@pytest.mark.parametrize('buf,match', [
    (b'', 'too short'),
    (b'\x00' * 16, 'not TFL3'),
    (b'\xff\xff\xff\x7fTFL3\x00\x00\x00\x00', 'out of bounds'),
])
def test_garbage_is_model_error(buf, match):
    with pytest.raises(ModelError, match=match):
        reader.read(buf)


def _mutants(buf, count, seed):
    rng = random.Random(seed)
    for k in range(count):
        b = bytearray(buf)
        if k % 4 == 0:
            yield bytes(b[:rng.randrange(len(b))])
            continue
        for _ in range(rng.randrange(1, 8)):
            p = rng.randrange(len(b))
            b[p] = rng.randrange(256) if k % 2 else b[p] ^ (1 << rng.randrange(8))
        yield bytes(b)


def test_fuzz_cpython():
    buf = _fc_model()
    errors = 0
    for mutant in _mutants(buf, 3000, 1):
        try:
            reader.read(mutant)
        except ModelError:
            errors += 1
    assert errors > 300  # the mutations do hit the checks


FUZZ_MP = r'''
import random
from tinyml import reader, ModelError
f = open(%r, 'rb'); buf = f.read(); f.close()
random.seed(%d)
errors = 0
for k in range(%d):
    b = bytearray(buf)
    if k %% 4 == 0:
        b = b[:random.getrandbits(16) %% len(b)]
    else:
        for _ in range(1 + random.getrandbits(3) %% 7):
            p = random.getrandbits(16) %% len(b)
            b[p] = random.getrandbits(8) if k %% 2 else b[p] ^ (1 << random.getrandbits(3))
    try:
        reader.read(b)
    except ModelError:
        errors += 1
print(errors)
'''


def test_fuzz_micropython(mp, tmp_path):
    path = tmp_path / 'fc.tflite'
    path.write_bytes(_fc_model())
    errors = mp.json(FUZZ_MP % (str(path), 7, 2000), timeout=300)
    assert errors > 200


def test_micropython_reads_like_cpython(mp, tmp_path):
    path = tmp_path / 'fc.tflite'
    path.write_bytes(_fc_model(external_buffers=True))
    got = mp.json(
        'import json\nfrom tinyml import reader\n'
        'g = reader.read(open(%r, "rb").read())\n'
        'print(json.dumps([[t.name, list(t.shape), t.dtype, t.zero_point,'
        ' list(t.data) if t.data is not None else None] for t in g.tensors]'
        ' + [[o.name, list(o.inputs), list(o.outputs), o.options] for o in g.ops]))' % str(path))
    g = reader.read(path.read_bytes())
    want = [[t.name, list(t.shape), t.dtype, list(t.zero_point) if isinstance(t.zero_point, tuple)
             else t.zero_point, list(t.data) if t.data is not None else None] for t in g.tensors]
    want += [[o.name, list(o.inputs), list(o.outputs), o.options] for o in g.ops]
    assert got == want
