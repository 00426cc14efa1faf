"""Model inputs from .wav/.png/.bmp files, through the device preprocessing modules.

The device package's audio and image modules run here under CPython, so the input the board
gets is the one it would compute itself. Which preprocessing applies is read off the model's
input tensor:

  int16 input of N samples           -> the first N samples of the clip (zero padded)
  int8 input of 49 x 10 values       -> audio.features(preset='mlperf_kws')   (MLPerf KWS MFCC)
  int8 input of 49 x 40 values       -> audio.Frontend('micro_speech') over the clip, with TFLM's
                                        audio_preprocessor_int8.tflite found beside the model
  image input [1, H, W, C] / [1, H, W] -> decode (picture.py), tinyml.image.preprocess:
                                        bilinear resize, channels, int8 = pixel - 128
"""
import os

from .term import UserError

KWS_SHAPE = (49, 10)


def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


MICRO_SPEECH_FRAMES, MICRO_SPEECH_CHANNELS = 49, 40
MICRO_SPEECH_FRONTEND = 'audio_preprocessor_int8.tflite'


def arrays(path, graph, model_path=None):
    """One numpy array per model input (only single-input models take a file)."""
    if len(graph.inputs) != 1:
        raise UserError('%s: a %d-input model needs an .npz with input_0..' %
                        (os.path.basename(path), len(graph.inputs)))
    tensor = graph.tensors[graph.inputs[0]]
    ext = os.path.splitext(path)[1].lower()
    if ext == '.wav':
        return [audio_input(path, tensor, model_path)]
    return [image_input(path, tensor)]


def audio_input(path, tensor, model_path=None):
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
    if tensor.dtype == 'int8' and n == MICRO_SPEECH_FRAMES * MICRO_SPEECH_CHANNELS:
        return micro_speech_input(path, samples, tensor, model_path)
    raise UserError('%s: no audio preprocessing known for input %s%s; give features as .npy'
                    % (os.path.basename(path), tensor.dtype, list(tensor.shape)))


def micro_speech_input(path, samples, tensor, model_path):
    """The micro_speech front end streamed over the clip, as the example does on the board."""
    import numpy as np
    from tinyml import audio
    frontend = os.path.join(os.path.dirname(os.path.abspath(model_path or '.')),
                            MICRO_SPEECH_FRONTEND)
    if not os.path.exists(frontend):
        raise UserError('%s: a micro_speech input needs %s beside the model'
                        % (os.path.basename(path), MICRO_SPEECH_FRONTEND))
    frames = audio.Frontend('micro_speech', model=frontend).feed(samples)
    feats = np.frombuffer(bytes(frames), np.int8)
    if len(feats) < MICRO_SPEECH_FRAMES * MICRO_SPEECH_CHANNELS:
        raise UserError('%s: %d frames of audio, the model needs %d'
                        % (os.path.basename(path), len(feats) // MICRO_SPEECH_CHANNELS,
                           MICRO_SPEECH_FRAMES))
    return feats[:MICRO_SPEECH_FRAMES * MICRO_SPEECH_CHANNELS].reshape(tensor.shape)


def image_layout(tensor):
    """(height, width, channels) of an NHWC image input ([1, H, W, C] or [1, H, W])."""
    shape = tuple(tensor.shape)
    if len(shape) == 4 and shape[0] == 1 and shape[3] in (1, 3):
        return shape[1], shape[2], shape[3]
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2], 1
    raise UserError('input %s%s is not an NHWC image with 1 or 3 channels; give a .npy'
                    % (tensor.dtype, list(shape)))


def image_input(path, tensor):
    """Decode, then tinyml.image.preprocess: bilinear resize, channel conversion, and
    int8 = pixel - 128 / uint8 = pixel / float32 = pixel / 255 (the corpus conventions)."""
    import numpy as np
    from tinyml import image
    from .picture import read_picture
    if tensor.dtype not in ('int8', 'uint8', 'float32'):
        raise UserError('image input needs an int8, uint8 or float32 input, not %s' % tensor.dtype)
    height, width, channels = image_layout(tensor)
    pixels, w, h, fmt = read_picture(path)
    quantizer = image.Quantizer(dtype=tensor.dtype, channels=channels)
    out = image.preprocess(pixels, width, height, channels, quantizer=quantizer, width=w,
                           height=h, fmt=fmt)
    return np.frombuffer(bytes(out), tensor.dtype).reshape(tensor.shape)
