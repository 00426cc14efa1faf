"""model.predict([img]) with an OpenMV-style image, as an OpenMV IDE vision script calls it."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import DEVICE

SCRIPT = '''
import tinyml

class FakeImage:            # OpenMV image.Image, duck-typed: width(), height(), bytearray()
    def __init__(self, data, w, h):
        self._d, self._w, self._h = data, w, h
    def width(self):
        return self._w
    def height(self):
        return self._h
    def format(self):
        return 2
    def bytearray(self):
        return self._d

f = open(%(pixels)r, 'rb'); pixels = bytearray(f.read()); f.close()
m = tinyml.load(%(model)r)
scores = m.predict([FakeImage(pixels, %(w)d, %(h)d)])
print(bytes(m.get_output(0)).hex())
print(scores[1] - scores[0])
if %(w)d == 96:             # same frame through set_input as pixel - 128 (the int8 convention)
    m.set_input(0, bytes((p - 128) & 255 for p in pixels))
    m.invoke()
    print(bytes(m.get_output(0)).hex())
'''


def run(runtime, mp, code, tmp_path):
    if runtime == 'micropython':
        return mp(code)
    path = tmp_path / 'script.py'
    path.write_text(code)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True,
                          env={'PYTHONPATH': str(DEVICE)}).stdout


@pytest.mark.parametrize('runtime', ['micropython', 'cpython'])
@pytest.mark.parametrize('size', [96, 120])
def test_predict_image_resizes_and_quantizes(runtime, size, mp, zoo, tmp_path):
    gray = np.load(zoo / 'data' / 'person_gray_uint8.npy')
    if size != 96:          # a larger camera frame: predict resizes it to the model's 96x96
        gray = np.kron(gray, np.ones((2, 2), np.uint8))[:size, :size]
    (tmp_path / 'px.bin').write_bytes(gray.tobytes())
    code = SCRIPT % dict(pixels=str(tmp_path / 'px.bin'), model=str(zoo / 'person_detect.tflite'),
                         w=size, h=size)
    lines = run(runtime, mp, code, tmp_path).split()
    if size == 96:
        assert lines[0] == lines[2]
    assert float(lines[1]) > 0.5       # the person image is classified as a person


def test_predict_image_on_a_non_image_input_is_valueerror(mp, zoo):
    out = mp('''
import tinyml
class Img:
    def width(self): return 1
    def height(self): return 1
    def bytearray(self): return bytearray(1)
m = tinyml.load(%r)
try:
    m.predict([Img()])
except ValueError as e:
    print('ValueError', e)
''' % str(zoo / 'hello_world_float.tflite'))
    assert out.startswith('ValueError')
