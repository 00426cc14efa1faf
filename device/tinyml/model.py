"""load() and Model: read -> graph -> prepare every op -> plan -> one arena -> bind -> invoke.

The stages are separate so another reader (e.g. a compact format) can feed the same graph:
`Model(graph)` takes any graph.Graph.
"""
import gc
import math
from . import compact, compat, planner, reader
from .errors import ModelError
from .ops import KernelStep, prepare_fn, step_run

MAX_ARENA = 1 << 31


# (test(buffer) -> bool, read(buffer) -> Graph), tried in order.
READERS = [(reader.is_tflite, reader.read), (compact.is_compact, compact.read_graph)]

_INT_RANGES = {'int8': (-128, 127), 'uint8': (0, 255), 'int16': (-32768, 32767),
               'int32': (-2147483648, 2147483647)}


def source_buffer(src):
    """The model bytes: src itself if it is a buffer, else the file at path src.

    A file that supports the buffer protocol (e.g. on a ROMFS) is used in place."""
    if not isinstance(src, str):
        return src
    f = open(src, 'rb')
    try:
        return memoryview(f)   # stays valid while referenced; the file stays open
    except TypeError:
        pass
    try:
        return f.read()
    finally:
        f.close()


def read_graph(buf):
    for test, read in READERS:
        if test(buf):
            return read(buf)
    head = bytes(memoryview(buf)[:8])
    raise ModelError('Model: unknown format (first bytes %r); expected a TFLite flatbuffer'
                     ' or a .tmdl file' % head)


def load(src, kernels=None):
    buf = source_buffer(src)
    hold = _reserve(buf)
    return Model(read_graph(buf), kernels, hold)   # hold: [block] or None, emptied by Model


def _kernel_table():
    try:
        from . import kernels
    except ImportError:
        return None
    return getattr(kernels, 'table', None)


def _round_half_away(v):
    return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(0.5 - v))


class Tensor:
    """A model input or output: metadata plus .data, a typed view into the arena."""

    def __init__(self, model, index):
        t = model.tensors[index]
        self.index = index
        self.name = t.name
        self.shape = t.shape
        self.dtype = t.dtype
        self.scale = t.scale
        self.zero_point = t.zero_point
        self.nbytes = t.nbytes
        self.data = model.view(index)
        self.raw = model.raw(index)

    def __repr__(self):
        return '<Tensor %r %s %r scale=%r zp=%r>' % (self.name, self.dtype, self.shape,
                                                    self.scale, self.zero_point)


class Model:
    def __init__(self, graph, kernels=None, _hold=None):
        self.graph = graph
        self.tensors = graph.tensors
        self.kernels = kernels if kernels is not None else _kernel_table()
        self._aliases = {}
        self._persistent = []
        self._offsets = None
        self._arena = None
        self._state = None
        self._kernel_scratch = None
        self._state_offsets = {}
        self._state_fills = ()
        _validate(graph)
        self._hold = _hold
        steps = [self._prepare(op) for op in graph.ops]
        self._plan(steps)
        bound = self._bind(steps)       # per op: a step or a list of steps
        self._steps = tuple(_flatten(bound))
        self._bound = bound
        self._run_list = None
        self._run_steps = _native_run_steps(self.kernels)
        self.inputs = [Tensor(self, i) for i in graph.inputs]
        self.outputs = [Tensor(self, i) for i in graph.outputs]

    # -- interface for ops (prepare / bind) --------------------------------------------------
    def view(self, i):
        """Typed view of tensor i (constants: into the source buffer; others: into the arena)."""
        t = self.tensors[i]
        if t.data is not None:
            return compat.typed_view(t.data, 0, t.size, t.dtype)
        buf, offset = self._storage(i)
        return compat.typed_view(buf, offset, t.size, t.dtype, True)

    def raw(self, i):
        """Byte memoryview of tensor i."""
        t = self.tensors[i]
        if t.data is not None:
            return t.data
        buf, offset = self._storage(i)
        return compat.byte_view(buf, offset, t.nbytes, True)

    def alias(self, out_index, in_index):
        """Let tensor out_index share in_index's storage (reshape-likes)."""
        out_t = self.tensors[out_index]
        in_t = self.tensors[in_index]
        if out_t.nbytes != in_t.nbytes:
            raise ModelError('alias: tensor %d (%d bytes) cannot share tensor %d (%d bytes)'
                             % (out_index, out_t.nbytes, in_index, in_t.nbytes))
        if in_t.data is not None:
            out_t.data = in_t.data
        else:
            self._aliases[out_index] = in_index

    def persistent(self, nbytes):
        buf = bytearray(nbytes)
        self._persistent.append(buf)
        return buf

    def _storage(self, i):
        """(buffer, byte offset) holding arena or variable tensor i."""
        if self._offsets is None:
            raise ModelError('tensor %d has no storage before planning' % i)
        while i in self._aliases:
            i = self._aliases[i]
        if i in self._state_offsets:
            return self._state, self._state_offsets[i]
        return self._arena, self._offsets[i]

    # -- building ----------------------------------------------------------------------------
    def _prepare(self, op):
        prepare = prepare_fn(op)
        result = prepare(self, op)
        if result is None:
            return op, 0, None
        scratch, bind = result
        return op, scratch or 0, bind

    def _plan(self, steps):
        scratch = {}
        for op, nbytes, bind in steps:
            if nbytes:
                scratch[op.index] = nbytes
        size, buffers = self._stored_plan(scratch) or \
            planner.plan(self.graph, self._aliases, scratch)
        # the kernels' own scratch (backend- and arch-dependent, so outside the plan a .tmdl
        # stores and the block load reserves for the arena): one buffer beside the arena,
        # shared by the kernel calls, which run one at a time
        kernel_scratch = packed = 0
        for op, nbytes, bind in steps:
            kernel_scratch = max(kernel_scratch, getattr(bind, 'kernel_scratch', 0))
            packed += getattr(bind, 'packed_bytes', 0)
        self.kernel_scratch_bytes = kernel_scratch
        self.packed_weights_bytes = packed
        if size > MAX_ARENA:
            raise ModelError('Model: arena of %d bytes is too large' % size)
        self.arena_bytes = size
        self._buffers = buffers
        self._offsets = {}
        for key in buffers:
            if key[0] == 't':
                self._offsets[key[1]] = buffers[key].offset
        for t in self.tensors:
            if t.data is None and t.index not in self._offsets and t.index not in self._aliases \
                    and not t.is_variable:
                self._offsets[t.index] = 0   # never touched by any op: any place will do
        state = 0
        for t in self.tensors:
            if t.is_variable and t.data is None and t.index not in self._aliases:
                self._state_offsets[t.index] = state
                state += _aligned(t.nbytes)
        self.state_bytes = state
        # TFLM resets int8 variable tensors to their zero point (other types to 0)
        fills = []
        for t in self.tensors:
            if t.index in self._state_offsets and t.dtype == 'int8':
                zp = t.zero_point
                if isinstance(zp, tuple):
                    zp = zp[0] if zp else 0
                if zp:
                    fills.append((self._state_offsets[t.index], t.nbytes, zp & 0xFF))
        self._state_fills = tuple(fills)
        if self._hold:
            self._hold[0] = None    # give the reserved block back, for the arena to take
            self._hold = None
            gc.collect()
        try:
            self._arena = compat.new_arena(size)
            self._state = compat.new_arena(state)
            self._kernel_scratch = bytearray(kernel_scratch) if kernel_scratch else None
        except MemoryError:
            raise MemoryError('arena of %d + %d + %d bytes does not fit in memory'
                              % (size, state, kernel_scratch))
        _fill_state(self._state, self._state_fills)

    def _stored_plan(self, scratch):
        """The plan a compact (.tmdl) file carries, if it fits what prepare asked for."""
        if getattr(self.graph, 'plan', None) is None:
            return None
        return compact.stored_plan(self.graph, self._aliases, scratch)

    def _bind(self, steps):
        """Each op's run step: a kernel step (fn, out, a, b, p), a run() callable, or a list
        of those (an op of several kernel calls)."""
        bound = []
        kernel_scratch = None
        if self._kernel_scratch is not None:
            kernel_scratch = memoryview(self._kernel_scratch)
        for op, nbytes, bind in steps:
            if bind is None:
                continue
            scratch = None
            if nbytes:
                scratch = compat.byte_view(self._arena, self._buffers[('s', op.index)].offset,
                                           nbytes, True)
            if not isinstance(bind, KernelStep):
                step = bind(scratch)
            elif bind.kernel_scratch:
                step = bind.step(scratch) + (kernel_scratch,)
            else:
                step = bind.step(scratch)
            if step is not None:
                bound.append(step)
        return bound

    # -- public API ----------------------------------------------------------------------------
    def set_input(self, i, buf):
        t = self.inputs[i]
        n = compat.buffer_nbytes(buf)
        if n != t.nbytes:
            raise ValueError('input %d (%r) takes %d bytes, got %d' % (i, t.name, t.nbytes, n))
        t.raw[:] = compat.as_bytes(buf, n)

    @property
    def _runs(self):
        """One run() per op, built on first use: on the native backend invoke walks _steps
        in C and only tools ask for these."""
        if self._run_list is None:
            self._run_list = tuple(step_run(s) for s in self._bound)
        return self._run_list

    def invoke(self):
        if self._run_steps is not None:
            self._run_steps(self._steps)
            return
        for run in self._run_list or self._runs:
            run()

    def get_output(self, i):
        return self.outputs[i].data

    def reset(self):
        """Variable tensors back to their initial value (TFLM: int8 ones to their zero point,
        others to 0) and op state (m.persistent buffers) to zeros."""
        _zero(self._state)
        _fill_state(self._state, self._state_fills)
        for buf in self._persistent:
            _zero(buf)

    def predict(self, x):
        """Float input(s) -> quantize -> invoke -> dequantized output(s) as lists of floats.

        Single-input models take one sequence; several inputs take a sequence of sequences.
        An image (OpenMV image.Image, duck-typed) is resized and quantized by tinyml.image:
        `model.predict([img])`, as OpenMV scripts call it.
        Returns output 0's values, or a list per output when there are several."""
        images = isinstance(x, (list, tuple)) and len(x) == len(self.inputs) and \
            all(_is_image(v) for v in x)
        xs = [x] if len(self.inputs) == 1 and not images else x
        if len(xs) != len(self.inputs):
            raise ValueError('model has %d inputs, got %d' % (len(self.inputs), len(xs)))
        for t, values in zip(self.inputs, xs):
            if _is_image(values):
                _image_into(t, values)
            else:
                _quantize_into(t, values)
        self.invoke()
        outs = [_dequantize(t) for t in self.outputs]
        return outs[0] if len(outs) == 1 else outs


def _aligned(n):
    return (n + planner.ALIGN - 1) // planner.ALIGN * planner.ALIGN


def _flatten(bound):
    """The ops' steps in order, each op's list of steps spliced in."""
    out = []
    for step in bound:
        if isinstance(step, list):
            out.extend(step)
        else:
            out.append(step)
    return out


def _native_run_steps(kernels):
    """The backend's run_steps(steps) (the native one has it), else None. Read from the
    instance dict: a kernel Table's __getattr__ would import its python fallback first."""
    return getattr(kernels, '__dict__', {}).get('run_steps')


def _reserve(buf):
    """[a zeroed block about the size of the arena], allocated before the graph is read
    (MicroPython only; load() hands it to Model, which frees it just before allocating the
    arena).

    Reading and preparing leave long-lived objects scattered between their temporaries; on a
    small heap the free space is then in pieces too small for the arena although the total
    would do. So the size is found first (the .tmdl header's stored plan, or for a flatbuffer
    a throwaway read + plan without aliases and scratch, whose garbage is collected at
    once; that read also imports the op modules the model uses, so their bytecode is
    compiled before the heap is cut up), then the block is taken while the heap is still in
    one piece. If the real arena is larger it is allocated wherever it fits, as without the
    reservation. Costs a second parse of the flatbuffer (load time about unchanged on the
    unix port: KWS 39 -> 45 ms, person_detect 98 -> 100 ms, first load with compiles)."""
    if not compat.IS_MICROPYTHON:
        return None
    try:
        size = _arena_estimate(buf)   # its own frame: no stale reference to the graph
        gc.collect()
        return [bytearray(size)] if size > 1024 else None   # a list: Model empties it
    except Exception:       # a bad model is reported by the real read, with its own message
        return None


def _arena_estimate(buf):
    if compact.is_compact(buf):
        return compact.read_header(memoryview(buf))[3]
    if not reader.is_tflite(buf):
        return 0
    g = reader.read(buf)
    for op in g.ops:        # import (compile) the op modules now, while the heap is in one piece
        try:
            prepare_fn(op)
        except ModelError:
            pass            # reported by the real prepare
    size = planner.place(list(planner.lifetimes(g).values()))
    for t in g.tensors:
        if t.is_variable and t.data is None:
            size += t.nbytes
    return size


def _fill_state(buf, fills):
    """Set each (offset, nbytes, byte) region of the state buffer to that byte."""
    for offset, n, byte in fills:
        pattern = bytes([byte]) * min(n, 256)
        for start in range(offset, offset + n, 256):
            end = min(start + 256, offset + n)
            buf[start:end] = pattern[:end - start]


def _zero(buf):
    n = len(buf)
    zeros = bytes(min(n, 256))
    for start in range(0, n, 256):
        end = min(start + 256, n)
        buf[start:end] = zeros[:end - start]


def _quantize_into(t, values):
    count = 1
    for d in t.shape:
        count *= d
    if len(values) != count:
        raise ValueError('input %r takes %d values, got %d' % (t.name, count, len(values)))
    data = t.data
    if t.dtype in ('float32', 'float64'):
        for k in range(count):
            data[k] = values[k]
        return
    if t.dtype not in _INT_RANGES:
        raise ValueError('predict: cannot quantize into %s input %r' % (t.dtype, t.name))
    lo, hi = _INT_RANGES[t.dtype]
    scale = t.scale if t.scale else 1.0
    zp = t.zero_point
    for k in range(count):
        q = _round_half_away(values[k] / scale) + zp
        data[k] = lo if q < lo else (hi if q > hi else q)


def _dequantize(t):
    count = 1
    for d in t.shape:
        count *= d
    data = t.data
    if t.dtype in ('float32', 'float64') or not t.scale:
        return [float(data[k]) for k in range(count)]
    scale = t.scale
    zp = t.zero_point
    return [(data[k] - zp) * scale for k in range(count)]


def _validate(graph):
    """Structural checks the ops rely on: outputs are arena tensors written once, in order."""
    nt = len(graph.tensors)
    ready = set(graph.inputs)
    for t in graph.inputs:
        if graph.tensors[t].data is not None:
            raise ModelError('Model: graph input %d is a constant tensor' % t)
    for t in graph.tensors:
        if t.is_variable or t.data is not None:
            ready.add(t.index)
    written = set()
    for op in graph.ops:
        for t in op.inputs:
            if t >= 0 and t not in ready:
                raise ModelError('op %s (node %d) reads tensor %d before any op writes it'
                                 % (op.name, op.index, t))
        for t in op.outputs:
            if graph.tensors[t].data is not None:
                raise ModelError('op %s (node %d) writes constant tensor %d'
                                 % (op.name, op.index, t))
            if t in written or t in graph.inputs:
                raise ModelError('op %s (node %d) writes tensor %d that is already written'
                                 % (op.name, op.index, t))
            written.add(t)
            ready.add(t)
    for t in graph.outputs:
        if t not in ready:
            raise ModelError('Model: graph output %d is never written' % t)
    if nt and max(graph.tensors[i].nbytes for i in range(nt)) > MAX_ARENA:
        raise ModelError('Model: a tensor exceeds %d bytes' % MAX_ARENA)


def _is_image(obj):
    return hasattr(obj, 'bytearray') and callable(getattr(obj, 'width', None))


def _image_into(t, img):
    """An NHWC image input: resize + channel conversion + uint8 -> int8 as pixel - 128."""
    from . import image
    shape = t.shape
    if len(shape) == 4 and shape[0] == 1 and shape[3] in (1, 3):
        h, w, c = shape[1], shape[2], shape[3]
    elif len(shape) == 3 and shape[0] == 1:
        h, w, c = shape[1], shape[2], 1
    else:
        raise ValueError('input %r is not an NHWC image with 1 or 3 channels' % (shape,))
    if t.dtype not in ('int8', 'uint8'):
        raise ValueError('image input must be int8 or uint8, model has %s' % t.dtype)
    image.preprocess(img, w, h, c, quantizer=image.Quantizer(dtype=t.dtype, channels=c),
                     into=t.data)
