"""model.py: load from any source, the public API, allocation-free invoke, errors."""
import array

import numpy as np
import pytest

from conftest import model_zoo
from reference import run_tflm
from tflite_builder import ModelBuilder
import tinyml
from tinyml import kernels


def _pipeline():
    """int8: x -> QUANTIZE(requant) -> RESHAPE -> PAD -> TRANSPOSE -> CONCAT(w/ const) -> y."""
    b = ModelBuilder()
    x = b.tensor('int8', (2, 3, 4), scale=0.1, zero_point=2, name='x')
    q = b.tensor('int8', (2, 3, 4), scale=0.07, zero_point=-3)
    r = b.tensor('int8', (6, 4), scale=0.07, zero_point=-3)
    pads = b.const('int32', (2, 2), [1, 0, 0, 2])
    p = b.tensor('int8', (7, 6), scale=0.07, zero_point=-3)
    perm = b.const('int32', (2,), [1, 0])
    t = b.tensor('int8', (6, 7), scale=0.07, zero_point=-3)
    c = b.const('int8', (6, 2), np.arange(12) - 6, scale=0.07, zero_point=-3)
    y = b.tensor('int8', (6, 9), scale=0.07, zero_point=-3, name='y')
    b.op('QUANTIZE', [x], [q])
    b.op('RESHAPE', [q], [r], new_shape=[6, 4])
    b.op('PAD', [r, pads], [p])
    b.op('TRANSPOSE', [p, perm], [t])
    b.op('CONCATENATION', [t, c], [y], axis=1)
    return b.build([x], [y])


X = (np.arange(24, dtype=np.int8) * 5 - 60).reshape(2, 3, 4)


def test_pipeline_matches_tflm():
    buf = _pipeline()
    m = tinyml.load(buf)
    m.set_input(0, X.tobytes())
    m.invoke()
    want = run_tflm(buf, [X])[0]
    assert bytes(m.outputs[0].raw) == want.tobytes()
    assert list(m.get_output(0)) == list(want.ravel())


def test_tensor_metadata_and_arena():
    m = tinyml.load(_pipeline())
    x, y = m.inputs[0], m.outputs[0]
    assert (x.name, x.shape, x.dtype, x.nbytes) == ('x', (2, 3, 4), 'int8', 24)
    assert x.scale == pytest.approx(0.1) and x.zero_point == 2
    assert (y.name, y.shape, y.nbytes) == ('y', (6, 9), 54)
    # the peak is CONCATENATION: t (42 bytes -> 48 aligned) and y (54 -> 64) live together
    assert m.arena_bytes == 112


@pytest.mark.parametrize('kind', ['path', 'bytes', 'bytearray', 'memoryview'])
def test_load_sources(kind, tmp_path):
    buf = _pipeline()
    path = tmp_path / 'm.tflite'
    path.write_bytes(buf)
    src = {'path': str(path), 'bytes': buf, 'bytearray': bytearray(buf),
           'memoryview': memoryview(bytearray(buf))}[kind]
    m = tinyml.load(src)
    m.set_input(0, X.tobytes())
    m.invoke()
    assert bytes(m.outputs[0].raw) == run_tflm(buf, [X])[0].tobytes()


def test_weights_used_in_place():
    src = bytearray(_pipeline())
    m = tinyml.load(src)
    const = [t for t in m.tensors if t.data is not None and t.dtype == 'int8'][0]
    view = m.view(const.index)
    before = view[0]
    pos = bytes(src).find(bytes(const.data))
    src[pos] = (src[pos] + 1) & 0xFF
    assert view[0] != before


def test_set_input_accepts_buffers_and_checks_size():
    m = tinyml.load(_pipeline())
    m.set_input(0, bytearray(X.tobytes()))
    m.set_input(0, memoryview(X.tobytes()))
    m.set_input(0, array.array('b', X.ravel().tolist()))
    m.set_input(0, array.array('h', [0] * 12))            # 24 raw bytes: accepted as bytes
    with pytest.raises(ValueError, match='takes 24 bytes, got 23'):
        m.set_input(0, bytes(23))
    with pytest.raises(ValueError):
        m.set_input(0, array.array('h', [0] * 24))


def test_predict_quantizes_and_dequantizes():
    b = ModelBuilder()
    x = b.tensor('int8', (4,), scale=0.5, zero_point=-1)
    y = b.tensor('int8', (2, 2), scale=0.5, zero_point=-1)
    b.op('RESHAPE', [x], [y])
    m = tinyml.load(b.build([x], [y]))
    assert m.predict([0.25, -0.75, 100.0, 1.0]) == [0.5, -1.0, 64.0, 1.0]
    with pytest.raises(ValueError):
        m.predict([1.0])


def test_unknown_custom_op_is_unsupported():
    b = ModelBuilder()
    x = b.tensor('int8', (4,), scale=0.5, zero_point=0)
    r = b.tensor('int8', (2, 2), scale=0.5, zero_point=0)
    y = b.tensor('int8', (2, 2), scale=0.5, zero_point=0)
    b.op('RESHAPE', [x], [r])
    b.op('MyFancyOp', [r], [y], custom=b'\x00')
    with pytest.raises(tinyml.UnsupportedOpError, match=r'op MyFancyOp \(node 1\) is not supported'):
        tinyml.load(b.build([x], [y]))


def test_unknown_builtin_is_unsupported():
    b = ModelBuilder()
    x = b.tensor('float32', (4,))
    y = b.tensor('float32', (4,))
    b.op('FLOOR', [x], [y])
    with pytest.raises(tinyml.UnsupportedOpError, match=r'op FLOOR \(node 0\)'):
        tinyml.load(b.build([x], [y]))


def test_out_of_order_graph_is_model_error():
    b = ModelBuilder()
    x = b.tensor('int8', (4,), scale=1.0, zero_point=0)
    mid = b.tensor('int8', (4,), scale=1.0, zero_point=0)
    y = b.tensor('int8', (4,), scale=1.0, zero_point=0)
    b.op('RESHAPE', [mid], [y])
    b.op('RESHAPE', [x], [mid])
    with pytest.raises(tinyml.ModelError, match='reads tensor 1 before any op writes it'):
        tinyml.load(b.build([x], [y]))


def test_reset_zeroes_state_and_persistent():
    b = ModelBuilder()
    x = b.tensor('int8', (4,), scale=1.0, zero_point=0)
    s = b.tensor('int8', (4,), scale=1.0, zero_point=0, variable=True)
    y = b.tensor('int8', (2, 2), scale=1.0, zero_point=0)
    b.op('RESHAPE', [x], [y])
    m = tinyml.load(b.build([x], [y]))
    state = m.view(s)
    extra = m.persistent(300)
    for i in range(4):
        state[i] = i + 1
    extra[299] = 5
    m.reset()
    assert [state[i] for i in range(4)] == [0, 0, 0, 0] and extra[299] == 0
    assert m.arena_bytes == 16 and m.state_bytes == 16


def test_backend_api():
    assert tinyml.backend in kernels.available()
    tinyml.use_backend('python')
    assert tinyml.backend == 'python'
    with pytest.raises(ValueError):
        tinyml.use_backend('no-such-backend')


MP_CODE = r'''
import gc, json, tinyml
f = open(%r, 'rb'); data = f.read(); f.close()
results = {}
for kind in ('path', 'bytes', 'memoryview'):
    src = {'path': %r, 'bytes': data, 'memoryview': memoryview(data)}[kind]
    m = tinyml.load(src)
    m.set_input(0, bytes(%r))
    m.invoke()
    results[kind] = bytes(m.outputs[0].raw).hex()

def measure(m):
    m.invoke()
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(5):
        m.invoke()
    return gc.mem_alloc() - before

results['alloc'] = measure(m)
try:
    m.set_input(0, bytes(3))
except ValueError as e:
    results['error'] = str(e)
results['arena'] = m.arena_bytes
print(json.dumps(results))
'''


def test_micropython_api_and_no_allocation(mp, tmp_path):
    buf = _pipeline()
    path = tmp_path / 'm.tflite'
    path.write_bytes(buf)
    got = mp.json(MP_CODE % (str(path), str(path), X.tobytes()))
    want = run_tflm(buf, [X])[0].tobytes().hex()
    assert got['path'] == got['bytes'] == got['memoryview'] == want
    assert got['alloc'] == 0
    assert 'takes 24 bytes, got 3' in got['error']
    assert got['arena'] == tinyml.load(buf).arena_bytes


CORPUS_ALLOC = r'''
import gc, json, tinyml
tinyml.use_backend(%r)
m = tinyml.load(%r)
m.set_input(0, bytes(m.inputs[0].nbytes))
m.invoke()
gc.collect()
before = gc.mem_alloc()
m.invoke()
m.invoke()
print(json.dumps(gc.mem_alloc() - before))
'''


@pytest.mark.parametrize('backend', ['native', 'python'])
@pytest.mark.parametrize('name', ['hello_world_int8', 'micro_speech_quantized', 'kws_ref_model',
                                  'keyword_scrambled'])
def test_corpus_invoke_allocates_nothing_micropython(mp, name, backend):
    """int8 corpus models (float models box floats on MicroPython: exempt)."""
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    code = 'def main():\n' + '\n'.join('    ' + line for line in
                                       (CORPUS_ALLOC % (backend, str(zoo / (name + '.tflite')))).splitlines()
                                       if line) + '\nmain()\n'
    assert mp.json(code, heapsize=16 << 20) == 0


def test_fuzzed_models_fail_cleanly():
    """Corrupted models either run or raise ValueError (ModelError is one) or MemoryError."""
    import random
    buf = _pipeline()
    rng = random.Random(5)
    loaded = 0
    for _ in range(1500):
        b = bytearray(buf)
        for _ in range(rng.randrange(1, 6)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            m = tinyml.load(bytes(b))
            for i, t in enumerate(m.inputs):
                m.set_input(i, bytes(t.nbytes))
            m.invoke()
            loaded += 1
        except (ValueError, MemoryError):   # MemoryError: a corrupted shape asks for a huge arena
            pass
    assert loaded > 0


TYPED_MP = r'''
import json, tinyml
out = {}
for dtype in ('float32', 'int16', 'int32', 'uint8', 'int8'):
    m = tinyml.load('%s/%%s.tflite' %% dtype)
    d = m.inputs[0].data
    for i in range(4):
        d[i] = [-3, 2, 100, 1][i] if dtype != 'float32' else [-3.5, 2.25, 1e6, 0.5][i]
        if dtype == 'uint8':
            d[i] = [250, 2, 100, 1][i]
    m.invoke()
    y = m.get_output(0)
    out[dtype] = [y[i] for i in range(4)]
print(json.dumps(out))
'''


def test_typed_data_views_micropython(mp, tmp_path):
    for dtype in ('float32', 'int16', 'int32', 'uint8', 'int8'):
        b = ModelBuilder()
        q = dict(scale=0.5, zero_point=0) if dtype in ('int16', 'uint8', 'int8') else {}
        x = b.tensor(dtype, (4,), **q)
        y = b.tensor(dtype, (2, 2), **q)
        b.op('RESHAPE', [x], [y])
        (tmp_path / (dtype + '.tflite')).write_bytes(b.build([x], [y]))
    got = mp.json(TYPED_MP % str(tmp_path))
    assert got == {'float32': [-3.5, 2.25, 1e6, 0.5], 'int16': [-3, 2, 100, 1],
                   'int32': [-3, 2, 100, 1], 'uint8': [250, 2, 100, 1], 'int8': [-3, 2, 100, 1]}


FUZZ_LOAD_MP = r'''
import random, tinyml
f = open(%r, 'rb'); buf = f.read(); f.close()
random.seed(11)
ok = 0
for k in range(600):
    b = bytearray(buf)
    for _ in range(1 + random.getrandbits(3) %% 5):
        b[random.getrandbits(16) %% len(b)] = random.getrandbits(8)
    try:
        m = tinyml.load(bytes(b))
        for i in range(len(m.inputs)):
            m.set_input(i, bytes(m.inputs[i].nbytes))
        m.invoke()
        ok += 1
    except (ValueError, MemoryError):
        pass
print(ok)
'''


def test_fuzzed_models_fail_cleanly_micropython(mp, tmp_path):
    path = tmp_path / 'p.tflite'
    path.write_bytes(_pipeline())
    assert mp.json(FUZZ_LOAD_MP % str(path), heapsize=32 << 20, timeout=600) > 0


def test_compat_views_cpython():
    from tinyml import compat
    raw = bytearray(16)
    v = compat.typed_view(raw, 4, 2, 'int16')
    v[0], v[1] = -2, 300
    assert raw[4:8] == b'\xfe\xff\x2c\x01'
    s = compat.StructView(memoryview(raw)[4:8], 'h')       # the no-uctypes fallback
    assert len(s) == 2 and s[0] == -2 and s[-1] == 300
    s[1] = -1
    assert raw[6:8] == b'\xff\xff'
    with pytest.raises(IndexError):
        s[2]
    assert compat.buffer_nbytes(array.array('i', [1, 2, 3])) == 12
    assert bytes(compat.as_bytes(array.array('h', [1]), 2)) == b'\x01\x00'


COMPAT_MP = r'''
import gc, json
from array import array
from tinyml import compat
out = {}
arena = compat.new_arena(64)
v = compat.typed_view(arena, 16, 3, 'int32', True)
v[2] = -7
out['int32'] = [type(v).__name__, len(v), list(compat.typed_view(arena, 24, 4, 'int8', True))]
raw = compat.byte_view(arena, 24, 4, True)
out['raw'] = list(raw)
src = bytes([0, 1, 0, 2, 0, 0xff, 0xff])
u = compat.typed_view(memoryview(src)[1:], 0, 3, 'int16')      # odd address: uctypes fallback
out['unaligned'] = [type(u).__name__, u[0], u[1], u[2]]
s8 = compat.typed_view(memoryview(src), 5, 2, 'int8')
out['int8'] = list(s8)
u8 = compat.typed_view(arena, 24, 4, 'uint8', True)
out['uint8'] = list(u8)
out['nbytes'] = [compat.buffer_nbytes(array('h', [1, 2])), compat.buffer_nbytes(v)]
keep = compat.typed_view(compat.new_arena(32), 0, 8, 'int32', True)
keep[7] = 12345
junk = [bytearray(256) for _ in range(200)]
gc.collect()
out['alive'] = keep[7]
print(json.dumps(out))
'''


def test_compat_views_micropython(mp):
    got = mp.json(COMPAT_MP)
    assert got['int32'] == ['memoryview', 3, [-7, -1, -1, -1]]
    assert got['raw'] == [249, 255, 255, 255]
    assert got['unaligned'] == ['struct', 1, 2, -1]
    assert got['int8'] == [-1, -1]
    assert got['uint8'] == [249, 255, 255, 255]
    assert got['nbytes'] == [4, 12]
    assert got['alive'] == 12345


ROMFS_MP = r'''
import gc, json, vfs, tinyml
f = open(%r, 'rb'); image = f.read(); f.close()
vfs.mount(vfs.VfsRom(memoryview(image)), '/rom')
def main():
    m = tinyml.load('/rom/big.tflite')   # warm up: imports the modules load needs
    m = None
    gc.collect()
    before = gc.mem_alloc()
    m = tinyml.load('/rom/big.tflite')
    gc.collect()
    grew = gc.mem_alloc() - before
    m.set_input(0, bytes(%r))
    m.invoke()
    print(json.dumps({'grew': grew, 'arena': m.arena_bytes, 'out': bytes(m.outputs[0].raw).hex()}))
main()
'''


def test_romfs_model_used_in_place_micropython(mp, tmp_path):
    """A model file on a ROMFS is mapped, not read: loading costs less heap than its weights."""
    from mpremote.romfs import make_romfs
    b = ModelBuilder()
    x = b.tensor('int8', (2, 8), scale=0.5, zero_point=0)
    w = b.const('int8', (3000, 8), RNG_BYTES, scale=0.5, zero_point=0)
    y = b.tensor('int8', (3002, 8), scale=0.5, zero_point=0)
    b.op('CONCATENATION', [x, w], [y], axis=0)
    buf = b.build([x], [y])
    src = tmp_path / 'fs'
    src.mkdir()
    (src / 'big.tflite').write_bytes(buf)
    image = tmp_path / 'rom.img'
    image.write_bytes(make_romfs(str(src), mpy_cross=False))
    got = mp.json(ROMFS_MP % (str(image), bytes(range(16))), heapsize=4 << 20)
    # heap used by the load: the arena plus bookkeeping, not another copy of the 24000 weights
    assert got['grew'] < got['arena'] + 12000, got
    want = run_tflm(buf, [np.arange(16, dtype=np.int8).reshape(2, 8)])[0]
    assert got['out'] == want.tobytes().hex()


RNG_BYTES = np.random.default_rng(7).integers(-128, 128, 24000, dtype=np.int8)
