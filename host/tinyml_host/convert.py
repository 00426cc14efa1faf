"""`tinyml convert`: .tflite -> .tmdl, the compact board format read by tinyml.compact.

What changes: flatbuffer vtables, TFLite metadata, min/max statistics, signature defs and
subgraphs other than the first are dropped; quantization is stored flat (float32 scales, int32
zero points); weights are 16-byte aligned; the memory plan the planner made on the host is
stored so the board skips planning. Layout: see device/tinyml/compact.py.
"""
import binascii
import os
import struct

from tinyml import compact
from .term import UserError, table, fmt_bytes, fmt_int


def add_arguments(p):
    p.add_argument('model', help='.tflite model')
    p.add_argument('-o', '--output', metavar='MODEL.tmdl',
                   help='output file (default: the model path with .tmdl)')


class Writer:
    """Little-endian record encoder for the metadata section."""

    def __init__(self):
        self.parts = []
        self.size = 0

    def put(self, fmt, *values):
        self.raw(struct.pack('<' + fmt, *values))

    def raw(self, b):
        self.parts.append(b)
        self.size += len(b)

    def str(self, s):
        b = s.encode('utf-8')
        if len(b) > 0xFFFF:
            raise UserError('name longer than 65535 bytes')
        self.put('H', len(b))
        self.raw(b)

    def i32s(self, values):
        self.put('%di' % len(values), *values)

    def bytes(self):
        return b''.join(self.parts)


class DataSection:
    """Constant bytes placed 16-byte aligned after the metadata; offsets fixed later."""

    def __init__(self):
        self.blobs = []      # (relative offset, bytes)
        self.size = 0

    def add(self, data):
        self.size = (self.size + compact.ALIGN - 1) & ~(compact.ALIGN - 1)
        offset = self.size
        self.blobs.append((offset, bytes(data)))
        self.size += len(data)
        return offset

    def bytes(self):
        out = bytearray(self.size)
        for offset, data in self.blobs:
            out[offset:offset + len(data)] = data
        return bytes(out)


def _dtype_code(t):
    if t.dtype not in compact.DTYPES:
        raise UserError('tensor %d %r: dtype %s has no compact code' % (t.index, t.name, t.dtype))
    return compact.DTYPES.index(t.dtype)


def _check_i32(values, what):
    for v in values:
        if not -2 ** 31 <= v < 2 ** 31:
            raise UserError('%s %d does not fit in int32' % (what, v))


def write_tensor(w, t, data, relocs):
    per_channel = isinstance(t.scale, tuple) or isinstance(t.zero_point, tuple)
    flags = (compact.VARIABLE if t.is_variable else 0) | (compact.HAS_DATA if t.data is not None
                                                           else 0)
    flags |= compact.PER_CHANNEL if per_channel else 0
    no_quant = not per_channel and not t.scale and not t.zero_point
    flags |= compact.NO_QUANT if no_quant else 0
    w.str(t.name)
    w.put('BBB', _dtype_code(t), flags, len(t.shape))
    w.i32s(t.shape)
    w.put('B', t.qdim)
    if per_channel:
        scales = t.scale if isinstance(t.scale, tuple) else (t.scale,) * len(t.zero_point)
        zps = t.zero_point if isinstance(t.zero_point, tuple) else (t.zero_point,) * len(scales)
        _check_i32(zps, 'zero point')
        w.put('H', len(scales))
        w.put('%df' % len(scales), *scales)
        w.i32s(zps)
    elif not no_quant:
        _check_i32([t.zero_point], 'zero point')
        w.put('fi', t.scale, t.zero_point)
    if t.data is not None:
        relocs.append((w.size, data.add(t.data)))
        w.put('II', 0, len(t.data))


def write_value(w, key, v):
    w.str(key)
    if isinstance(v, bool):
        w.put('BB', ord('b'), int(v))
    elif isinstance(v, int):
        _check_i32([v], 'option %s' % key)
        w.put('Bi', ord('i'), v)
    elif isinstance(v, float):
        w.put('Bf', ord('f'), v)
    elif isinstance(v, str):
        w.put('B', ord('s'))
        w.str(v)
    elif isinstance(v, (tuple, list)):
        w.put('BH', ord('v'), len(v))
        w.i32s(v)
    else:
        raise UserError('option %s: value %r cannot be stored' % (key, v))


def write_op(w, op, data, relocs):
    w.str(op.name)
    w.put('BB', min(op.version, 255), len(op.inputs))
    w.i32s(op.inputs)
    w.put('B', len(op.outputs))
    w.i32s(op.outputs)
    w.put('B', len(op.options))
    for key in sorted(op.options):
        write_value(w, key, op.options[key])
    if op.custom is None:
        w.put('II', compact.NO_CUSTOM, 0)
    else:
        relocs.append((w.size, data.add(op.custom)))
        w.put('II', 0, len(op.custom))


def write_plan(w, graph, plan):
    w.put('I', len(graph.tensors))
    w.i32s(plan.offsets)
    w.put('I', len(graph.ops))
    for offset, nbytes in plan.scratch:
        w.put('iI', offset, nbytes)
    write_tape(w, getattr(plan, 'calls', ()))


def write_tape(w, calls):
    """quant.per_channel_multipliers calls recorded while planning: args and results."""
    w.put('I', len(calls))
    for input_scale, filter_scales, output_scale, n, (mults, shifts) in calls:
        fs = filter_scales if isinstance(filter_scales, (tuple, list)) else (filter_scales,)
        w.put('ffHHff', input_scale, output_scale, n, len(fs), fs[0], fs[-1])
        w.i32s(mults)
        w.put('%db' % n, *shifts)


def encode(graph, plan, progress=None):
    """The .tmdl bytes of graph with its memory plan (a compact.Plan)."""
    w, data, relocs = Writer(), DataSection(), []
    for t in graph.tensors:
        write_tensor(w, t, data, relocs)
        if progress:
            progress.step()
    for op in graph.ops:
        write_op(w, op, data, relocs)
    w.put('H', len(graph.inputs))
    w.i32s(graph.inputs)
    w.put('H', len(graph.outputs))
    w.i32s(graph.outputs)
    write_plan(w, graph, plan)
    return assemble(bytearray(w.bytes()), data, relocs, graph, plan)


def assemble(meta, data, relocs, graph, plan):
    data_start = (compact.HEADER_SIZE + len(meta) + compact.ALIGN - 1) & ~(compact.ALIGN - 1)
    for pos, rel in relocs:
        struct.pack_into('<I', meta, pos, data_start + rel)
    pad = data_start - compact.HEADER_SIZE - len(meta)
    body = bytes(meta) + b'\0' * pad + data.bytes()
    total = compact.HEADER_SIZE + len(body)
    head_tail = struct.pack('<IIII', len(graph.tensors), len(graph.ops), len(meta),
                            plan.arena_bytes)
    crc = binascii.crc32(head_tail + body) & 0xFFFFFFFF
    head = struct.pack('<4sHHII', compact.MAGIC, compact.VERSION, 0, total, crc)
    return head + head_tail + body


def plan_of(model_bytes):
    """Load the model with tinyml (host CPython) and return its memory plan (compact.Plan)."""
    from . import planview
    return planview.compact_plan(model_bytes)


def convert_bytes(model_bytes, progress=None):
    from tinyml import reader
    if compact.is_compact(model_bytes):
        raise UserError('already a converted .tmdl model')
    graph = reader.read(model_bytes)
    return encode(graph, plan_of(model_bytes), progress)


def default_output(path):
    return os.path.splitext(path)[0] + '.tmdl'


def main(args):
    with open(args.model, 'rb') as f:
        model_bytes = f.read()
    out = args.output or default_output(args.model)
    if os.path.abspath(out) == os.path.abspath(args.model):
        raise UserError('output would overwrite the input model: use -o')
    from tinyml import reader
    if not reader.is_tflite(model_bytes):
        raise UserError('%s: not a .tflite model' % args.model)
    converted = convert_bytes(model_bytes)
    with open(out, 'wb') as f:
        f.write(converted)
    print(table(['model', '.tflite', '.tmdl', 'ratio'],
                [[os.path.basename(args.model), fmt_int(len(model_bytes)), fmt_int(len(converted)),
                  '%.3f' % (len(converted) / float(len(model_bytes)))]]))
    print('wrote %s (%s)' % (out, fmt_bytes(len(converted))))
    return 0
