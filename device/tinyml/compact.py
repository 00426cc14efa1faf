"""Reader of the compact board format (.tmdl) written by `tinyml convert`.

Layout (little-endian; every offset is from the start of the file):

    header   'TMDL' u16 version, u16 flags, u32 total size, u32 crc32 of bytes [16:],
             u32 n_tensors, u32 n_ops, u32 meta size (the records below), u32 arena bytes
    tensors  n_tensors x: str name, u8 dtype, u8 flags (1 variable, 2 data, 4 per-channel),
             u8 ndim, i32 shape[ndim], u8 qdim, quant, [u32 data offset, u32 data size]
             quant: per-tensor f32 scale, i32 zero point; per-channel u16 n, f32[n], i32[n];
             nothing with flag 8 (no quantization: scale 0.0, zero point 0)
    ops      n_ops x: str name, u8 version, u8 n_in, i32[n_in], u8 n_out, i32[n_out],
             u8 n_options, n x (str key, value), u32 custom offset, u32 custom size
             value: u8 tag then 'i' i32 | 'f' f32 | 'b' u8 | 's' str | 'v' u16 n, i32[n]
    io       u16 n_in, i32[n_in], u16 n_out, i32[n_out]
    plan     u32 n, n x i32 per tensor: arena offset, -1 not in the arena, or -2 - j when
             prepare made the tensor an alias of tensor j (reshape-likes);
             u32 n_ops, n_ops x (i32 scratch offset, u32 scratch bytes)
    tape     u32 n, n x (f32 input scale, f32 output scale, u16 channels, u16 filter scales,
             f32 first and f32 last filter scale, i32 multipliers[channels], i8 shifts[channels]):
             quant.per_channel_multipliers results in the order prepare asks for them
    data     constant tensor bytes and custom options, each 16-byte aligned
    str = u16 length + utf-8 bytes. The plan is the planner's output for this model.

read(buf) -> (graph.Graph, Plan); weights stay memoryview slices of buf. Any inconsistency
raises ModelError naming the record and offset.

model.py hooks: READERS gets (is_compact, read_graph), which leaves the Plan on graph.plan;
Model._plan asks stored_plan(graph, aliases, scratch) first and runs the planner only when it
returns None (no stored plan, or this device's prepare needs other scratch/aliases).
quant.py hook: per_channel_multipliers returns replay_multipliers(...) when it is not None.
"""
import struct
from .errors import ModelError
from .graph import Tensor, Op, Graph

MAGIC = b'TMDL'
VERSION = 1
HEADER = '<4sHHIIIIII'
HEADER_SIZE = 32
# dtype codes: append only (files keep their meaning)
DTYPES = ('int8', 'uint8', 'int16', 'int32', 'int64', 'float32', 'float16', 'bool',
          'uint16', 'uint32', 'uint64', 'float64')
ALIGN = 16
NO_CUSTOM = 0xFFFFFFFF
VARIABLE, HAS_DATA, PER_CHANNEL, NO_QUANT = 1, 2, 4, 8


def is_compact(buf):
    return len(buf) >= 4 and bytes(buf[:4]) == MAGIC


class Plan:
    """The stored memory plan: arena size, arena offset per tensor, scratch per op."""

    def __init__(self, arena_bytes, offsets, scratch):
        self.arena_bytes = arena_bytes
        self.offsets = offsets      # list: tensor index -> arena offset, -1, or -2 - alias
        self.scratch = scratch      # list: op index -> (offset, nbytes)
        self.tape = []              # positions of the multiplier tape entries

    def aliases(self):
        """{tensor: the tensor it aliases} as stored."""
        found = {}
        for i, off in enumerate(self.offsets):
            if off <= -2:
                found[i] = -2 - off
        return found


class Placed:
    """A planned buffer as model.py reads it from planner.plan: .offset and .nbytes."""

    def __init__(self, offset, nbytes):
        self.offset = offset
        self.nbytes = nbytes


def read_graph(buf):
    """Parse a .tmdl -> Graph whose .plan is the stored Plan (the model.READERS entry).

    Also arms the multiplier tape for the Model built next from this graph."""
    global _replay
    graph, plan = read(buf)
    graph.plan = plan
    _replay = [graph.buffer, plan.tape, 0] if plan.tape else None
    plan.tape = None
    return graph


_replay = None   # [buffer, tape entries, next entry] of the model being built


def replay_multipliers(input_scale, filter_scales, output_scale, n):
    """The stored (mults, shifts) for this quant.per_channel_multipliers call, or None.

    Entries are used in order; the first call that does not match disarms the tape."""
    global _replay
    if _replay is None:
        return None
    buf, tape, k = _replay
    if k + 1 >= len(tape):
        _replay = None          # last entry (or none): free the tape either way
        if k >= len(tape):
            return None
    pos = tape[k]
    in_s, out_s, count, nf, first, last = struct.unpack_from('<ffHHff', buf, pos)
    if not isinstance(filter_scales, (tuple, list)):
        filter_scales = (filter_scales,)
    if (in_s != input_scale or out_s != output_scale or count != n or nf != len(filter_scales)
            or first != filter_scales[0] or last != filter_scales[-1]):
        _replay = None
        return None
    if _replay is not None:
        _replay[2] = k + 1
    pos += 20
    mults = list(struct.unpack_from('<%di' % n, buf, pos))
    shifts = list(struct.unpack_from('<%db' % n, buf, pos + 4 * n))
    return mults, shifts


def stored_plan(graph, aliases, scratch):
    """(arena_bytes, {('t', i) | ('s', k): Placed}) like planner.plan, from graph.plan;
    None when graph has no stored plan or prepare's aliases/scratch differ from it."""
    global _replay
    _replay = None              # every op is prepared by now: drop the tape
    plan = getattr(graph, 'plan', None)
    graph.plan = None           # used once: let the lists go
    if plan is None or plan.aliases() != aliases:
        return None
    buffers = {}
    for k, (offset, nbytes) in enumerate(plan.scratch):
        if scratch.get(k, 0) != nbytes:
            return None
        if nbytes:
            buffers[('s', k)] = Placed(offset, nbytes)
    if len(scratch) != len(buffers):
        return None
    for i, offset in enumerate(plan.offsets):
        if offset >= 0:
            buffers[('t', i)] = Placed(offset, graph.tensors[i].nbytes)
    return plan.arena_bytes, buffers


class Cursor:
    """Bounds-checked sequential reads from a memoryview."""

    def __init__(self, buf, pos, end):
        self.buf = buf
        self.pos = pos
        self.end = end
        self.what = 'header'
        self.strings = {}

    def fail(self, msg):
        raise ModelError('compact %s: %s at offset %d' % (self.what, msg, self.pos))

    def take(self, fmt, size):
        if self.pos + size > self.end:
            self.fail('truncated')
        v = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return v

    def skip(self, size):
        if self.pos + size > self.end:
            self.fail('truncated')
        self.pos += size

    def u8(self):
        return self.take('<B', 1)[0]

    def u16(self):
        return self.take('<H', 2)[0]

    def u32(self):
        return self.take('<I', 4)[0]

    def i32(self):
        return self.take('<i', 4)[0]

    def f32(self):
        return self.take('<f', 4)[0]

    def i32s(self, n):
        return self.take('<%di' % n, 4 * n) if n else ()

    def f32s(self, n):
        return self.take('<%df' % n, 4 * n) if n else ()

    def shared_str(self):
        """A string read once per model: option keys and enum values repeat across ops."""
        s = self.str()
        found = self.strings.get(s)
        if found is None:
            self.strings[s] = found = s
        return found

    def str(self, lazy=False):
        """The next string; lazy: its bytes as a memoryview when longer than 24 bytes
        (graph.Tensor decodes names on access)."""
        n = self.u16()
        if self.pos + n > self.end:
            self.fail('truncated string')
        raw = self.buf[self.pos:self.pos + n]
        try:
            s = str(bytes(raw), 'utf-8')
        except UnicodeError:
            self.fail('string is not utf-8')
        self.pos += n
        return raw if lazy and n > 24 else s


def _crc32(data):
    try:
        import binascii
        return binascii.crc32(data) & 0xFFFFFFFF
    except (ImportError, AttributeError):
        return None


def read_header(mv):
    if len(mv) < HEADER_SIZE or not is_compact(mv):
        raise ModelError('compact header: not a .tmdl file (magic %r)' % bytes(mv[:4]))
    magic, version, flags, total, crc, nt, nops, meta, arena = struct.unpack_from(HEADER, mv, 0)
    if version != VERSION:
        raise ModelError('compact header: version %d, this tinyml reads %d' % (version, VERSION))
    if total != len(mv):
        raise ModelError('compact header: file is %d bytes, header says %d (truncated?)'
                         % (len(mv), total))
    if HEADER_SIZE + meta > total:
        raise ModelError('compact header: metadata size %d out of bounds' % meta)
    actual = _crc32(mv[16:])
    if actual is not None and actual != crc:
        raise ModelError('compact header: checksum mismatch (corrupt file)')
    return nt, nops, HEADER_SIZE + meta, arena


def read(buf):
    """Parse a .tmdl held in buf -> (Graph, Plan)."""
    mv = memoryview(buf)
    nt, nops, meta_end, arena = read_header(mv)
    c = Cursor(mv, HEADER_SIZE, meta_end)
    tensors = [_tensor(c, i, mv) for i in range(nt)]
    ops = [_op(c, i, nt, mv) for i in range(nops)]
    c.what = 'io'
    inputs = _indices(c, c.u16(), nt)
    outputs = _indices(c, c.u16(), nt)
    plan = _plan(c, tensors, nops, arena)
    plan.tape = _tape(c)
    if c.pos != meta_end:
        c.fail('%d bytes left over in the metadata' % (meta_end - c.pos))
    return Graph(tensors, ops, inputs, outputs, mv), plan


def _indices(c, n, nt, optional=False):
    idx = c.i32s(n)
    low = -1 if optional else 0
    for i in idx:
        if i < low or i >= nt:
            c.fail('tensor index %d out of range (%d tensors)' % (i, nt))
    return idx


def _data(c, mv, size_needed=None):
    offset, size = c.u32(), c.u32()
    if offset == NO_CUSTOM:
        return None
    if c.end > offset or offset + size > len(mv):
        c.fail('data [%d, +%d) outside the data section' % (offset, size))
    if size_needed is not None and size != size_needed:
        c.fail('data holds %d bytes, shape needs %d' % (size, size_needed))
    return mv[offset:offset + size]


def _quant(c, flags):
    if flags & NO_QUANT:
        return 0.0, 0
    if not flags & PER_CHANNEL:
        return c.f32(), c.i32()
    n = c.u16()
    if c.pos + 8 * n > c.end:
        c.fail('truncated')
    pos = c.pos
    c.pos += 8 * n
    if n < 2:
        return (struct.unpack_from('<%df' % n, c.buf, pos),
                struct.unpack_from('<%di' % n, c.buf, pos + 4 * n))
    # per-channel vectors stay views of the file, decoded on access (graph.Tensor)
    return c.buf[pos:pos + 4 * n], c.buf[pos + 4 * n:pos + 8 * n]


def _tensor(c, index, mv):
    c.what = 'tensor %d' % index
    name = c.str(True)
    code, flags, ndim = c.u8(), c.u8(), c.u8()
    if code >= len(DTYPES):
        c.fail('dtype code %d' % code)
    shape = c.i32s(ndim)
    for d in shape:
        if d < 0:
            c.fail('negative dimension %d' % d)
    qdim = c.u8()
    scale, zp = _quant(c, flags)
    t = Tensor(index, name, shape, DTYPES[code], scale, zp, qdim, None, bool(flags & VARIABLE))
    if flags & HAS_DATA:
        t.data = _data(c, mv, t.nbytes)
    return t


def _value(c):
    tag = c.u8()
    if tag == 0x69:    # 'i'
        return c.i32()
    if tag == 0x66:    # 'f'
        return c.f32()
    if tag == 0x62:    # 'b'
        return bool(c.u8())
    if tag == 0x73:    # 's'
        return c.shared_str()
    if tag == 0x76:    # 'v'
        return tuple(c.i32s(c.u16()))
    c.fail('option value tag %d' % tag)


def _op(c, index, nt, mv):
    c.what = 'op %d' % index
    name = c.str()
    version = c.u8()
    inputs = _indices(c, c.u8(), nt, True)
    outputs = _indices(c, c.u8(), nt)
    options = {}
    for _ in range(c.u8()):
        key = c.shared_str()
        options[key] = _value(c)
    custom = _data(c, mv)
    return Op(index, name, inputs, outputs, options, custom, version)


def _tape(c):
    """Positions of the tape entries (checked to lie inside the metadata)."""
    c.what = 'multiplier tape'
    tape = []
    for _ in range(c.u32()):
        tape.append(c.pos)
        c.skip(8)
        count, nf = c.u16(), c.u16()
        if nf == 0:
            c.fail('entry without filter scales')
        c.skip(8 + 5 * count)
    return tape


def _plan(c, tensors, nops, arena):
    nt = len(tensors)
    c.what = 'plan'
    if c.u32() != nt:
        c.fail('plan covers a different number of tensors')
    offsets = list(c.i32s(nt))
    if c.u32() != nops:
        c.fail('plan covers a different number of ops')
    scratch = []
    for _ in range(nops):
        scratch.append((c.i32(), c.u32()))
    for i, off in enumerate(offsets):
        if off < -1 - nt or off >= 0 and off + tensors[i].nbytes > arena:
            c.fail('tensor %d arena offset %d outside the %d-byte arena' % (i, off, arena))
    for off, n in scratch:
        if off < 0 or off + n > arena:
            c.fail('scratch [%d, +%d) outside the %d-byte arena' % (off, n, arena))
    return Plan(arena, offsets, scratch)

