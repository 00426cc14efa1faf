"""Model inputs from .wav/.png/.bmp files, through the device preprocessing modules.

The device package's audio and image modules run here under CPython, so the input the board
gets is the one it would compute itself. Which preprocessing applies is read off the model's
input tensor:

  int16 input of N samples           -> the first N samples of the clip (zero padded)
  int8 input of 49 x 10 values       -> audio.features(preset='mlperf_kws')   (MLPerf KWS MFCC)
  image input [1, H, W, C]           -> tinyml.image: decode, resize to H x W, C channels, int8
"""
import os

from .term import UserError

KWS_SHAPE = (49, 10)


def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def arrays(path, graph):
    """One numpy array per model input (only single-input models take a file)."""
    if len(graph.inputs) != 1:
        raise UserError('%s: a %d-input model needs an .npz with input_0..' %
                        (os.path.basename(path), len(graph.inputs)))
    tensor = graph.tensors[graph.inputs[0]]
    ext = os.path.splitext(path)[1].lower()
    if ext == '.wav':
        return [audio_input(path, tensor)]
    return [image_input(path, tensor)]


def audio_input(path, tensor):
    import numpy as np
    from tinyml import audio
    try:
        samples, rate = audio.read_wav(path)
    except ValueError as e:
        raise UserError('%s: %s' % (os.path.basename(path), e))
    n = element_count(tensor.shape)
    if tensor.dtype == 'int16':
        x = np.zeros(n, np.int16)
        count = min(n, len(samples))
        x[:count] = np.frombuffer(bytes(samples), np.int16)[:count]
        return x.reshape(tensor.shape)
    if tensor.dtype == 'int8' and n == element_count(audio.feature_shape('mlperf_kws')):
        feats = audio.features(samples, preset='mlperf_kws', out='int8', sample_rate=rate)
        return np.frombuffer(bytes(feats), np.int8).reshape(tensor.shape)
    raise UserError('%s: no audio preprocessing known for input %s%s; give features as .npy'
                    % (os.path.basename(path), tensor.dtype, list(tensor.shape)))


def image_input(path, tensor):
    try:
        from tinyml import image
    except ImportError:
        raise UserError('%s: image input needs tinyml.image, not in this install'
                        % os.path.basename(path))
    if not hasattr(image, 'model_input'):
        raise UserError('%s: tinyml.image has no model_input(path, shape, dtype, scale, zp)'
                        % os.path.basename(path))
    import numpy as np
    data = image.model_input(path, tensor.shape, tensor.dtype, tensor.scale, tensor.zero_point)
    return np.frombuffer(bytes(data), tensor.dtype).reshape(tensor.shape)
