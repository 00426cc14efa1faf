"""Reshape-likes, QUANTIZE/DEQUANTIZE/CAST and the data movement ops against TFLM, on builder
graphs, under CPython and on the unix port."""
import json

import numpy as np
import pytest

from reference import run_tflm
from tflite_builder import ModelBuilder
import tinyml

RNG = np.random.default_rng(2024)
_INFO = {'int8': np.iinfo(np.int8), 'uint8': np.iinfo(np.uint8), 'int16': np.iinfo(np.int16),
         'int32': np.iinfo(np.int32), 'uint32': np.iinfo(np.uint32)}


def rand(dtype, shape, lo=-100.0, hi=100.0):
    if dtype == 'float32':
        return RNG.uniform(lo, hi, size=shape).astype(np.float32)
    if dtype == 'bool':
        return RNG.integers(0, 2, size=shape).astype(np.bool_)
    i = _INFO[dtype]
    return RNG.integers(i.min, i.max, size=shape, endpoint=True, dtype=dtype)


def _q(dtype, scale=0.05, zp=3):
    if dtype in ('int8', 'uint8', 'int16'):
        return dict(scale=scale, zero_point=0 if dtype == 'int16' else zp)
    return {}


def unary(op, dtype, in_shape, out_shape, consts=(), out_dtype=None, in_q=None, out_q=None,
          **options):
    """One op: x (+ constant inputs given as (dtype, shape, data)) -> y."""
    b = ModelBuilder()
    x = b.tensor(dtype, in_shape, **(in_q if in_q is not None else _q(dtype)))
    ins = [x]
    for cdtype, cshape, data in consts:
        ins.append(b.const(cdtype, cshape, data, **_q(cdtype)) if cdtype else -1)
    od = out_dtype or dtype
    y = b.tensor(od, out_shape, **(out_q if out_q is not None else _q(od)))
    b.op(op, ins, [y], **options)
    return b.build([x], [y]), [rand(dtype, in_shape)]


def multi(op, dtype, in_shapes, out_shapes, **options):
    b = ModelBuilder()
    xs = [b.tensor(dtype, s, **_q(dtype)) for s in in_shapes]
    ys = [b.tensor(dtype, s, **_q(dtype)) for s in out_shapes]
    b.op(op, xs, ys, **options)
    return b.build(xs, ys), [rand(dtype, s) for s in in_shapes]


def i32(*v):
    return ('int32', (len(v),), list(v))


CASES = {
    'reshape': lambda: unary('RESHAPE', 'int8', (2, 3, 4), (4, 6), [i32(4, 6)], new_shape=[4, 6]),
    'reshape_f32': lambda: unary('RESHAPE', 'float32', (6, 4), (24,), [i32(24)]),
    'squeeze': lambda: unary('SQUEEZE', 'int16', (1, 5, 1, 3), (5, 3), squeeze_dims=[0, 2]),
    'expand_dims': lambda: unary('EXPAND_DIMS', 'int8', (5, 3), (5, 1, 3), [('int32', (), [1])]),
    'shape': lambda: unary('SHAPE', 'int8', (2, 7, 3), (3,), out_dtype='int32', out_type='int32'),
    'quantize_f32_int8': lambda: unary('QUANTIZE', 'float32', (4, 25), (4, 25), out_dtype='int8',
                                       out_q=dict(scale=0.37, zero_point=-5)),
    'quantize_f32_int16': lambda: unary('QUANTIZE', 'float32', (64,), (64,), out_dtype='int16',
                                        out_q=dict(scale=0.0031, zero_point=0)),
    'requant_int8_int8': lambda: unary('QUANTIZE', 'int8', (300,), (300,),
                                       in_q=dict(scale=0.1, zero_point=7),
                                       out_q=dict(scale=0.043, zero_point=-20)),
    'requant_int8_uint8': lambda: unary('QUANTIZE', 'int8', (256,), (256,), out_dtype='uint8',
                                        in_q=dict(scale=0.1, zero_point=-128),
                                        out_q=dict(scale=0.1, zero_point=0)),
    'requant_uint8_int8': lambda: unary('QUANTIZE', 'uint8', (256,), (256,), out_dtype='int8',
                                        in_q=dict(scale=0.02, zero_point=128),
                                        out_q=dict(scale=0.03, zero_point=-1)),
    'requant_int8_int16': lambda: unary('QUANTIZE', 'int8', (100,), (100,), out_dtype='int16',
                                        in_q=dict(scale=0.1, zero_point=4),
                                        out_q=dict(scale=0.001, zero_point=0)),
    'requant_int8_int32': lambda: unary('QUANTIZE', 'int8', (100,), (100,), out_dtype='int32',
                                        in_q=dict(scale=0.1, zero_point=4),
                                        out_q=dict(scale=0.0007, zero_point=0)),
    'requant_int16_int8': lambda: unary('QUANTIZE', 'int16', (200,), (200,), out_dtype='int8',
                                        in_q=dict(scale=0.001, zero_point=0),
                                        out_q=dict(scale=0.2, zero_point=3)),
    'requant_int16_int16': lambda: unary('QUANTIZE', 'int16', (200,), (200,),
                                         in_q=dict(scale=0.001, zero_point=0),
                                         out_q=dict(scale=0.0017, zero_point=0)),
    'requant_int16_int32': lambda: unary('QUANTIZE', 'int16', (200,), (200,), out_dtype='int32',
                                         in_q=dict(scale=0.001, zero_point=0),
                                         out_q=dict(scale=0.00001, zero_point=0)),
    'requant_int32_int8': lambda: unary('QUANTIZE', 'int32', (200,), (200,), out_dtype='int8',
                                        in_q=dict(scale=1e-7, zero_point=0),
                                        out_q=dict(scale=0.9, zero_point=-3)),
    'dequantize_int8': lambda: unary('DEQUANTIZE', 'int8', (3, 40), (3, 40), out_dtype='float32',
                                     in_q=dict(scale=0.0123, zero_point=-9), out_q={}),
    'dequantize_int16': lambda: unary('DEQUANTIZE', 'int16', (50,), (50,), out_dtype='float32',
                                      in_q=dict(scale=0.00041, zero_point=0), out_q={}),
    'concat_axis1': lambda: multi('CONCATENATION', 'int8', [(2, 3, 4), (2, 1, 4), (2, 5, 4)],
                                  [(2, 9, 4)], axis=1),
    'concat_last_f32': lambda: multi('CONCATENATION', 'float32', [(3, 2), (3, 7)], [(3, 9)],
                                     axis=-1),
    'concat_axis0_int16': lambda: multi('CONCATENATION', 'int16', [(1, 6), (4, 6)], [(5, 6)],
                                        axis=0),
    'concat_int32': lambda: multi('CONCATENATION', 'int32', [(2, 2, 2), (2, 2, 3)], [(2, 2, 5)],
                                  axis=2),
    'pack_axis0': lambda: multi('PACK', 'int8', [(3, 4)] * 3, [(3, 3, 4)], values_count=3,
                                axis=0),
    'pack_axis2_f32': lambda: multi('PACK', 'float32', [(3, 4)] * 2, [(3, 4, 2)], values_count=2,
                                    axis=2),
    'unpack_axis1': lambda: multi('UNPACK', 'int8', [(2, 3, 5)], [(2, 5)] * 3, num=3, axis=1),
    'unpack_axis0_f32': lambda: multi('UNPACK', 'float32', [(2, 40)], [(40,)] * 2, num=2, axis=0),
    'transpose_nchw_nhwc': lambda: unary('TRANSPOSE', 'int8', (1, 3, 8, 10), (1, 8, 10, 3),
                                         [i32(0, 2, 3, 1)]),
    'transpose_3d_f32': lambda: unary('TRANSPOSE', 'float32', (4, 5, 6), (6, 4, 5), [i32(2, 0, 1)]),
    'transpose_2d_int16': lambda: unary('TRANSPOSE', 'int16', (7, 9), (9, 7), [i32(1, 0)]),
    'transpose_rows': lambda: unary('TRANSPOSE', 'int8', (4, 2, 32), (2, 4, 32), [i32(1, 0, 2)]),
    'pad_hw': lambda: unary('PAD', 'int8', (1, 6, 5, 3), (1, 8, 8, 3),
                            [('int32', (4, 2), [0, 0, 1, 1, 2, 1, 0, 0])]),
    'pad_f32': lambda: unary('PAD', 'float32', (3, 4), (6, 5), [('int32', (2, 2), [1, 2, 0, 1])]),
    'pad_big_rows': lambda: unary('PAD', 'int8', (1, 30, 30, 8), (1, 31, 31, 8),
                                  [('int32', (4, 2), [0, 0, 0, 1, 0, 1, 0, 0])]),
    'padv2_int8': lambda: unary('PADV2', 'int8', (2, 3, 3), (2, 5, 6),
                                [('int32', (3, 2), [0, 0, 1, 1, 3, 0]), ('int8', (), [-7])]),
    'gather_axis0': lambda: _gather('int8', (10, 4), (3,), 0, [7, 0, 9]),
    'gather_axis1_f32': lambda: _gather('float32', (3, 6, 2), (2, 2), 1, [5, 0, 1, 1]),
    'split_axis1': lambda: _split(),
    'split_v': lambda: _split_v(),
}

SLICES = [
    # shape, begin, end, strides, options
    ((4, 6), (1, 2), (3, 5), (1, 1), {}),
    ((4, 6), (0, 0), (4, 6), (2, 3), {}),
    ((4, 6), (-1, 5), (0, 0), (-1, -2), {}),
    ((4, 6), (1, 0), (0, 6), (1, 1), dict(end_mask=1)),
    ((4, 6), (3, 1), (2, 4), (1, 1), dict(begin_mask=1)),
    ((2, 3, 5), (1, 0, 1), (2, 3, 4), (1, 1, 1), dict(shrink_axis_mask=1)),
    ((2, 3, 5), (0, -2, 0), (2, 0, 5), (1, 1, 2), dict(shrink_axis_mask=2)),
    ((3, 8), (1, 2), (2, 6), (1, 1), dict(offset=True)),   # TFLM ignores offset
    ((5,), (-100,), (100,), (1,), {}),
]


def _slice_case(k, dtype='int8'):
    shape, begin, end, strides, opts = SLICES[k]
    out = []
    shrink = opts.get('shrink_axis_mask', 0)
    ref = np.zeros(shape)
    sl = []
    for d in range(len(shape)):
        if shrink >> d & 1:
            sl.append(begin[d] if begin[d] >= 0 else begin[d] + shape[d])
            continue
        b = None if opts.get('begin_mask', 0) >> d & 1 else begin[d]
        e = None if opts.get('end_mask', 0) >> d & 1 else end[d]
        sl.append(slice(b, e, strides[d]))
    out = ref[tuple(sl)].shape
    return unary('STRIDED_SLICE', dtype, shape, out,
                 [i32(*begin), i32(*end), i32(*strides)], **opts)


for _k in range(len(SLICES)):
    CASES['strided_slice_%d' % _k] = (lambda k: lambda: _slice_case(k))(_k)
CASES['strided_slice_f32'] = lambda: _slice_case(2, 'float32')
for _src, _dst in [('int8', 'int32'), ('int8', 'float32'), ('int16', 'int8'), ('int32', 'int16'),
                   ('float32', 'int32'), ('float32', 'int8'), ('int32', 'float32'),
                   ('bool', 'int32'), ('int32', 'bool'), ('int8', 'uint32'), ('uint32', 'int8')]:
    CASES['cast_%s_%s' % (_src, _dst)] = (lambda s, d: lambda: unary(
        'CAST', s, (3, 11), (3, 11), out_dtype=d, in_q={}, out_q={}))(_src, _dst)


def _gather(dtype, shape, ishape, axis, idx):
    b = ModelBuilder()
    p = b.tensor(dtype, shape, **_q(dtype))
    i = b.tensor('int32', ishape)
    out_shape = shape[:axis] + ishape + shape[axis + 1:]
    y = b.tensor(dtype, out_shape, **_q(dtype))
    b.op('GATHER', [p, i], [y], axis=axis)
    return b.build([p, i], [y]), [rand(dtype, shape), np.array(idx, np.int32).reshape(ishape)]


def _split():
    b = ModelBuilder()
    axis = b.const('int32', (), [1])
    x = b.tensor('int8', (2, 6, 3), **_q('int8'))
    ys = [b.tensor('int8', (2, 2, 3), **_q('int8')) for _ in range(3)]
    b.op('SPLIT', [axis, x], ys, num_splits=3)
    return b.build([x], ys), [rand('int8', (2, 6, 3))]


def _split_v():
    b = ModelBuilder()
    x = b.tensor('float32', (4, 10))
    sizes = b.const('int32', (3,), [2, -1, 5])
    axis = b.const('int32', (), [-1])
    ys = [b.tensor('float32', (4, n)) for n in (2, 3, 5)]
    b.op('SPLIT_V', [x, sizes, axis], ys, num_splits=3)
    return b.build([x], ys), [rand('float32', (4, 10))]


def _run_tinyml(buf, inputs):
    m = tinyml.load(buf)
    for i, x in enumerate(inputs):
        m.set_input(i, np.ascontiguousarray(x).tobytes())
    m.invoke()
    return [bytes(t.raw) for t in m.outputs]


def _check(got, want, name):
    for g, w in zip(got, want):
        arr = np.frombuffer(g, dtype=w.dtype).reshape(w.shape)
        if w.dtype.kind == 'f':
            np.testing.assert_allclose(arr, w, rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(arr, w, err_msg=name)


@pytest.mark.parametrize('name', sorted(CASES))
def test_op_matches_tflm_cpython(name):
    buf, inputs = CASES[name]()
    want = run_tflm(buf, inputs)
    assert len(want) >= 1
    _check(_run_tinyml(buf, inputs), want, name)


MP_RUNNER = r'''
import json, tinyml
cases = json.loads(open(%r).read())
out = {}
for name in cases:
    case = cases[name]
    m = tinyml.load(case['model'])
    for i, path in enumerate(case['inputs']):
        f = open(path, 'rb'); m.set_input(i, f.read()); f.close()
    m.invoke()
    res = []
    for t in m.outputs:
        res.append(bytes(t.raw).hex())
    out[name] = res
print(json.dumps(out))
'''


def test_ops_match_tflm_micropython(mp, tmp_path):
    cases, wants = {}, {}
    for name in sorted(CASES):
        buf, inputs = CASES[name]()
        model = tmp_path / (name + '.tflite')
        model.write_bytes(buf)
        paths = []
        for i, x in enumerate(inputs):
            p = tmp_path / ('%s.in%d' % (name, i))
            p.write_bytes(np.ascontiguousarray(x).tobytes())
            paths.append(str(p))
        cases[name] = {'model': str(model), 'inputs': paths}
        wants[name] = run_tflm(buf, inputs)
    spec = tmp_path / 'cases.json'
    spec.write_text(json.dumps(cases))
    got = mp.json(MP_RUNNER % str(spec), heapsize=8 << 20)
    for name in cases:
        _check([bytes.fromhex(h) for h in got[name]], wants[name], name)


def test_unsupported_cases_name_op_and_node():
    buf, _ = unary('STRIDED_SLICE', 'int8', (4, 4), (2, 4), [i32(0, 0), i32(2, 4), i32(1, 1)],
                   ellipsis_mask=1)
    with pytest.raises(tinyml.UnsupportedOpError, match=r'STRIDED_SLICE \(node 0\).*ellipsis'):
        tinyml.load(buf)
    b = ModelBuilder()
    x = b.tensor('int8', (4, 4), **_q('int8'))
    perm = b.tensor('int32', (2,))
    y = b.tensor('int8', (4, 4), **_q('int8'))
    b.op('TRANSPOSE', [x, perm], [y])
    with pytest.raises(tinyml.UnsupportedOpError, match=r'TRANSPOSE \(node 0\).*constant'):
        tinyml.load(b.build([x, perm], [y]))


@pytest.mark.parametrize('build,match', [
    (lambda: multi('CONCATENATION', 'int8', [(2, 3), (3, 3)], [(5, 3)], axis=1), 'does not fit'),
    (lambda: unary('RESHAPE', 'int8', (2, 3), (7,)), 'differ in size'),
    (lambda: unary('TRANSPOSE', 'int8', (2, 3), (3, 2), [i32(0, 0)]), 'not a permutation'),
    (lambda: unary('PAD', 'int8', (2, 3), (4, 3), [('int32', (2, 2), [1, 1, 0, 0])][:0]
                   + [('int32', (1, 2), [1, 1])]), 'paddings'),
    (lambda: unary('STRIDED_SLICE', 'int8', (4,), (2,), [i32(0), i32(2), i32(0)]), 'stride 0'),
])
def test_bad_models_raise_model_error(build, match):
    buf, _ = build()
    with pytest.raises(tinyml.ModelError, match=match):
        tinyml.load(buf)


def test_gather_index_out_of_range_raises():
    buf, inputs = _gather('int8', (4, 2), (2,), 0, [1, 2])
    m = tinyml.load(buf)
    m.set_input(1, np.array([1, 9], np.int32).tobytes())
    with pytest.raises(ValueError, match='index 9 out of range'):
        m.invoke()


def test_concat_int8_needs_equal_quantization_like_tflm():
    b = ModelBuilder()
    x = b.tensor('int8', (2, 2), scale=0.5, zero_point=0)
    z = b.tensor('int8', (2, 2), scale=0.25, zero_point=0)
    y = b.tensor('int8', (4, 2), scale=0.5, zero_point=0)
    b.op('CONCATENATION', [x, z], [y], axis=0)
    buf = b.build([x, z], [y])
    with pytest.raises(RuntimeError):
        run_tflm(buf, [rand('int8', (2, 2)), rand('int8', (2, 2))])
    with pytest.raises(tinyml.UnsupportedOpError, match=r'CONCATENATION \(node 0\).*quantization'):
        tinyml.load(buf)


def test_transpose_copies_raw_values_across_quantization_like_tflm():
    buf, inputs = unary('TRANSPOSE', 'int8', (3, 5), (5, 3), [i32(1, 0)],
                        in_q=dict(scale=0.5, zero_point=1), out_q=dict(scale=0.1, zero_point=-4))
    _check(_run_tinyml(buf, inputs), run_tflm(buf, inputs), 'transpose raw')
