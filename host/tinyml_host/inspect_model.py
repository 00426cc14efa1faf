"""`tinyml inspect`: what a model is made of and whether it fits a board.

Uses the device package itself (reader, ops.prepare, planner via tinyml.model) under CPython:
per-op shapes, quantization, MACs, weight bytes and the arena plan; ops tinyml cannot run are
flagged with the UnsupportedOpError reason.
"""
import json
import os

from .term import UserError, table, key_values, fmt_bytes, fmt_int
from .macs import op_macs


def add_arguments(p):
    p.add_argument('model', help='.tflite or converted .tmdl model')
    p.add_argument('--board', help='board name (see `tinyml boards`): adds a fit verdict;'
                                   ' exit status 1 when the model does not fit')
    p.add_argument('--plot', metavar='FILE.png', help='draw the arena over time as a PNG')
    p.add_argument('--json', action='store_true', help='print one JSON object instead of tables')


# --- reading ----------------------------------------------------------------------------------

def read_model_file(path):
    """(bytes, Graph) of a .tflite or .tmdl file; ModelError when it is neither."""
    from tinyml import reader, compact
    from tinyml.errors import ModelError
    with open(path, 'rb') as f:
        data = f.read()
    if compact.is_compact(data):
        return data, compact.read(data)[0]
    if not reader.is_tflite(data):
        raise ModelError('%s: not a TFLite model (.tflite) nor a converted model (.tmdl)'
                         % os.path.basename(path))
    return data, reader.read(data)


def tensor_type(t):
    return '%s[%s]' % (t.dtype, ','.join(str(d) for d in t.shape))


def quant_text(t):
    if isinstance(t.scale, tuple):
        return 'per-channel(%d) axis %d' % (len(t.scale), t.qdim)
    if not t.scale:
        return '-'
    return 's=%.6g zp=%d' % (t.scale, t.zero_point)


def weight_tensors(graph, op):
    return [i for i in op.inputs if i >= 0 and graph.tensors[i].data is not None]


def weight_bytes(graph, op):
    return sum(graph.tensors[i].nbytes for i in weight_tensors(graph, op))


def activation_inputs(graph, op):
    return [i for i in op.inputs if i >= 0 and graph.tensors[i].data is None]


# --- analysis ---------------------------------------------------------------------------------

def analyse(data, graph):
    """Everything inspect reports, as plain data (also the --json output)."""
    from . import planview
    plan = planview.plan_model(data, graph)
    ops = [op_record(graph, op, plan) for op in graph.ops]
    unique_weights = sum(t.nbytes for t in graph.tensors if t.data is not None)
    return {
        'model_bytes': len(data),
        'ops': ops,
        'inputs': [tensor_record(graph.tensors[i]) for i in graph.inputs],
        'outputs': [tensor_record(graph.tensors[i]) for i in graph.outputs],
        'totals': {'ops': len(ops), 'macs': sum(o['macs'] for o in ops),
                   'weight_bytes': unique_weights, 'arena_bytes': plan.arena_bytes,
                   'peak_bytes': plan.peak_bytes},
        'supported': not plan.unsupported,
        'unsupported': plan.unsupported,
        'plan_error': plan.error,
        'arena_estimated': plan.estimated,
        'boxes': plan.boxes,
    }


def tensor_record(t):
    return {'index': t.index, 'name': t.name, 'dtype': t.dtype, 'shape': list(t.shape),
            'quant': quant_text(t)}


def op_record(graph, op, plan):
    outs = [graph.tensors[i] for i in op.outputs]
    return {
        'index': op.index, 'op': op.name,
        'inputs': [tensor_type(graph.tensors[i]) for i in activation_inputs(graph, op)],
        'outputs': [tensor_type(t) for t in outs],
        'quant': quant_text(outs[0]) if outs else '-',
        'macs': op_macs(graph, op),
        'weight_bytes': weight_bytes(graph, op),
        'arena': plan.op_arena(op),
        'unsupported': plan.unsupported_reason(op.index),
    }


# --- output -----------------------------------------------------------------------------------

def arena_cell(arena):
    if arena is None:
        return '-'
    offset, size = arena
    return '%s +%s' % (fmt_int(offset), fmt_int(size))


def ops_table(report):
    rows = []
    for o in report['ops']:
        rows.append([o['index'], o['op'] + (' (!)' if o['unsupported'] else ''),
                     ' '.join(o['inputs']) or '-', ' '.join(o['outputs']), o['quant'],
                     fmt_int(o['macs']) if o['macs'] else '-',
                     fmt_int(o['weight_bytes']) if o['weight_bytes'] else '-',
                     arena_cell(o['arena'])])
    return table(['#', 'op', 'input', 'output', 'output quant', 'MACs', 'weights',
                  'arena offset +size'], rows)


def totals_text(report):
    t = report['totals']
    pairs = [('model file', fmt_bytes(report['model_bytes'])),
             ('ops', str(t['ops'])),
             ('MACs', fmt_int(t['macs'])),
             ('weights', '%s (%s)' % (fmt_int(t['weight_bytes']), fmt_bytes(t['weight_bytes'])))]
    if t['arena_bytes'] is not None:
        note = ' estimated without the unsupported ops' if report['arena_estimated'] else ''
        pairs.append(('arena', '%s (%s)%s' % (fmt_int(t['arena_bytes']),
                                             fmt_bytes(t['arena_bytes']), note)))
        pairs.append(('peak live', '%s (%s)' % (fmt_int(t['peak_bytes']),
                                                fmt_bytes(t['peak_bytes']))))
    return key_values(pairs)


def support_text(report):
    if report['supported'] and not report['plan_error']:
        return 'tinyml can run this model.'
    lines = ['tinyml cannot run this model:']
    for u in report['unsupported']:
        lines.append('  ' + u['reason'])
    if report['plan_error'] and not report['unsupported']:
        lines.append('  %s' % report['plan_error'])
    return '\n'.join(lines)


def io_text(report):
    lines = []
    for kind in ('inputs', 'outputs'):
        for t in report[kind]:
            lines.append('%s %d: %s %s[%s] %s' % (kind[:-1], t['index'], t['name'], t['dtype'],
                                                  ','.join(map(str, t['shape'])), t['quant']))
    return '\n'.join(lines)


def main(args):
    data, graph = read_model_file(args.model)
    report = analyse(data, graph)
    if args.board:
        from . import fit
        report['fit'] = fit.verdict(args.board, report, args.model)
    if args.plot:
        write_plot(args.plot, report)
    status = 1 if args.board and not report['fit']['fits'] else 0
    if args.json:
        report = dict(report)
        report.pop('boxes')
        print(json.dumps(report))
        return status
    print('%s: %d ops, %d tensors' % (os.path.basename(args.model), len(graph.ops),
                                      len(graph.tensors)))
    print(io_text(report))
    print()
    print(ops_table(report))
    print()
    print(totals_text(report))
    print(support_text(report))
    if args.board:
        print(report['fit']['text'])
    if args.plot:
        print('arena plot written to %s' % args.plot)
    return status


def write_plot(path, report):
    from .plot import arena_plot
    if report['totals']['arena_bytes'] is None:
        raise UserError('no arena plan to plot: %s' % (report['plan_error'] or 'unsupported ops'))
    canvas = arena_plot(report['boxes'], len(report['ops']), report['totals']['arena_bytes'])
    canvas.save(path)
