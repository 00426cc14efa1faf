"""tinyml convert / tinyml.compact: the .tmdl format round-trips every model exactly."""
import json
import os

import numpy as np
import pytest
from flatbuffers import flexbuffers

from conftest import corpus_models
from test_cli_inspect import cli
from tflite_builder import ModelBuilder
from tinyml import compact, reader
from tinyml.errors import ModelError
from tinyml_host import convert


def builder_model():
    """A small model exercising every field the format stores."""
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.5, zero_point=-1, name='input')
    w = b.const('int8', (3, 4), np.arange(12).reshape(3, 4) - 6, scale=(0.1, 0.2, 0.3),
                zero_point=(0, 0, 0), qdim=0, name='weights')
    bias = b.const('int32', (3,), [1, -2, 3], scale=(0.05, 0.1, 0.15), zero_point=(0, 0, 0))
    h = b.tensor('int8', (1, 3), scale=0.25, zero_point=3, name='hidden')
    shape = b.const('int32', (2,), [3, 1])
    r = b.tensor('int8', (3, 1), scale=0.25, zero_point=3, name='reshaped')
    s = b.tensor('int16', (3, 1), variable=True, name='state')
    y = b.tensor('float32', (3, 1), name='out')
    b.op('FULLY_CONNECTED', [x, w, bias], [h], fused_activation_function='RELU6')
    b.op('RESHAPE', [h, shape], [r], new_shape=[3, 1])
    b.op('LEAKY_RELU', [r], [r], alpha=0.125)
    b.op('SignalWindow', [r, s], [y], custom=bytes(flexbuffers.Dumps({'shift': 3})))
    return b.build(inputs=[x], outputs=[y])


def fake_plan(graph):
    offsets = [-1 if t.data is not None else 16 * t.index for t in graph.tensors]
    return compact.Plan(1000, offsets, [(0, 0)] * len(graph.ops))


def assert_same_graph(a, b):
    assert len(a.tensors) == len(b.tensors) and len(a.ops) == len(b.ops)
    for s, t in zip(a.tensors, b.tensors):
        assert (s.index, s.name, s.shape, s.dtype, s.qdim, s.is_variable) == \
               (t.index, t.name, t.shape, t.dtype, t.qdim, t.is_variable)
        assert s.scale == t.scale and s.zero_point == t.zero_point, s
        assert (s.data is None) == (t.data is None)
        if s.data is not None:
            assert bytes(s.data) == bytes(t.data)
    for p, q in zip(a.ops, b.ops):
        assert (p.index, p.name, p.inputs, p.outputs, p.version) == \
               (q.index, q.name, q.inputs, q.outputs, q.version)
        assert p.options == q.options
        assert (None if p.custom is None else bytes(p.custom)) == \
               (None if q.custom is None else bytes(q.custom))
    assert tuple(a.inputs) == tuple(b.inputs) and tuple(a.outputs) == tuple(b.outputs)


def test_encode_read_round_trip_keeps_every_field():
    graph = reader.read(builder_model())
    plan = fake_plan(graph)
    data = convert.encode(graph, plan)
    back, back_plan = compact.read(data)
    assert_same_graph(graph, back)
    assert back_plan.arena_bytes == 1000
    assert back_plan.offsets == plan.offsets
    assert back_plan.scratch == plan.scratch


def test_weights_are_16_byte_aligned_views_of_the_file():
    data = convert.encode(reader.read(builder_model()), fake_plan(reader.read(builder_model())))
    graph, _ = compact.read(data)
    base = np.frombuffer(data, np.uint8).__array_interface__['data'][0]
    for t in graph.tensors:
        if t.data is not None:
            assert isinstance(t.data, memoryview)
            address = np.frombuffer(t.data, np.uint8).__array_interface__['data'][0]
            assert (address - base) % 16 == 0 and address - base >= compact.HEADER_SIZE


def corrupt_variants(data):
    """(what, bytes) pairs that a reader must reject."""
    yield 'truncated', data[:-7]
    yield 'magic', b'XMDL' + data[4:]
    flipped = bytearray(data)
    flipped[len(data) - 3] ^= 0x40           # a weight byte: only the checksum can tell
    yield 'weight byte', bytes(flipped)
    version = bytearray(data)
    version[4] = 99
    yield 'version', bytes(version)
    for pos in range(compact.HEADER_SIZE, len(data), 7):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        yield 'byte %d' % pos, bytes(bad)


def test_corrupt_files_raise_model_error():
    data = convert.encode(reader.read(builder_model()), fake_plan(reader.read(builder_model())))
    for what, bad in corrupt_variants(data):
        with pytest.raises(ModelError):
            compact.read(bad)


def test_structural_corruption_without_checksum_raises_model_error(monkeypatch):
    """With the checksum disabled (ports without binascii.crc32) bounds checks still hold."""
    monkeypatch.setattr(compact, '_crc32', lambda data: None)
    data = convert.encode(reader.read(builder_model()), fake_plan(reader.read(builder_model())))
    for pos in range(compact.HEADER_SIZE, len(data) - 64):
        for value in (0xFF, 0x7F):
            bad = bytearray(data)
            bad[pos] = value
            try:
                compact.read(bytes(bad))
            except ModelError:
                pass


def test_corrupt_file_raises_model_error_on_the_unix_port(mp, tmp_path):
    data = convert.encode(reader.read(builder_model()), fake_plan(reader.read(builder_model())))
    path = tmp_path / 'bad.tmdl'
    path.write_bytes(data[:-3] + b'\x00\x01\x02')
    out = mp.json("""
import json
from tinyml import compact, ModelError
data = open(%r, 'rb').read()
try:
    compact.read(data)
    print(json.dumps('no error'))
except ModelError as e:
    print(json.dumps('ModelError'))
""" % str(path))
    assert out == 'ModelError'


def test_unix_port_reads_what_cpython_reads(mp, tmp_path):
    graph = reader.read(builder_model())
    path = tmp_path / 'm.tmdl'
    path.write_bytes(convert.encode(graph, fake_plan(graph)))
    out = mp.json("""
import json
from tinyml import compact
g, plan = compact.read(open(%r, 'rb').read())
print(json.dumps([[t.name, list(t.shape), t.dtype, t.scale, t.zero_point, t.is_variable,
                   None if t.data is None else list(bytes(t.data))] for t in g.tensors]
                 + [[o.name, list(o.inputs), o.options] for o in g.ops] + [plan.offsets]))
""" % str(path))
    expect = [[t.name, list(t.shape), t.dtype, list(t.scale) if isinstance(t.scale, tuple)
               else t.scale, list(t.zero_point) if isinstance(t.zero_point, tuple)
               else t.zero_point, t.is_variable,
               None if t.data is None else list(bytes(t.data))] for t in graph.tensors]
    for got, want in zip(out, expect):
        assert got[:2] + got[5:] == want[:2] + want[5:]
        assert got[3] == pytest.approx(want[3], rel=0, abs=0) and got[4] == want[4]
    ops = out[len(expect):-1]
    assert [o[0] for o in ops] == [o.name for o in graph.ops]
    assert ops[0][2]['fused_activation_function'] == 'RELU6'
    assert ops[2][2]['alpha'] == 0.125
    assert out[-1] == fake_plan(graph).offsets


def test_convert_refuses_a_non_tflite_file(tmp_path):
    bad = tmp_path / 'x.tflite'
    bad.write_bytes(b'not a model at all')
    proc = cli('convert', bad, check=False)
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.startswith('tinyml: error:') and len(proc.stderr.strip().splitlines()) == 1


def test_convert_missing_file_is_one_line_error(tmp_path):
    proc = cli('convert', tmp_path / 'missing.tflite', check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'tinyml: error: no such file: %s' % (tmp_path / 'missing.tflite')


def test_multiplier_tape_replays_prepare_results_in_order():
    from test_cli_inspect import conv_dw_fc_model
    from tinyml_host import planview
    tflite = conv_dw_fc_model()
    recorder = planview.MultiplierRecorder()
    planview.plan_model(tflite, reader.read(tflite), recorder)
    assert len(recorder.calls) >= 2        # conv and depthwise channels
    compact.read_graph(convert.convert_bytes(tflite))
    for input_scale, fs, output_scale, n, result in recorder.calls:
        assert compact.replay_multipliers(input_scale, fs, output_scale, n) == \
            (list(result[0]), list(result[1]))
    assert compact._replay is None          # tape used up and released


def test_multiplier_tape_disarms_on_a_call_it_did_not_record():
    from test_cli_inspect import conv_dw_fc_model
    compact.read_graph(convert.convert_bytes(conv_dw_fc_model()))
    assert compact.replay_multipliers(0.123, (0.5, 0.25), 0.75, 2) is None
    assert compact._replay is None


CORPUS = corpus_models()


def run_raw(model, inputs):
    proc = cli('run', model, '--input', inputs, '--sample', 3, '--json')
    return [o['raw'] for o in json.loads(proc.stdout)['outputs']], json.loads(proc.stdout)


def model_hook_missing():
    from tinyml import model
    return not any(read is compact.read_graph for _, read in model.READERS)


HOOK = ('device/tinyml/model.py must register the compact reader: READERS gets '
        '(compact.is_compact, compact.read_graph) and Model._plan tries '
        'compact.stored_plan(graph, aliases, scratch) before planner.plan')


@pytest.mark.parametrize('name', CORPUS)
def test_convert_corpus_model_smaller_same_graph_same_output_bytes(name, zoo, tmp_path):
    tflite = zoo / (name + '.tflite')
    out = tmp_path / (name + '.tmdl')
    proc = cli('convert', tflite, '-o', out)
    assert 'ratio' in proc.stdout
    assert out.stat().st_size <= tflite.stat().st_size
    original = reader.read(tflite.read_bytes())
    converted, plan = compact.read(out.read_bytes())
    assert_same_graph(original, converted)
    if model_hook_missing() and not os.environ.get('TINYML_MICROPYPATH'):
        pytest.skip('output check needs the model.py hook '
                    '(test_tinyml_load_accepts_tmdl_with_stored_plan_and_tape fails until then)')
    want, _ = run_raw(tflite, zoo / (name + '.npz'))
    got, report = run_raw(out, zoo / (name + '.npz'))
    assert got == want
    assert report['device']['arena'] == plan.arena_bytes


def test_tinyml_load_accepts_tmdl_with_stored_plan_and_tape(mp, tmp_path):
    from test_cli_inspect import conv_dw_fc_model
    if model_hook_missing():
        pytest.fail(HOOK)
    tflite = conv_dw_fc_model()
    path = tmp_path / 'm.tmdl'
    path.write_bytes(convert.convert_bytes(tflite))
    (tmp_path / 'm.tflite').write_bytes(tflite)
    script = """
import json, tinyml
from tinyml import compact, planner
calls = []
real = planner.plan
planner.plan = lambda *a, **k: calls.append(1) or real(*a, **k)
m = tinyml.load(MODEL)
m.set_input(0, bytes([(k * 37) % 256 for k in range(192)]))
m.invoke()
print(json.dumps([calls, compact._replay, m.arena_bytes, list(bytes(m.get_output(0)))]))
"""
    out = mp.json(script.replace('MODEL', repr(str(path))))
    reference = mp.json(script.replace('MODEL', repr(str(tmp_path / 'm.tflite'))))
    planner_calls, tape_left, arena, output = out
    assert planner_calls == [] and reference[0] == [1]     # the stored plan was used
    assert tape_left is None            # every stored multiplier was replayed
    assert arena == reference[2] and output == reference[3]


def test_stored_plan_releases_the_tape_and_the_plan():
    """Nothing of a loaded .tmdl may stay referenced from module globals (heap leak)."""
    from test_cli_inspect import conv_dw_fc_model
    graph = compact.read_graph(convert.convert_bytes(conv_dw_fc_model()))
    assert compact._replay is not None
    compact.stored_plan(graph, {}, {})
    assert compact._replay is None and graph.plan is None
    graph = compact.read_graph(convert.encode(reader.read(builder_model()),
                                              fake_plan(reader.read(builder_model()))))
    assert compact._replay is None          # no tape: nothing armed


LOAD_HEAP = """
import gc, json, tinyml
out = []
for path in %r:
    m = tinyml.load(path)
    del m
    gc.collect()
    a0 = gc.mem_alloc()
    m = tinyml.load(path)
    gc.collect()
    out.append(gc.mem_alloc() - a0)
    del m
print(json.dumps(out))
"""


@pytest.mark.parametrize('name', ['kws_ref_model', 'hello_world_float', 'ad01_int8'])
def test_tmdl_keeps_less_heap_than_tflite_on_the_unix_port(name, zoo, mp, tmp_path):
    if model_hook_missing():
        pytest.skip('needs the model.py hook (see test_tinyml_load_accepts_tmdl_...)')
    tflite = zoo / (name + '.tflite')
    out = tmp_path / (name + '.tmdl')
    out.write_bytes(convert.convert_bytes(tflite.read_bytes()))
    heap_tflite, heap_tmdl = mp.json(LOAD_HEAP % ([str(tflite), str(out)],), heapsize=32 << 20)
    assert heap_tmdl < heap_tflite
