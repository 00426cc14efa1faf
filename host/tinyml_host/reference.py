"""The one TensorFlow Lite Micro helper of the host tools: run a model through TFLM.

Needs the optional `tflite-micro` and `numpy` packages (pip install tinyml[check]).
"""
from .term import UserError

DEFAULT_ARENA = 1 << 20


def tflm_runtime():
    """The tflite_micro runtime module; UserError when it is not installed."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as e:
        raise UserError('TFLM reference unavailable (pip install tflite-micro numpy): %s' % e)
    return runtime


def arena_guess(graph):
    """An arena big enough for TFLM: every non-constant tensor twice, plus 1 MiB."""
    activations = sum(t.nbytes for t in graph.tensors if t.data is None)
    return 2 * activations + DEFAULT_ARENA


def interpreter(model_bytes, arena_size=None):
    runtime = tflm_runtime()
    try:
        return runtime.Interpreter.from_bytes(bytes(model_bytes),
                                              arena_size=arena_size or 16 * DEFAULT_ARENA)
    except Exception as e:  # TFLM raises RuntimeError/ValueError with its own message
        raise UserError('TFLM cannot load the model: %s' % str(e).strip().splitlines()[0])


def run_tflm(model_bytes, inputs, n_outputs, arena_size=None):
    """The n_outputs outputs (numpy arrays) of TFLM for inputs (numpy arrays, model order)."""
    it = interpreter(model_bytes, arena_size)
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    try:
        it.invoke()
    except Exception as e:
        raise UserError('TFLM failed to run the model: %s' % str(e).strip().splitlines()[0])
    return [it.get_output(j).copy() for j in range(n_outputs)]
