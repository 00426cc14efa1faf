"""planner.py: lifetimes, aliasing, scratch, no overlaps, arena no bigger than TFLM's."""
import json
import random

import pytest

from conftest import corpus_models, model_zoo
from tinyml import planner, reader
from tinyml.graph import Graph, Op, Tensor


def _chain(sizes, variable=()):
    """x0 -> op0 -> x1 -> op1 -> ... ; sizes[i] bytes each (int8 tensors)."""
    tensors = [Tensor(i, 't%d' % i, (n,), 'int8', is_variable=i in variable)
               for i, n in enumerate(sizes)]
    ops = [Op(k, 'RELU', [k], [k + 1]) for k in range(len(sizes) - 1)]
    return Graph(tensors, ops, [0], [len(sizes) - 1])


def test_chain_lifetimes():
    g = _chain([100, 200, 300, 50])
    b = planner.lifetimes(g)
    assert [(b[i].first, b[i].last) for i in range(4)] == [(0, 0), (0, 1), (1, 2), (2, 2)]


def test_inputs_from_start_outputs_to_end():
    tensors = [Tensor(i, 't%d' % i, (16,), 'int8') for i in range(5)]
    tensors[4].is_variable = True
    ops = [Op(0, 'RELU', [1], [2]), Op(1, 'ADD', [0, 2], [3]), Op(2, 'RELU', [3], [1])]
    # tensor 1 written by op 2 but read by op 0: not a valid order, but lifetimes only care
    g = Graph(tensors, ops[:2], [0, 1], [2, 3])
    b = planner.lifetimes(g)
    assert (b[0].first, b[0].last) == (0, 1)      # input 0 first read at op 1: live from 0
    assert (b[2].first, b[2].last) == (0, 1)      # output written at 0 lives to the end
    assert 4 not in b     # variable tensors live outside the activation arena (as in TFLM)


def test_chain_reuses_memory():
    g = _chain([100, 200, 300, 50])
    size, buffers = planner.plan(g, align=1)
    planner.check(buffers.values())
    # op1 needs 200+300 live at once; everything else fits beside them
    assert size == 500


def test_alias_shares_offset_and_extends_lifetime():
    g = _chain([64, 64, 64, 64])
    size, buffers = planner.plan(g, aliases={2: 1})
    assert ('t', 2) not in buffers
    assert (buffers[('t', 1)].first, buffers[('t', 1)].last) == (0, 2)
    planner.check(buffers.values())


def test_scratch_lives_only_during_its_op():
    g = _chain([64, 64, 64, 64])
    size, buffers = planner.plan(g, scratch={1: 1000})
    s = buffers[('s', 1)]
    assert (s.first, s.last) == (1, 1)
    planner.check(buffers.values())
    assert size == 1008 + 2 * 64   # scratch rounded up to the 16-byte alignment


def test_alignment():
    g = _chain([3, 5, 7])
    size, buffers = planner.plan(g)
    assert all(b.offset % planner.ALIGN == 0 for b in buffers.values())
    planner.check(buffers.values())


def test_overlap_check_detects_overlap():
    a = planner.Buffer('a', 10, 0, 1)
    b = planner.Buffer('b', 10, 1, 2)
    b.offset = 5
    with pytest.raises(ValueError):
        planner.check([a, b])


def _peak(buffers):
    last = max(b.last for b in buffers)
    return max(sum(b.nbytes for b in buffers if b.first <= t <= b.last) for t in range(last + 1))


@pytest.mark.parametrize('seed', range(20))
def test_random_graphs_never_overlap(seed):
    rng = random.Random(seed)
    n = rng.randrange(3, 40)
    tensors = [Tensor(i, 't%d' % i, (rng.randrange(1, 5000),), 'int8') for i in range(n)]
    ops = []
    for k in range(1, n):
        ins = rng.sample(range(k), min(k, rng.randrange(1, 4)))
        ops.append(Op(k - 1, 'ADD', ins, [k]))
    g = Graph(tensors, ops, [0], [n - 1])
    scratch = {k: rng.randrange(0, 3000) for k in range(len(ops)) if rng.random() < 0.3}
    size, buffers = planner.plan(g, scratch=scratch)
    planner.check(buffers.values())
    assert size >= _peak(list(buffers.values()))


def _catalog():
    zoo = model_zoo()
    return {m['name']: m for m in json.loads((zoo / 'catalog.json').read_text())['models']}


@pytest.mark.parametrize('name', corpus_models())
def test_corpus_plan_fits_in_tflm_head(name):
    zoo = model_zoo()
    g = reader.read((zoo / (name + '.tflite')).read_bytes())
    # reshape-likes alias as the ops do
    aliases = {op.outputs[0]: op.inputs[0] for op in g.ops
               if op.name in ('RESHAPE', 'SQUEEZE', 'EXPAND_DIMS')
               and g.tensors[op.inputs[0]].data is None}
    size, buffers = planner.plan(g, aliases=aliases)
    planner.check(buffers.values())
    head = _catalog()[name].get('tflm_arena_head')
    if head:
        assert size <= head, (size, head)
