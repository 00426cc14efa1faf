"""`tinyml run`: run a model on the MicroPython unix port (or a board) and show its outputs.

The device side is a short script run by the target MicroPython: it loads the model with
tinyml.load, feeds the input bytes from a file, invokes, writes the output bytes of the first
invoke to a file and prints one JSON line of measurements. --check runs the same input
through TFLM and compares the output bytes.
"""
import json
import os

from .term import UserError, table, fmt_us, fmt_bytes, key_values
from .inspect_model import read_model_file, tensor_type
from .model_inputs import numpy, build_inputs
from .unixport import run_unix


def add_arguments(p):
    p.add_argument('model', help='.tflite or converted .tmdl model')
    p.add_argument('--input', metavar='FILE',
                   help='.npy/.npz (arrays; a leading sample axis is allowed), .wav, .png, .bmp;'
                        ' random input when omitted')
    p.add_argument('--sample', type=int, default=0,
                   help='which sample of a leading sample axis to use (default 0)')
    p.add_argument('--seed', type=int, default=0, help='seed of the random input')
    p.add_argument('--board', default='unix', help="where to run (default 'unix': the unix port)")
    p.add_argument('--port', help='serial port of a board (runs over the board transport)')
    p.add_argument('--backend', choices=('native', 'viper', 'python'),
                   help='kernel backend (default: the fastest available)')
    p.add_argument('--check', action='store_true',
                   help='also run TFLM on the same input; exit 1 unless outputs are byte-equal')
    p.add_argument('--repeat', type=int, default=1, help='invoke N times for latency')
    p.add_argument('--labels', metavar='FILE', help='class labels, one per line')
    p.add_argument('--heap', type=int, default=0,
                   help='unix port heap bytes (default: from the model size)')
    p.add_argument('--json', action='store_true', help='print one JSON object instead of tables')


def run_board(args, model_path, graph, arrays):
    """Run over the board transport (tinyml_host.transport, owned by the boards tools)."""
    try:
        from . import transport
    except ImportError:
        raise UserError('running on a board needs tinyml_host.transport, not in this install')
    if not hasattr(transport, 'run_model'):
        raise UserError('tinyml_host.transport has no run_model(port, model, inputs, ...) yet')
    return transport.run_model(args.port, model_path, [a.tobytes() for a in arrays],
                               n_outputs=len(graph.outputs), repeat=max(1, args.repeat),
                               backend=args.backend)


# --- outputs ----------------------------------------------------------------------------------

def split_outputs(raw, graph):
    """Output bytes -> numpy arrays shaped like the model's outputs."""
    np = numpy()
    arrays, pos = [], 0
    for i in graph.outputs:
        t = graph.tensors[i]
        n = t.nbytes
        if pos + n > len(raw):
            raise UserError('device returned %d output bytes, expected more' % len(raw))
        arrays.append(np.frombuffer(raw[pos:pos + n], dtype=t.dtype).reshape(t.shape))
        pos += n
    return arrays


def dequantize(x, tensor):
    np = numpy()
    if x.dtype.kind == 'f' or isinstance(tensor.scale, tuple) or not tensor.scale:
        return x.astype(np.float64)
    return (x.astype(np.float64) - tensor.zero_point) * tensor.scale


def read_labels(path):
    if not path:
        return None
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def is_classifier(graph):
    """Output 0 comes from a SOFTMAX (possibly through a reshape/dequantize)."""
    producer = {o: op for op in graph.ops for o in op.outputs}
    t = graph.outputs[0]
    for _ in range(4):
        op = producer.get(t)
        if op is None:
            return False
        if op.name in ('SOFTMAX', 'LOG_SOFTMAX'):
            return True
        if op.name not in ('RESHAPE', 'SQUEEZE', 'DEQUANTIZE', 'QUANTIZE'):
            return False
        t = op.inputs[0]
    return False


def top_classes(values, labels, k=5):
    flat = list(values.reshape(-1))
    order = sorted(range(len(flat)), key=lambda i: -flat[i])[:k]
    return [(i, labels[i] if labels and i < len(labels) else str(i), float(flat[i]))
            for i in order]


def compare(ours, theirs):
    """(ok, text) for one output: integers must be byte-equal, floats within 1e-5."""
    np = numpy()
    theirs = np.asarray(theirs).reshape(ours.shape).astype(ours.dtype)
    if ours.tobytes() == theirs.tobytes():
        return True, 'identical bytes'
    diff = int(np.count_nonzero(ours != theirs))
    delta = np.max(np.abs(ours.astype(np.float64) - theirs.astype(np.float64)))
    if ours.dtype.kind == 'f' and np.allclose(ours, theirs, rtol=1e-5, atol=1e-6):
        return True, 'float, within 1e-5 (%d of %d differ in the last bits)' % (diff, ours.size)
    return False, 'MISMATCH: %d of %d elements differ, max |diff| %g' % (diff, ours.size, delta)


def preview(x, n=8):
    flat = x.reshape(-1)
    body = ' '.join(('%.4g' % v) if x.dtype.kind == 'f' else str(int(v)) for v in flat[:n])
    return body + (' ... (%d values)' % flat.size if flat.size > n else '')


def outputs_table(graph, outputs, checks):
    rows = []
    for j, (i, x) in enumerate(zip(graph.outputs, outputs)):
        t = graph.tensors[i]
        row = [j, t.name[:28], tensor_type(t), preview(x), preview(dequantize(x, t))]
        if checks:
            row.append(checks[j][1])
        rows.append(row)
    head = ['#', 'output', 'type', 'raw', 'dequantized'] + (['TFLM check'] if checks else [])
    return table(head, rows)


def latency_summary(result):
    times = sorted(result['times'])
    pairs = [('backend', result.get('backend')),
             ('load', fmt_us(result['load_us'])),
             ('model heap', fmt_bytes(result['heap']))]
    if result.get('arena') is not None:
        scratch, packed = result.get('kernel_scratch'), result.get('packed_weights')
        pairs.append(('arena', fmt_bytes(result['arena']) +
                      (' + %s kernel scratch' % fmt_bytes(scratch) if scratch else '') +
                      (' + %s packed weights' % fmt_bytes(packed) if packed else '')))
    pairs.append(('invoke', '%s median, %s min over %d run%s'
                  % (fmt_us(times[len(times) // 2]), fmt_us(times[0]), len(times),
                     's' if len(times) > 1 else '')))
    return key_values(pairs)


# --- command ----------------------------------------------------------------------------------

def execute(args):
    """Run the model -> (graph, input description, inputs, outputs, device measurements)."""
    model_bytes, graph = read_model_file(args.model)
    if args.check:
        tflite_bytes_of(model_bytes)    # refuse before running anything
    arrays, source = build_inputs(args, graph)
    if args.port:
        result, raw = run_board(args, args.model, graph, arrays)
    elif args.board != 'unix':
        raise UserError("--board %s needs --port PORT (only 'unix' runs locally)" % args.board)
    else:
        result, raw = run_unix(args, args.model, model_bytes, graph, arrays)
    return model_bytes, graph, source, arrays, split_outputs(raw, graph), result


def tflite_bytes_of(model_bytes):
    from tinyml import reader
    if not reader.is_tflite(model_bytes):
        raise UserError('--check needs the .tflite model: TFLM cannot read a converted .tmdl')
    return model_bytes


def tflm_checks(model_bytes, graph, arrays, outputs):
    from .reference import run_tflm, arena_guess
    expected = run_tflm(tflite_bytes_of(model_bytes), arrays, len(graph.outputs),
                        arena_guess(graph))
    return [compare(o, e) for o, e in zip(outputs, expected)]


def main(args):
    model_bytes, graph, source, arrays, outputs, result = execute(args)
    checks = tflm_checks(model_bytes, graph, arrays, outputs) if args.check else None
    labels = read_labels(args.labels)
    if args.json:
        print(json.dumps(json_report(graph, source, outputs, result, checks, labels)))
    else:
        print_report(args, graph, source, outputs, result, checks, labels)
    return 1 if checks and not all(ok for ok, _ in checks) else 0


def print_report(args, graph, source, outputs, result, checks, labels):
    print('%s on %s, input: %s' % (os.path.basename(args.model), args.port or args.board, source))
    print(outputs_table(graph, outputs, checks))
    first = graph.tensors[graph.outputs[0]]
    if outputs[0].size >= 2 and (labels or is_classifier(graph)):
        top = top_classes(dequantize(outputs[0], first), labels)
        print()
        print(table(['rank', 'class', 'label', 'score'],
                    [[r + 1, i, name, '%.4f' % s] for r, (i, name, s) in enumerate(top)]))
    print()
    print(latency_summary(result))
    if checks:
        ok = all(c for c, _ in checks)
        print('TFLM check: %s' % ('all outputs match' if ok else 'MISMATCH'))


def json_report(graph, source, outputs, result, checks, labels):
    outs = []
    for j, (i, x) in enumerate(zip(graph.outputs, outputs)):
        t = graph.tensors[i]
        item = {'name': t.name, 'dtype': t.dtype, 'shape': list(x.shape),
                'raw': x.reshape(-1).tolist(), 'dequantized': dequantize(x, t).reshape(-1).tolist()}
        if checks:
            item['check'] = {'ok': checks[j][0], 'detail': checks[j][1]}
        outs.append(item)
    top = top_classes(dequantize(outputs[0], graph.tensors[graph.outputs[0]]), labels)
    return {'input': source, 'outputs': outs, 'device': result,
            'top': [{'index': i, 'label': n, 'score': s} for i, n, s in top]}
