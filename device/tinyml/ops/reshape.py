"""RESHAPE, SQUEEZE, EXPAND_DIMS (output aliases the input: no run step) and SHAPE."""
import struct
from ..errors import ModelError


def _check_same_size(m, op):
    if len(op.inputs) < 1 or op.inputs[0] < 0 or len(op.outputs) != 1:
        raise ModelError('op %s (node %d): needs an input and one output' % (op.name, op.index))
    src = m.tensors[op.inputs[0]]
    dst = m.tensors[op.outputs[0]]
    if src.size != dst.size or src.dtype != dst.dtype:
        raise ModelError('op %s (node %d): input %s%r and output %s%r differ in size or type'
                         % (op.name, op.index, src.dtype, src.shape, dst.dtype, dst.shape))
    return src, dst


def prepare_alias(m, op):
    _check_same_size(m, op)
    m.alias(op.outputs[0], op.inputs[0])
    return 0, None


def prepare_shape(m, op):
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise ModelError('op SHAPE (node %d): needs one input and one output' % op.index)
    src = m.tensors[op.inputs[0]]
    dst = m.tensors[op.outputs[0]]
    if dst.dtype not in ('int32', 'int64') or dst.size != len(src.shape):
        raise ModelError('op SHAPE (node %d): output %s%r cannot hold shape %r'
                         % (op.index, dst.dtype, dst.shape, src.shape))
    fmt = '<%d%s' % (len(src.shape), 'i' if dst.dtype == 'int32' else 'q')
    values = struct.pack(fmt, *src.shape)

    def bind(scratch):
        out = m.raw(op.outputs[0])

        def run():
            out[:] = values
        return run
    return 0, bind


OPS = {'RESHAPE': prepare_alias, 'SQUEEZE': prepare_alias, 'EXPAND_DIMS': prepare_alias,
       'SHAPE': prepare_shape}
