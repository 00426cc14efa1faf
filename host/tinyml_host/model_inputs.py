"""Model inputs for `tinyml run`: random, .npy/.npz arrays, or .wav/.png/.bmp files.

Arrays are fitted to the input tensor: a leading sample axis is indexed (--sample), float
arrays for integer inputs are quantized with the tensor's scale and zero point.
"""
import os

from .term import UserError


def numpy():
    try:
        import numpy as np
    except ImportError:
        raise UserError('tinyml run needs numpy on the host (pip install numpy)')
    return np


def random_input(tensor, rng):
    """Uniform over the dtype's range for integers, [-1, 1) for floats."""
    np = numpy()
    dtype = np.dtype(tensor.dtype)
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=tensor.shape, endpoint=True, dtype=dtype)
    if dtype.kind == 'b':
        return rng.integers(0, 1, size=tensor.shape, endpoint=True).astype(bool)
    return rng.uniform(-1.0, 1.0, size=tensor.shape).astype(dtype)


def quantize(x, tensor):
    """Float array x in the tensor's integer dtype using its (per-tensor) scale/zero point."""
    np = numpy()
    scale, zp = tensor.scale, tensor.zero_point
    if isinstance(scale, tuple) or not scale:
        raise UserError('input %r is %s without a per-tensor scale: give %s values, not floats'
                        % (tensor.name, tensor.dtype, tensor.dtype))
    info = np.iinfo(np.dtype(tensor.dtype))
    q = np.round(np.asarray(x, np.float64) / scale) + zp
    return np.clip(q, info.min, info.max).astype(tensor.dtype)


def fit_array(x, tensor, sample, what):
    """x shaped and typed for tensor: drops a leading sample axis, quantizes float input."""
    np = numpy()
    x = np.asarray(x)
    want = tuple(tensor.shape)
    if x.shape != want and x.shape[1:] == want:
        if not -x.shape[0] <= sample < x.shape[0]:
            raise UserError('%s: --sample %d out of range (%d samples)' % (what, sample, x.shape[0]))
        x = x[sample]
    if x.size != int(np.prod(want, dtype=np.int64)):
        raise UserError('%s: shape %s does not fit input %r of shape %s'
                        % (what, list(x.shape), tensor.name, list(want)))
    dtype = np.dtype(tensor.dtype)
    if x.dtype.kind == 'f' and dtype.kind in 'iu':
        x = quantize(x, tensor)
    elif x.dtype != dtype:
        if x.dtype.kind == 'f' and dtype.kind == 'f' or np.can_cast(x.dtype, dtype):
            x = x.astype(dtype)
        else:
            raise UserError('%s: dtype %s does not fit input %r (%s)'
                            % (what, x.dtype, tensor.name, tensor.dtype))
    return np.ascontiguousarray(x.reshape(want))


def arrays_from_file(path, graph):
    """The arrays of a .npy/.npz file, in model input order."""
    np = numpy()
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise UserError('%s: not a readable .npy/.npz file (%s)' % (path, e))
    if not hasattr(data, 'files'):
        return [data]
    keys = ['input_%d' % i for i in range(len(graph.inputs))]
    if all(k in data.files for k in keys):
        return [data[k] for k in keys]
    if len(data.files) == len(graph.inputs):
        return [data[k] for k in data.files]
    raise UserError('%s: expected arrays %s' % (path, ', '.join(keys)))


def preprocessed(path, graph, model_path=None):
    """Input arrays from a .wav/.png/.bmp through the device preprocessing modules."""
    from . import preprocess_input
    return preprocess_input.arrays(path, graph, model_path)


def build_inputs(args, graph):
    np = numpy()
    tensors = [graph.tensors[i] for i in graph.inputs]
    if not args.input:
        rng = np.random.default_rng(args.seed)
        return [random_input(t, rng) for t in tensors], 'random (seed %d)' % args.seed
    ext = os.path.splitext(args.input)[1].lower()
    if ext in ('.npy', '.npz'):
        arrays = arrays_from_file(args.input, graph)
    elif ext in ('.wav', '.png', '.bmp'):
        arrays = preprocessed(args.input, graph, getattr(args, 'model', None))
    else:
        raise UserError('%s: unknown input type %r (use .npy .npz .wav .png .bmp)'
                        % (args.input, ext))
    if len(arrays) != len(tensors):
        raise UserError('%s: %d arrays for %d model inputs' % (args.input, len(arrays), len(tensors)))
    what = os.path.basename(args.input)
    return [fit_array(a, t, args.sample, what) for a, t in zip(arrays, tensors)], what
