"""Memory: what load keeps and needs on the MicroPython unix port (64-bit), reset state.

The heap levels are what load + invoke needed when this was written (bench/bench_memory.py
measures them), with a margin: the smallest working -X heapsize moves by some KiB from run to
run (conservative GC, fragmentation). KWS did not load at 480 KiB before the arena
reservation and the lazy per-channel quantization (it needed ~500 KiB).
"""
import sys
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'device'))

from tinyml import model, reader  # noqa: E402

LOAD_INVOKE = r'''
import gc, json, tinyml
m = tinyml.load(%r)
for t in m.inputs:
    t.raw[:] = bytes(len(t.raw))
m.invoke()


def measure(invoke):
    gc.collect()
    a = gc.mem_alloc()
    invoke()
    invoke()
    return gc.mem_alloc() - a


print(json.dumps({'invoke_alloc': measure(m.invoke), 'out': list(bytes(m.outputs[0].raw))}))
'''

GRAPH_KEPT = r'''
import gc, json
from tinyml import model
buf = model.source_buffer(%r)
gc.collect()
a = gc.mem_alloc()
g = model.read_graph(buf)
gc.collect()
print(json.dumps({'graph': gc.mem_alloc() - a}))
'''

# (model, -X heapsize at which load + invoke must succeed)
HEAP_LEVELS = (('kws_ref_model', 480000), ('hello_world_int8', 260000))


@pytest.mark.parametrize('name,heapsize', HEAP_LEVELS)
def test_load_and_invoke_fit_in_heap(mp, zoo, name, heapsize):
    got = mp.json(LOAD_INVOKE % str(zoo / (name + '.tflite')), heapsize=heapsize)
    assert got['invoke_alloc'] == 0


def test_invoke_allocates_nothing_kws(mp, zoo):
    got = mp.json(LOAD_INVOKE % str(zoo / 'kws_ref_model.tflite'))
    assert got['invoke_alloc'] == 0


def test_graph_keeps_no_boxed_per_channel_scales(mp, zoo):
    """KWS's graph (35 tensors, ~1100 per-channel scales) kept 78 KiB with decoded tuples."""
    got = mp.json(GRAPH_KEPT % str(zoo / 'kws_ref_model.tflite'))
    assert got['graph'] < 30000


def test_per_channel_quantization_decodes_to_tuples(zoo):
    g = reader.read((zoo / 'kws_ref_model.tflite').read_bytes())
    per_channel = [t for t in g.tensors if isinstance(t.scale, tuple)]
    assert per_channel
    for t in per_channel:
        assert isinstance(t.zero_point, tuple) and len(t.zero_point) == len(t.scale)
        assert all(isinstance(s, float) and s > 0 for s in t.scale)
        assert t.scale == t.scale          # decoded afresh, equal each time
    assert all(isinstance(t.name, str) and t.name for t in g.tensors)


def _variable_views(m):
    return {t.index: (t.zero_point, m.view(t.index)) for t in m.tensors
            if t.is_variable and t.data is None}


def test_reset_puts_int8_variable_tensors_at_their_zero_point(zoo):
    m = model.load(str(zoo / 'keyword_scrambled_8bit.tflite'))
    views = _variable_views(m)
    assert any(zp for zp, v in views.values())

    def check():
        for zp, v in views.values():
            assert list(v) == [zp] * len(v)
    check()                                  # the state after load
    inp = m.inputs[0]
    for k in range(len(inp.data)):
        inp.data[k] = (k * 997) % 20000 - 10000
    m.invoke()
    assert any(list(v) != [zp] * len(v) for zp, v in views.values())
    m.reset()
    check()


def test_reset_zero_point_on_micropython(mp, zoo):
    got = mp.json(r'''
import json, tinyml
m = tinyml.load(%r)
vs = [(t.zero_point, m.view(t.index)) for t in m.tensors if t.is_variable]
ok0 = all(v[k] == zp for zp, v in vs for k in range(len(v)))
m.invoke()
m.reset()
ok1 = all(v[k] == zp for zp, v in vs for k in range(len(v)))
print(json.dumps([ok0, ok1, [zp for zp, v in vs]]))
''' % str(zoo / 'keyword_scrambled_8bit.tflite'))
    assert got[0] and got[1] and any(got[2])


def test_viper_detected_on_unix_port(mp):
    got = mp.json('import json\nfrom tinyml import compat\nprint(json.dumps(compat.HAS_VIPER))')
    assert got is True
