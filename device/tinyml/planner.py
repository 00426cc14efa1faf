"""Arena planning: buffer lifetimes over the op order -> offsets in one arena.

A buffer is anything needing arena memory: a tensor (or a group of tensors aliased to one
storage, e.g. RESHAPE input and output) or an op's scratch. Times are op indices:
graph inputs live from time 0, graph outputs to the last op, a scratch buffer only during
its op. Variable (state) tensors are not planned: like TFLM, the model keeps them in
persistent memory outside this arena. Placement is greedy by size (largest first, each at the
lowest aligned offset clear of every placed buffer whose lifetime intersects), like TFLM's
GreedyMemoryPlanner.
"""

ALIGN = 16


class Buffer:
    def __init__(self, key, nbytes, first, last):
        self.key = key          # ('t', tensor index) or ('s', op index)
        self.nbytes = nbytes
        self.first = first
        self.last = last
        self.offset = 0

    def __repr__(self):
        return 'Buffer(%r %d [%d,%d] @%d)' % (self.key, self.nbytes, self.first, self.last,
                                              self.offset)


def _root(aliases, i):
    seen = 0
    while i in aliases:
        i = aliases[i]
        seen += 1
        if seen > len(aliases):
            raise ValueError('alias cycle at tensor %d' % i)
    return i


def lifetimes(graph, aliases=None, sizes=None):
    """Buffers for graph's arena tensors: {root tensor index: Buffer}.

    aliases: {tensor: tensor it shares storage with}; sizes: {tensor: nbytes} overriding
    tensor.nbytes. Constant and variable tensors get no buffer.
    """
    aliases = aliases or {}
    n = len(graph.ops)
    last_time = max(n - 1, 0)
    spans = {}

    def touch(t, time):
        r = _root(aliases, t)
        t = graph.tensors[r]
        if t.data is not None or t.is_variable:
            return
        span = spans.get(r)
        if span is None:
            spans[r] = [time, time]
        else:
            if time < span[0]:
                span[0] = time
            if time > span[1]:
                span[1] = time

    for t in graph.inputs:
        touch(t, 0)
    for k, op in enumerate(graph.ops):
        for t in op.inputs:
            if t >= 0:
                touch(t, k)
        for t in op.outputs:
            touch(t, k)
    for t in graph.outputs:
        touch(t, last_time)
    group_size = {}
    for t in graph.tensors:
        r = _root(aliases, t.index) if t.index in aliases else t.index
        if r in spans:
            nb = sizes[t.index] if sizes and t.index in sizes else t.nbytes
            if nb > group_size.get(r, 0):
                group_size[r] = nb
    buffers = {}
    for r, (first, last) in spans.items():
        buffers[r] = Buffer(('t', r), group_size.get(r, 0), first, last)
    return buffers


def place(buffers, align=ALIGN):
    """Set each buffer's offset; returns the arena size in bytes."""
    order = sorted(buffers, key=lambda b: (-b.nbytes, b.first, b.key))
    placed = []
    total = 0
    for b in order:
        if b.nbytes == 0:
            continue
        b.offset = _lowest_fit(b, placed, align)
        placed.append(b)
        end = b.offset + b.nbytes
        if end > total:
            total = end
    return (total + align - 1) // align * align if total else 0


def _lowest_fit(b, placed, align):
    live = [p for p in placed if p.first <= b.last and b.first <= p.last]
    live.sort(key=lambda p: p.offset)
    offset = 0
    for p in live:
        if offset + b.nbytes <= p.offset:
            break
        end = p.offset + p.nbytes
        if end > offset:
            offset = (end + align - 1) // align * align
    return offset


def plan(graph, aliases=None, scratch=None, sizes=None, align=ALIGN):
    """Plan the arena. scratch: {op index: nbytes}. Returns (arena_bytes, {key: Buffer}) with
    keys ('t', root tensor index) and ('s', op index)."""
    by_root = lifetimes(graph, aliases, sizes)
    buffers = [by_root[r] for r in by_root]
    for k in (scratch or {}):
        if scratch[k]:
            buffers.append(Buffer(('s', k), scratch[k], k, k))
    total = place(buffers, align)
    return total, {b.key: b for b in buffers}


def check(buffers):
    """Raise ValueError if two buffers with intersecting lifetimes overlap in the arena."""
    items = [b for b in buffers if b.nbytes]
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a.first <= b.last and b.first <= a.last and \
                    a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes:
                raise ValueError('planner overlap: %r and %r' % (a, b))
