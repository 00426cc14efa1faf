"""TFLite Micro as the oracle (host only).

    from reference import run_tflm
    outs = run_tflm(model_bytes, [x0, x1])   # -> list of numpy arrays, one per model output

Each call builds a fresh TFLM interpreter (so state starts from zero), sets input i from
inputs[i] (converted to the input tensor's dtype and shape), invokes `invokes` times and returns
copies of the outputs. `input_details(model_bytes)` returns TFLM's view of the inputs (dtype,
shape, quantization) for building inputs.
"""
import numpy as np

_ARENA = 16 * 1024 * 1024


def _interpreter(model_bytes, arena_size=_ARENA):
    from tflite_micro.python.tflite_micro import runtime
    return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)


def input_details(model_bytes):
    it = _interpreter(model_bytes)
    return [it.get_input_details(i) for i in range(len(_graph(model_bytes).inputs))]


def _graph(model_bytes):
    from tinyml import reader
    return reader.read(bytes(model_bytes))


def run_tflm(model_bytes, inputs, invokes=1, arena_size=_ARENA):
    it = _interpreter(model_bytes, arena_size)
    if len(inputs) != len(_graph(model_bytes).inputs):
        raise ValueError('model has %d inputs, got %d' % (len(_graph(model_bytes).inputs), len(inputs)))
    for i, x in enumerate(inputs):
        d = it.get_input_details(i)
        arr = np.asarray(x).astype(d['dtype']).reshape(tuple(d['shape']))
        it.set_input(arr, i)
    for _ in range(invokes):
        it.invoke()
    return [np.array(it.get_output(i), copy=True)
            for i in range(len(_graph(model_bytes).outputs))]
