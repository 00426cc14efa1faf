"""Data movement ops: CONCATENATION PACK UNPACK SPLIT SPLIT_V STRIDED_SLICE TRANSPOSE PAD PADV2
GATHER. Each becomes strided copy jobs (see Job), planned at prepare and run without
allocating: contiguous rows are pre-sliced views copied with one slice assignment each,
anything else is an element loop over typed views.
"""
from ..errors import ModelError
from ..graph import ITEMSIZE
from . import KernelStep, not_supported
from ..kernels import python_copy as _python_copy

MAX_ROW_VIEWS = 256    # pre-sliced row views kept per op (each costs two small objects)
MIN_ROW_BYTES = 8      # shorter rows are copied element by element


def strides_of(shape):
    out = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        out[d] = out[d + 1] * shape[d + 1]
    return out


class Job:
    """Copy src[src_off + sum(i_d * src_strides[d])] to dst[dst_off + sum(i_d * dst_strides[d])]
    for every index i over shape (element units). src None: fill with `fill` (a raw value)."""

    def __init__(self, dst, dst_off, dst_strides, src, src_off, src_strides, shape):
        self.dst = dst
        self.src = src
        self.dst_off = dst_off
        self.src_off = src_off
        self.shape, self.dst_strides, self.src_strides = _collapse(shape, dst_strides, src_strides)


def _collapse(shape, ds, ss):
    """Drop size-1 dims and merge dims contiguous in both src and dst; pad to 4 dims."""
    dims = [(n, d, s) for n, d, s in zip(shape, ds, ss) if n != 1]
    if any(n == 0 for n in shape):
        dims = [(0, 0, 0)]
    merged = []
    for n, d, s in dims:
        if merged:
            pn, pd, ps = merged[-1]
            if pd == d * n and ps == s * n:
                merged[-1] = (pn * n, d, s)
                continue
        merged.append((n, d, s))
    if len(merged) > 4:
        raise ValueError('copy needs %d dims after merging' % len(merged))
    while len(merged) < 4:
        merged.insert(0, (1, 0, 0))
    return (tuple(x[0] for x in merged), tuple(x[1] for x in merged),
            tuple(x[2] for x in merged))


def _rows(job):
    """(dst element offset, src element offset) for each innermost row of a job."""
    n0, n1, n2, _ = job.shape
    d0, d1, d2, _ = job.dst_strides
    s0, s1, s2, _ = job.src_strides
    out = []
    for i0 in range(n0):
        for i1 in range(n1):
            for i2 in range(n2):
                out.append((job.dst_off + i0 * d0 + i1 * d1 + i2 * d2,
                            job.src_off + i0 * s0 + i1 * s1 + i2 * s2))
    return out


def _row_count(job):
    return job.shape[0] * job.shape[1] * job.shape[2]


def _row_mode(job, size):
    return job.dst_strides[3] == 1 and job.src_strides[3] in (0, 1) and \
        job.shape[3] * size >= MIN_ROW_BYTES


def bind_jobs(m, make_jobs, dtype, fill=None):
    """Return bind(scratch) (a KernelStep) copying all jobs: a list of copy_strided kernel
    steps on the native backend, else run(). make_jobs() is called at bind time (views exist
    then) and returns Jobs whose dst/src are tensor indices (src None: fill)."""
    size = ITEMSIZE[dtype]

    def bind(scratch):
        jobs = make_jobs()
        native = _native_steps(m, jobs, size, fill)
        if native is not None:
            return native
        steps = []
        total_rows = sum(_row_count(j) for j in jobs if _row_mode(j, size))
        for job in jobs:
            if _row_mode(job, size) and total_rows <= MAX_ROW_VIEWS:
                steps.append(_row_step(m, job, size, fill))
            else:
                steps.append(_element_step(m, job, fill))
        steps = tuple(steps)

        def run():
            for step in steps:
                step()
        return run
    return KernelStep(bind)


def _native_steps(m, jobs, size, fill):
    """[kernel step]: one kernels.copy_strided call per source tensor, or None when the
    table's copy_strided is the python twin (the row / element steps below are faster in
    Python)."""
    kernel = getattr(m.kernels, 'copy_strided', None)
    if kernel is None or kernel is _python_copy.copy_strided or size not in (1, 2, 4):
        return None
    from array import array
    value = 0
    if fill is not None:
        for k in range(size):
            value |= fill[k] << (8 * k)
        if value >= 1 << 31:
            value -= 1 << 32
    groups = {}
    order = []
    for job in jobs:
        key = job.dst if job.src is None else job.src
        if (job.dst, job.src is None, key) not in groups:
            groups[(job.dst, job.src is None, key)] = []
            order.append((job.dst, job.src is None, key))
        words = groups[(job.dst, job.src is None, key)]
        words.append(1 if job.src is None else 0)
        words.append(value if job.src is None else 0)
        words.extend(job.shape)
        words.append(job.dst_off)
        words.extend(job.dst_strides)
        words.append(0 if job.src is None else job.src_off)
        words.extend(job.src_strides)
    steps = []
    for key in order:
        words = groups[key]
        p = array('i', [size, len(words) // 16] + words)
        steps.append((kernel, m.raw(key[0]), m.raw(key[2]), None, p))
    return steps


def _row_step(m, job, size, fill):
    length = job.shape[3] * size
    dst = memoryview(m.raw(job.dst))
    if job.src is None:
        src = memoryview(fill * job.shape[3])
        pairs = tuple((dst[d * size:d * size + length], src) for d, s in _rows(job))
    else:
        src = memoryview(m.raw(job.src))
        pairs = tuple((dst[d * size:d * size + length], src[s * size:s * size + length])
                      for d, s in _rows(job))

    def step():
        for d, s in pairs:
            d[:] = s
    return step


def _element_step(m, job, fill):
    out = m.view(job.dst)
    n0, n1, n2, n3 = job.shape
    d0, d1, d2, d3 = job.dst_strides
    s0, s1, s2, s3 = job.src_strides
    doff, soff = job.dst_off, job.src_off
    if job.src is None:
        value = fill_value(m.tensors[job.dst].dtype, fill)

        def fill_step():
            for i0 in range(n0):
                for i1 in range(n1):
                    for i2 in range(n2):
                        o = doff + i0 * d0 + i1 * d1 + i2 * d2
                        for i3 in range(n3):
                            out[o + i3 * d3] = value
        return fill_step
    a = m.view(job.src)

    def copy_step():
        for i0 in range(n0):
            for i1 in range(n1):
                for i2 in range(n2):
                    o = doff + i0 * d0 + i1 * d1 + i2 * d2
                    s = soff + i0 * s0 + i1 * s1 + i2 * s2
                    for i3 in range(n3):
                        out[o + i3 * d3] = a[s + i3 * s3]
    return copy_step


def fill_value(dtype, raw):
    import struct
    from ..compat import STRUCT_CODES
    return struct.unpack('<' + STRUCT_CODES[dtype], raw)[0]


# -- helpers -----------------------------------------------------------------------------------
def _const_ints(m, op, i, what):
    if i >= len(op.inputs) or op.inputs[i] < 0:
        raise ModelError('op %s (node %d): missing %s input' % (op.name, op.index, what))
    t = m.tensors[op.inputs[i]]
    if t.data is None:
        raise not_supported(op, '%s must be a constant tensor' % what)
    if t.dtype not in ('int32', 'int64'):
        raise ModelError('op %s (node %d): %s tensor is %s, not int32/int64'
                         % (op.name, op.index, what, t.dtype))
    v = m.view(t.index)
    return [v[k] for k in range(t.size)]


def _axis(op, axis, rank):
    if axis < 0:
        axis += rank
    if not 0 <= axis < rank:
        raise ModelError('op %s (node %d): axis %d out of range for rank %d'
                         % (op.name, op.index, axis, rank))
    return axis


def _same_type(m, op, ins, outs):
    """The common dtype; values are copied raw, as TFLM does (quantization not checked)."""
    first = m.tensors[ins[0]]
    for i in tuple(ins) + tuple(outs):
        t = m.tensors[i]
        if t.dtype != first.dtype:
            raise ModelError('op %s (node %d): tensor %d is %s, expected %s'
                             % (op.name, op.index, i, t.dtype, first.dtype))
    return first.dtype


def _same_quantization(m, op, tensors):
    first = m.tensors[tensors[0]]
    for i in tensors:
        t = m.tensors[i]
        if t.scale != first.scale or t.zero_point != first.zero_point:
            raise not_supported(op, 'int8 inputs and output with different quantization')


def _expect_shape(op, t, shape):
    if tuple(t.shape) != tuple(shape):
        raise ModelError('op %s (node %d): output %d has shape %r, expected %r'
                         % (op.name, op.index, t.index, t.shape, tuple(shape)))


def _no_activation(op):
    act = op.options.get('fused_activation_function', 'NONE')
    if act != 'NONE':
        raise not_supported(op, 'fused activation %s' % act)


def _outputs(op, count=None):
    if not op.outputs or (count is not None and len(op.outputs) != count):
        raise ModelError('op %s (node %d): expected %s outputs, got %d'
                         % (op.name, op.index, count if count is not None else 'some',
                            len(op.outputs)))


# -- CONCATENATION / PACK ------------------------------------------------------------------
def _concat_jobs(m, op, ins, out, axis, new_axis):
    """Jobs placing each input along axis of out (new_axis: each input adds one slice)."""
    out_t = m.tensors[out]
    ostr = strides_of(out_t.shape)

    def make():
        jobs = []
        pos = 0
        for i in ins:
            shape = list(m.tensors[i].shape)
            if new_axis:
                shape.insert(axis, 1)
            jobs.append(Job(out, pos * ostr[axis], ostr, i, 0, strides_of(shape), shape))
            pos += shape[axis]
        return jobs
    return make


def prepare_concatenation(m, op):
    _outputs(op, 1)
    _no_activation(op)
    ins = [i for i in op.inputs if i >= 0]
    if not ins:
        raise ModelError('op CONCATENATION (node %d): no inputs' % op.index)
    dtype = _same_type(m, op, ins, op.outputs)
    if dtype == 'int8':   # TFLM's int8 CONCATENATION does not rescale
        _same_quantization(m, op, ins + [op.outputs[0]])
    out_t = m.tensors[op.outputs[0]]
    rank = len(m.tensors[ins[0]].shape)
    axis = _axis(op, op.options.get('axis', 0), rank)
    shape = list(m.tensors[ins[0]].shape)
    shape[axis] = 0
    for i in ins:
        s = m.tensors[i].shape
        if len(s) != rank or any(s[d] != shape[d] for d in range(rank) if d != axis):
            raise ModelError('op CONCATENATION (node %d): input %d shape %r does not fit %r'
                             % (op.index, i, s, m.tensors[ins[0]].shape))
        shape[axis] += s[axis]
    _expect_shape(op, out_t, shape)
    return 0, bind_jobs(m, _concat_jobs(m, op, ins, op.outputs[0], axis, False), dtype)


def prepare_pack(m, op):
    _outputs(op, 1)
    ins = [i for i in op.inputs if i >= 0]
    if not ins or op.options.get('values_count', len(ins)) not in (0, len(ins)):
        raise ModelError('op PACK (node %d): values_count does not match inputs' % op.index)
    dtype = _same_type(m, op, ins, op.outputs)
    in_shape = m.tensors[ins[0]].shape
    axis = _axis(op, op.options.get('axis', 0), len(in_shape) + 1)
    for i in ins:
        if m.tensors[i].shape != in_shape:
            raise ModelError('op PACK (node %d): inputs differ in shape' % op.index)
    shape = list(in_shape)
    shape.insert(axis, len(ins))
    _expect_shape(op, m.tensors[op.outputs[0]], shape)
    return 0, bind_jobs(m, _concat_jobs(m, op, ins, op.outputs[0], axis, True), dtype)


# -- UNPACK / SPLIT / SPLIT_V ------------------------------------------------------------------
def _split_bind(m, op, src, axis, sizes, drop_axis):
    in_t = m.tensors[src]
    istr = strides_of(in_t.shape)
    starts = []
    pos = 0
    for k, out in enumerate(op.outputs):
        shape = list(in_t.shape)
        shape[axis] = sizes[k]
        want = shape[:axis] + shape[axis + 1:] if drop_axis else shape
        _expect_shape(op, m.tensors[out], want)
        starts.append((out, pos, shape))
        pos += sizes[k]

    def make():
        return [Job(out, 0, strides_of(shape), src, start * istr[axis], istr, shape)
                for out, start, shape in starts]
    return bind_jobs(m, make, in_t.dtype)


def prepare_unpack(m, op):
    _outputs(op)
    src = op.inputs[0]
    dtype = _same_type(m, op, [src], op.outputs)
    in_t = m.tensors[src]
    axis = _axis(op, op.options.get('axis', 0), len(in_t.shape))
    num = in_t.shape[axis]
    if len(op.outputs) != num:
        raise ModelError('op UNPACK (node %d): %d outputs for axis of size %d'
                         % (op.index, len(op.outputs), num))
    return 0, _split_bind(m, op, src, axis, [1] * num, True)


def prepare_split(m, op):
    _outputs(op)
    axis_vals = _const_ints(m, op, 0, 'axis')
    src = op.inputs[1]
    _same_type(m, op, [src], op.outputs)
    in_t = m.tensors[src]
    axis = _axis(op, axis_vals[0] if axis_vals else 0, len(in_t.shape))
    n = len(op.outputs)
    if in_t.shape[axis] % n:
        raise ModelError('op SPLIT (node %d): axis size %d not divisible into %d'
                         % (op.index, in_t.shape[axis], n))
    return 0, _split_bind(m, op, src, axis, [in_t.shape[axis] // n] * n, False)


def prepare_split_v(m, op):
    _outputs(op)
    src = op.inputs[0]
    _same_type(m, op, [src], op.outputs)
    in_t = m.tensors[src]
    sizes = _const_ints(m, op, 1, 'size_splits')
    axis = _axis(op, _const_ints(m, op, 2, 'axis')[0], len(in_t.shape))
    if len(sizes) != len(op.outputs):
        raise ModelError('op SPLIT_V (node %d): %d sizes for %d outputs'
                         % (op.index, len(sizes), len(op.outputs)))
    unknown = [k for k, s in enumerate(sizes) if s == -1]
    if len(unknown) == 1:
        sizes[unknown[0]] = in_t.shape[axis] - (sum(sizes) + 1)
    if any(s < 0 for s in sizes) or sum(sizes) != in_t.shape[axis]:
        raise ModelError('op SPLIT_V (node %d): sizes %r do not split %d'
                         % (op.index, sizes, in_t.shape[axis]))
    return 0, _split_bind(m, op, src, axis, sizes, False)


# -- STRIDED_SLICE -----------------------------------------------------------------------------
INT_MIN = -2147483648
INT_MAX = 2147483647


def _clamp(x, lo, hi):
    return lo if x < lo else (hi if x > hi else x)


def slice_start(begin, stride, size, masked):
    if size == 0:
        return 0
    if masked:
        begin = INT_MIN if stride > 0 else INT_MAX
    if begin < 0:
        begin += size
    return _clamp(begin, 0, size) if stride > 0 else _clamp(begin, -1, size - 1)


def slice_stop(end, stride, size, start, masked, shrink):
    if size == 0:
        return 0
    if shrink:
        return start + 1
    if masked:
        end = INT_MAX if stride > 0 else INT_MIN
    if end < 0:
        end += size
    return _clamp(end, 0, size) if stride > 0 else _clamp(end, -1, size - 1)


def prepare_strided_slice(m, op):
    _outputs(op, 1)
    src = op.inputs[0]
    dtype = _same_type(m, op, [src], op.outputs)
    shape = m.tensors[src].shape
    rank = len(shape)
    begin = _const_ints(m, op, 1, 'begin')
    end = _const_ints(m, op, 2, 'end')
    strides = _const_ints(m, op, 3, 'strides') if len(op.inputs) > 3 else [1] * len(begin)
    o = op.options
    if o.get('ellipsis_mask') or o.get('new_axis_mask'):
        raise not_supported(op, 'ellipsis_mask / new_axis_mask')
    if not len(begin) == len(end) == len(strides) == rank:
        raise ModelError('op STRIDED_SLICE (node %d): begin/end/strides need %d values'
                         % (op.index, rank))
    # TFLM ignores the `offset` option (end stays absolute); so do we, to match it.
    counts, starts, steps, out_shape = [], [], [], []
    for d in range(rank):
        if strides[d] == 0:
            raise ModelError('op STRIDED_SLICE (node %d): stride 0 on axis %d' % (op.index, d))
        shrink = o.get('shrink_axis_mask', 0) >> d & 1
        start = slice_start(begin[d], strides[d], shape[d], o.get('begin_mask', 0) >> d & 1)
        stop = slice_stop(end[d], strides[d], shape[d], start, o.get('end_mask', 0) >> d & 1,
                          shrink)
        span = stop - start
        count = (span + strides[d] - (1 if strides[d] > 0 else -1)) // strides[d]
        count = count if count > 0 else 0
        counts.append(count)
        starts.append(start)
        steps.append(strides[d])
        if not shrink:
            out_shape.append(count)
    out = op.outputs[0]
    if m.tensors[out].size != _product(counts) or \
            (tuple(m.tensors[out].shape) != tuple(out_shape) and
             _product(out_shape) != m.tensors[out].size):
        raise ModelError('op STRIDED_SLICE (node %d): output shape %r, expected %r'
                         % (op.index, m.tensors[out].shape, tuple(out_shape)))
    istr = strides_of(shape)
    offset = sum(starts[d] * istr[d] for d in range(rank))
    src_strides = [istr[d] * steps[d] for d in range(rank)]

    def make():
        return [Job(out, 0, strides_of(counts), src, offset, src_strides, counts)]
    return 0, bind_jobs(m, make, dtype)


def _product(xs):
    p = 1
    for x in xs:
        p *= x
    return p


# -- TRANSPOSE ---------------------------------------------------------------------------------
def prepare_transpose(m, op):
    _outputs(op, 1)
    src = op.inputs[0]
    dtype = _same_type(m, op, [src], op.outputs)
    shape = m.tensors[src].shape
    perm = _const_ints(m, op, 1, 'perm')
    rank = len(shape)
    perm = [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise ModelError('op TRANSPOSE (node %d): perm %r is not a permutation of %d axes'
                         % (op.index, perm, rank))
    out_shape = [shape[p] for p in perm]
    out = op.outputs[0]
    _expect_shape(op, m.tensors[out], out_shape)
    istr = strides_of(shape)
    src_strides = [istr[p] for p in perm]

    def make():
        return [Job(out, 0, strides_of(out_shape), src, 0, src_strides, out_shape)]
    try:
        make()
    except ValueError as e:
        raise not_supported(op, str(e))
    return 0, bind_jobs(m, make, dtype)


# -- PAD / PADV2 -------------------------------------------------------------------------------
def prepare_pad(m, op):
    _outputs(op, 1)
    src = op.inputs[0]
    dtype = _same_type(m, op, [src], op.outputs)
    shape = m.tensors[src].shape
    rank = len(shape)
    pads = _const_ints(m, op, 1, 'paddings')
    if len(pads) != 2 * rank or any(p < 0 for p in pads):
        raise ModelError('op %s (node %d): paddings %r do not fit rank %d'
                         % (op.name, op.index, pads, rank))
    out = op.outputs[0]
    out_t = m.tensors[out]
    out_shape = [shape[d] + pads[2 * d] + pads[2 * d + 1] for d in range(rank)]
    _expect_shape(op, out_t, out_shape)
    fill = _pad_fill(m, op, out_t)
    ostr = strides_of(out_shape)
    inner = sum(pads[2 * d] * ostr[d] for d in range(rank))

    def make():
        jobs = _border_jobs(out, out_shape, shape, pads)
        jobs.append(Job(out, inner, ostr, src, 0, strides_of(shape), shape))
        return jobs
    return 0, bind_jobs(m, make, dtype, fill)


def _pad_fill(m, op, out_t):
    """Raw bytes of the pad value: PADV2's constant, else the output zero point (0.0 float)."""
    import struct
    size = ITEMSIZE[out_t.dtype]
    if op.name == 'PADV2' and len(op.inputs) > 2 and op.inputs[2] >= 0:
        c = m.tensors[op.inputs[2]]
        if c.data is None or c.dtype != out_t.dtype or c.size != 1:
            raise not_supported(op, 'constant_values must be a constant scalar of the output type')
        return bytes(c.data[:size])
    if out_t.dtype not in ('int8', 'uint8', 'int16'):
        return bytes(size)               # 0 / 0.0
    zp = out_t.zero_point
    if isinstance(zp, tuple):
        raise not_supported(op, 'per-channel quantized output')
    # the C cast of the int32 zero point to the element type keeps the low bits
    return struct.pack('<' + ('B' if size == 1 else 'H'), zp & ((1 << 8 * size) - 1))


def _border_jobs(out, out_shape, in_shape, pads):
    """Fill jobs covering the output outside the copied input block (one slab per side/axis)."""
    jobs = []
    ostr = strides_of(out_shape)
    rank = len(out_shape)
    # axis d slabs span the full extent of axes > d and the input extent of axes < d
    for d in range(rank):
        lo, hi = pads[2 * d], pads[2 * d + 1]
        for start, count in ((0, lo), (out_shape[d] - hi, hi)):
            if count == 0:
                continue
            shape = [in_shape[k] if k < d else out_shape[k] for k in range(rank)]
            shape[d] = count
            off = start * ostr[d] + sum(pads[2 * k] * ostr[k] for k in range(d))
            jobs.append(Job(out, off, ostr, None, 0, [0] * rank, shape))
    return jobs


# -- GATHER ------------------------------------------------------------------------------------
def prepare_gather(m, op):
    _outputs(op, 1)
    params, indices = op.inputs[0], op.inputs[1]
    dtype = _same_type(m, op, [params], op.outputs)
    p_t = m.tensors[params]
    i_t = m.tensors[indices]
    if i_t.dtype not in ('int32', 'int64'):
        raise not_supported(op, 'indices of type %s' % i_t.dtype)
    if op.options.get('batch_dims', 0):
        raise not_supported(op, 'batch_dims != 0')
    axis = _axis(op, op.options.get('axis', 0), len(p_t.shape))
    out_shape = list(p_t.shape[:axis]) + list(i_t.shape) + list(p_t.shape[axis + 1:])
    _expect_shape(op, m.tensors[op.outputs[0]], out_shape)
    outer = _product(p_t.shape[:axis])
    inner = _product(p_t.shape[axis + 1:])
    axis_size = p_t.shape[axis]
    count = i_t.size

    def bind(scratch):
        out = m.view(op.outputs[0])
        a = m.view(params)
        idx = m.view(indices)

        def run():
            o = 0
            for b in range(outer):
                base = b * axis_size
                for j in range(count):
                    k = idx[j]
                    if not 0 <= k < axis_size:
                        raise ValueError('GATHER (node %d): index %d out of range [0, %d)'
                                         % (op.index, k, axis_size))
                    s = (base + k) * inner
                    for e in range(inner):
                        out[o + e] = a[s + e]
                    o += inner
        return run
    return 0, bind


OPS = {
    'CONCATENATION': prepare_concatenation, 'PACK': prepare_pack, 'UNPACK': prepare_unpack,
    'SPLIT': prepare_split, 'SPLIT_V': prepare_split_v, 'STRIDED_SLICE': prepare_strided_slice,
    'TRANSPOSE': prepare_transpose, 'PAD': prepare_pad, 'PADV2': prepare_pad,
    'GATHER': prepare_gather,
}
