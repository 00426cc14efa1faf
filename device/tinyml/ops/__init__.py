"""Op registry: op name -> the ops/ module implementing it, imported on first use.

Each op module exposes OPS = {'NAME': prepare}; see docs/ARCHITECTURE.md.
"""
from ..errors import UnsupportedOpError

MODULE_OF = {}

_FAMILIES = (
    ('conv', 'CONV_2D'),
    ('depthwise', 'DEPTHWISE_CONV_2D'),
    ('fully_connected', 'FULLY_CONNECTED'),
    ('pool', 'AVERAGE_POOL_2D MAX_POOL_2D'),
    ('softmax', 'SOFTMAX LOG_SOFTMAX'),
    ('elementwise', 'ADD SUB MUL DIV MAXIMUM MINIMUM SQUARED_DIFFERENCE'),
    ('activations', 'RELU RELU6 RELU_N1_TO_1 LEAKY_RELU PRELU HARD_SWISH LOGISTIC TANH'),
    ('reduce', 'MEAN SUM REDUCE_MAX'),
    ('resize', 'RESIZE_NEAREST_NEIGHBOR RESIZE_BILINEAR'),
    ('reshape', 'RESHAPE SQUEEZE EXPAND_DIMS SHAPE'),
    ('quantize', 'QUANTIZE DEQUANTIZE CAST'),
    ('tensor_ops', 'CONCATENATION PACK UNPACK STRIDED_SLICE TRANSPOSE PAD PADV2 GATHER '
                   'SPLIT SPLIT_V'),
    ('lstm', 'UNIDIRECTIONAL_SEQUENCE_LSTM'),
    ('svdf', 'SVDF'),
)
for _module, _names in _FAMILIES:
    for _name in _names.split():
        MODULE_OF[_name] = _module

CUSTOM_PREFIXES = (('Signal', 'signal'),)

_loaded = {}


def module_for(name):
    """Name of the ops/ module for op `name`, or None."""
    module = MODULE_OF.get(name)
    if module is None:
        for prefix, mod in CUSTOM_PREFIXES:
            if name.startswith(prefix):
                return mod
    return module


def _import(module):
    if module not in _loaded:
        pkg = __import__('tinyml.ops.' + module)
        _loaded[module] = getattr(pkg.ops, module)
    return _loaded[module]


class KernelStep:
    """The bind of an op that is (on some backends) one kernel call: make(scratch) returns
    the kernel step (fn, out, a, b, p), a run() when the op is more than that call, or a
    list of such steps when the op is several calls in a row. Called like any bind it
    returns run(); Model takes the steps themselves (`step`, lists flattened into
    Model._steps), which the native backend's run_steps calls without a Python frame per op.

    kernel_scratch: bytes of scratch the kernel asks for (kernel_scratch below); Model then
    appends its kernel scratch buffer to the step: (fn, out, a, b, p, scratch).
    packed_bytes: bytes of weights the backend laid out for itself at load (held by the step,
    beside the model's own constants)."""

    def __init__(self, make, kernel_scratch=0, packed_bytes=0):
        self.step = make
        self.kernel_scratch = kernel_scratch
        self.packed_bytes = packed_bytes

    def __call__(self, scratch):
        return step_run(self.step(scratch))


def kernel_scratch(m, fn, p):
    """Bytes of scratch the backend's kernel fn needs with parameter block p (native conv,
    depthwise, fully connected and the whole-op LSTM/SVDF kernels; else 0). It depends on
    the backend and the board's arch, so it is not part of the memory plan: Model allocates
    one buffer beside the arena for it, as large as the largest request."""
    sizer = getattr(m.kernels, 'scratch_bytes', None)
    return sizer(fn, p) if sizer is not None else 0


def step_run(step):
    """run() performing step: a kernel step (fn, out, a, b, p[, scratch]), a run() (returned
    as is) or a list of them (run in order)."""
    if isinstance(step, list):
        return _steps_run(tuple(step_run(s) for s in step))
    if not isinstance(step, tuple):
        return step
    fn, args = step[0], step[1:]

    def run():
        fn(*args)
    return run


def _steps_run(runs):
    def run():
        for r in runs:
            r()
    return run


def not_supported(op, why):
    return UnsupportedOpError('op %s (node %d) is not supported: %s' % (op.name, op.index, why))


def prepare_fn(op):
    """The prepare function for op (a graph.Op); UnsupportedOpError if there is none."""
    module = module_for(op.name)
    if module is None:
        raise not_supported(op, 'no implementation registered')
    try:
        mod = _import(module)
    except ImportError as e:
        raise not_supported(op, 'module tinyml.ops.%s unavailable (%s)' % (module, e))
    prepare = getattr(mod, 'OPS', {}).get(op.name)
    if prepare is None:
        raise not_supported(op, 'tinyml.ops.%s does not implement it' % module)
    return prepare
