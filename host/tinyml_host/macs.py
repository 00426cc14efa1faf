"""Multiply-accumulate counts per op, from tensor shapes (the work of the matrix products).

Only ops whose cost is a product of tensors count: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, TRANSPOSE_CONV, BATCH_MATMUL, UNIDIRECTIONAL_SEQUENCE_LSTM and SVDF.
Everything else (pooling, element-wise, softmax, ...) counts 0.
"""
from tinyml.graph import element_count


def _shape(graph, op, k):
    i = op.inputs[k] if k < len(op.inputs) else -1
    return graph.tensors[i].shape if i >= 0 else None


def _out_count(graph, op):
    return element_count(graph.tensors[op.outputs[0]].shape)


def conv_2d(graph, op):
    f = _shape(graph, op, 1)        # [out_c, kh, kw, in_c]
    return _out_count(graph, op) * f[1] * f[2] * f[3]


def depthwise_conv_2d(graph, op):
    f = _shape(graph, op, 1)        # [1, kh, kw, out_c]
    return _out_count(graph, op) * f[1] * f[2]


def fully_connected(graph, op):
    w = _shape(graph, op, 1)        # [units, depth]
    return _out_count(graph, op) * w[-1]


def transpose_conv(graph, op):
    f = _shape(graph, op, 1)        # [out_c, kh, kw, in_c]; input 2 is the data
    return element_count(_shape(graph, op, 2)) * f[0] * f[1] * f[2]


def batch_matmul(graph, op):
    a = _shape(graph, op, 0)
    adj_x = op.options.get('adj_x', False)
    depth = a[-2] if adj_x else a[-1]
    return _out_count(graph, op) * depth


def lstm(graph, op):
    """Per step: 4 input and 4 recurrent gate matrices (+ projection), times batch x steps."""
    x = _shape(graph, op, 0)
    steps_batch = element_count(x[:-1])
    per_step = 0
    for k in (1, 2, 3, 4, 5, 6, 7, 8, 16):
        w = _shape(graph, op, k)
        if w is not None:
            per_step += element_count(w)
    return steps_batch * per_step


def svdf(graph, op):
    """Feature matrix [filters, input] then time weights [filters, memory], per batch."""
    batch = _shape(graph, op, 0)[0]
    feature, time = _shape(graph, op, 1), _shape(graph, op, 2)
    return batch * (element_count(feature) + element_count(time))


COUNTERS = {
    'CONV_2D': conv_2d, 'DEPTHWISE_CONV_2D': depthwise_conv_2d,
    'FULLY_CONNECTED': fully_connected, 'TRANSPOSE_CONV': transpose_conv,
    'BATCH_MATMUL': batch_matmul, 'UNIDIRECTIONAL_SEQUENCE_LSTM': lstm, 'SVDF': svdf,
}


def op_macs(graph, op):
    """MACs of one op (0 for ops without a matrix product or with malformed shapes)."""
    counter = COUNTERS.get(op.name)
    if counter is None:
        return 0
    try:
        return int(counter(graph, op))
    except (IndexError, TypeError):
        return 0
