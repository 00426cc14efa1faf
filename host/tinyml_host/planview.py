"""The arena plan of a model as the device computes it, seen from the host.

Builds the model with tinyml.model.Model's own stages (prepare every op, plan) under CPython,
but keeps going past ops that cannot be prepared: each is recorded with its
UnsupportedOpError/ModelError message and the plan is made without it (marked estimated).
"""
from tinyml import model as _model
from tinyml.errors import ModelError, UnsupportedOpError


class PlanView:
    """arena_bytes, peak_bytes, boxes [(first op, last op, offset, nbytes)], unsupported,
    error, estimated; per-op arena placement via op_arena(op)."""

    def __init__(self):
        self.arena_bytes = None
        self.peak_bytes = None
        self.boxes = []
        self.unsupported = []
        self.error = None
        self.estimated = False
        self.offsets = {}       # tensor index -> arena offset (after aliasing)
        self.sizes = {}         # tensor index -> bytes
        self.scratch = {}       # op index -> (offset, nbytes)
        self.aliases = {}       # tensor -> tensor whose storage it shares (prepare's m.alias)

    def op_arena(self, op):
        """(offset, bytes) of op's first output in the arena, or None."""
        for i in op.outputs:
            if i in self.offsets:
                return self.offsets[i], self.sizes[i]
        return None

    def unsupported_reason(self, index):
        for u in self.unsupported:
            if u['index'] == index:
                return u['reason']
        return None


class Probe(_model.Model):
    """tinyml's Model, built by its own __init__, except that an op whose prepare fails is
    recorded in .failures and left out (no scratch, no run step) instead of stopping the
    build; with failures nothing is bound (the plan is what inspect wants)."""

    failures = ()
    progress = None

    def _prepare(self, op):
        if self.progress is not None:
            self.progress.step(op.name)
        try:
            return _model.Model._prepare(self, op)
        except ModelError as e:          # UnsupportedOpError is a ModelError
            self.failures.append((op, e))
            return op, 0, None

    def _bind(self, steps):
        if self.failures:
            return []
        return _model.Model._bind(self, steps)


def _peak(buffers, n_ops):
    peak = 0
    for k in range(max(n_ops, 1)):
        live = sum(b.nbytes for b in buffers if b.first <= k <= b.last)
        peak = max(peak, live)
    return peak


def _root(aliases, i):
    while i in aliases:
        i = aliases[i]
    return i


class MultiplierRecorder:
    """Records every quant.per_channel_multipliers call (args and result) while active."""

    def __init__(self):
        self.calls = []
        self.original = None

    def __enter__(self):
        from tinyml import quant
        self.original = original = quant.per_channel_multipliers

        def record(input_scale, filter_scales, output_scale, n):
            result = original(input_scale, filter_scales, output_scale, n)
            self.calls.append((input_scale, filter_scales, output_scale, n, result))
            return result
        quant.per_channel_multipliers = record
        return self

    def __exit__(self, *exc):
        from tinyml import quant
        quant.per_channel_multipliers = self.original
        return False


def plan_model(data, graph, recorder=None):
    """PlanView of graph (data: the model bytes, for the error messages' sake)."""
    from .term import Progress
    view = PlanView()
    failures = []
    try:
        with Progress(len(graph.ops), 'preparing ops') as bar:
            probe = build_probe(graph, failures, recorder, bar)
    except (ModelError, MemoryError) as e:
        view.error = str(e)
        _record_failures(view, failures)
        return view
    _record_failures(view, failures)
    view.estimated = bool(probe.failures)
    fill_from_buffers(view, graph, probe)
    return view


def build_probe(graph, failures, recorder=None, progress=None):
    """A Probe of graph; failing ops are appended to failures even if the build then fails."""
    probe = Probe.__new__(Probe)
    probe.failures = failures
    probe.progress = progress
    if recorder is None:
        Probe.__init__(probe, graph)
    else:
        with recorder:
            Probe.__init__(probe, graph)
    return probe


def _record_failures(view, failures):
    for op, e in failures:
        kind = 'unsupported' if isinstance(e, UnsupportedOpError) else 'invalid'
        view.unsupported.append({'index': op.index, 'op': op.name, 'kind': kind,
                                 'reason': str(e)})


def fill_from_buffers(view, graph, probe):
    buffers = probe._buffers
    view.aliases = dict(probe._aliases)
    view.arena_bytes = probe.arena_bytes
    view.peak_bytes = _peak(list(buffers.values()), len(graph.ops))
    for t in graph.tensors:
        root = _root(probe._aliases, t.index)
        b = buffers.get(('t', root))
        if b is not None and t.data is None:
            view.offsets[t.index] = b.offset
            view.sizes[t.index] = t.nbytes
    for key, b in sorted(buffers.items()):
        if b.nbytes:
            view.boxes.append((b.first, b.last, b.offset, b.nbytes))
        if key[0] == 's':
            view.scratch[key[1]] = (b.offset, b.nbytes)


def compact_plan(model_bytes):
    """The compact.Plan of a .tflite model: what `tinyml convert` stores."""
    from tinyml import compact, reader
    graph = reader.read(model_bytes)
    recorder = MultiplierRecorder()
    view = plan_model(model_bytes, graph, recorder)
    if view.unsupported or view.error:
        first = view.unsupported[0]['reason'] if view.unsupported else view.error
        raise ModelError('cannot convert: %s' % first)
    offsets = [(-2 - view.aliases[t.index]) if t.index in view.aliases
               else view.offsets.get(t.index, -1) for t in graph.tensors]
    scratch = [view.scratch.get(op.index, (0, 0)) for op in graph.ops]
    plan = compact.Plan(view.arena_bytes, offsets, scratch)
    plan.calls = recorder.calls
    return plan
