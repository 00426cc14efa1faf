"""image.py: crop / resize / channel conversion / quantization vs numpy and tf.image."""
import json
from array import array

import numpy as np
import pytest

from tinyml import image, reader


@pytest.fixture(scope="module")
def person(zoo):
    return np.load(zoo / "data" / "person_gray_uint8.npy")


@pytest.fixture(scope="module")
def rgb(zoo, person):
    """A real-content 96x96 RGB888 image: person, no_person and the inverted person."""
    other = np.load(zoo / "data" / "no_person_gray_uint8.npy")
    return np.stack([person, other, 255 - person], axis=-1).astype(np.uint8)


def to_rgb565(img, little=True):
    r, g, b = (img[..., 0].astype(np.uint16), img[..., 1].astype(np.uint16),
               img[..., 2].astype(np.uint16))
    v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
    return v.astype("<u2" if little else ">u2").tobytes()


def expand565(img):
    r5, g6, b5 = img[..., 0] >> 3, img[..., 1] >> 2, img[..., 2] >> 3
    return np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)],
                    axis=-1).astype(np.uint8)


def luma(img):
    i = img.astype(np.int32)
    return ((38 * i[..., 0] + 75 * i[..., 1] + 15 * i[..., 2]) >> 7).astype(np.uint8)


def tf_resize(img, h, w, method):
    tf = pytest.importorskip("tensorflow")
    x = img if img.ndim == 3 else img[..., None]
    r = tf.image.resize(x.astype(np.float32), (h, w), method=method).numpy()
    return r


def exact_bilinear(img, oh, ow):
    """float64 bilinear, half-pixel centres, edge clamp."""
    x = img.astype(np.float64) if img.ndim == 3 else img[..., None].astype(np.float64)
    h, w = x.shape[:2]

    def axis(n_in, n_out):
        f = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        lo = np.minimum(np.floor(f).astype(int), n_in - 1)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, np.where(lo >= n_in - 1, 0.0, f - lo)
    y0, y1, wy = axis(h, oh)
    x0, x1, wx = axis(w, ow)
    top = x[y0][:, x0] * (1 - wx)[None, :, None] + x[y0][:, x1] * wx[None, :, None]
    bot = x[y1][:, x0] * (1 - wx)[None, :, None] + x[y1][:, x1] * wx[None, :, None]
    return top * (1 - wy)[:, None, None] + bot * wy[:, None, None]


def exact_round(got, ref64):
    """got == round-half-up(ref64) wherever ref64 is not within 1e-6 of a tie."""
    ref64 = ref64.ravel()
    got = np.asarray(got, np.int32).ravel()
    frac = ref64 - np.floor(ref64)
    clear = np.abs(frac - 0.5) > 1e-6
    assert (got[clear] == np.floor(ref64[clear] + 0.5)).all()
    assert (np.abs(got - ref64) <= 0.5 + 1e-6).all()


def close_uint8(got, ref_float):
    """got is tf's float result rounded: within half a level (+ float32 noise) everywhere, and
    equal to round(tf) wherever tf is clear of a .5 tie (ties are float-noise decided)."""
    ref = ref_float.astype(np.float64).ravel()
    got = np.asarray(got, np.int32).ravel()
    assert (np.abs(got - ref) <= 0.5 + 1e-3).all(), np.abs(got - ref).max()
    clear = np.abs(ref - np.floor(ref) - 0.5) > 1e-3
    assert (got[clear] == np.floor(ref[clear] + 0.5)).all()


def test_gray_identity_is_person_detect_input(zoo, person):
    want = np.load(zoo / "data" / "person_int8.npy").ravel()
    for method in ("nearest", "bilinear"):
        got = image.preprocess(person.tobytes(), 96, 96, 1, method=method, width=96, height=96,
                               fmt="gray")
        assert (np.array(got, np.int8) == want).all()


def test_gray_to_rgb_is_vww_real_input(zoo, person):
    want = np.load(zoo / "vww_96_int8_real.npz")["input_0"][0].ravel()
    got = image.preprocess(person.tobytes(), 96, 96, 3, width=96, height=96, fmt="gray")
    assert (np.array(got, np.int8) == want).all()


@pytest.mark.parametrize("model", ["vww_96_int8", "person_detect", "pretrainedResnet_quant"])
def test_quantizer_follows_model_input_quantization(zoo, model):
    g = reader.read((zoo / (model + ".tflite")).read_bytes())
    t = g.tensors[g.inputs[0]]
    q = image.Quantizer(scale=t.scale, zero_point=t.zero_point, dtype="int8")
    p = np.arange(256, dtype=np.float64)
    v = (p / 255.0) / np.float64(np.float32(t.scale))
    ref = np.clip(np.where(v >= 0, np.floor(v + 0.5), -np.floor(0.5 - v)) + t.zero_point,
                  -128, 127)
    assert list(q.tables[0]) == list(ref.astype(int))
    if model == "vww_96_int8":
        assert list(q.tables[0]) == list(range(-128, 128))   # the catalog's pixel - 128


def test_quantizer_mean_std_per_channel():
    q = image.Quantizer(scale=0.02, zero_point=3, dtype="int8", mean=(0.485, 0.456, 0.406),
                        std=(0.229, 0.224, 0.225), channels=3)
    px = bytes([0, 128, 255, 10, 20, 30])
    out = array("b", bytes(6))
    q.apply(px, out, 6)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    for i, p in enumerate(px):
        c = i % 3
        v = ((p / 255.0 - mean[c]) / std[c]) / 0.02
        r = int(np.floor(v + 0.5)) if v >= 0 else -int(np.floor(0.5 - v))
        assert out[i] == max(-128, min(127, r + 3))
    with pytest.raises(ValueError):
        image.Quantizer(std=(0.0,))
    with pytest.raises(ValueError):
        image.Quantizer(mean=(0.1, 0.2), channels=3)


@pytest.mark.parametrize("ow, oh", [(64, 48), (40, 40), (128, 160), (97, 95)])
def test_bilinear_rgb888_matches_tf_image_resize(rgb, ow, oh):
    got = image.resize(rgb.tobytes(), ow, oh, 3, "bilinear", 96, 96, "rgb888")
    close_uint8(got, tf_resize(rgb, oh, ow, "bilinear"))
    exact_round(got, exact_bilinear(rgb, oh, ow))


@pytest.mark.parametrize("ow, oh", [(64, 48), (128, 160), (96, 96), (33, 71)])
def test_nearest_matches_tf_image_resize(rgb, ow, oh):
    got = np.frombuffer(image.resize(rgb.tobytes(), ow, oh, 3, "nearest", 96, 96, "rgb888"),
                        np.uint8)
    ref = tf_resize(rgb, oh, ow, "nearest").astype(np.uint8).ravel()
    assert (got == ref).all()


@pytest.mark.parametrize("little", [True, False])
def test_rgb565_expands_by_bit_replication(rgb, little):
    buf = to_rgb565(rgb, little)
    got = image.resize(buf, 96, 96, 3, "nearest", 96, 96, "rgb565",
                       byteorder="little" if little else "big")
    assert (np.frombuffer(got, np.uint8) == expand565(rgb).ravel()).all()
    got = image.resize(buf, 50, 40, 3, "bilinear", 96, 96, "rgb565",
                       byteorder="little" if little else "big")
    close_uint8(got, tf_resize(expand565(rgb), 40, 50, "bilinear"))


def test_rgb_to_gray_then_resize(rgb):
    got = image.resize(rgb.tobytes(), 96, 96, 1, "nearest", 96, 96, "rgb888")
    assert (np.frombuffer(got, np.uint8) == luma(rgb).ravel()).all()
    got = image.resize(to_rgb565(rgb), 48, 48, 1, "bilinear", 96, 96, "rgb565")
    close_uint8(got, tf_resize(luma(expand565(rgb)), 48, 48, "bilinear"))


def test_crop_matches_numpy_slicing(rgb):
    got = image.crop(rgb.tobytes(), 10, 20, 30, 40, 96, 96, "rgb888")
    assert bytes(got) == rgb[20:60, 10:40].tobytes()
    got = image.crop(to_rgb565(rgb), 5, 7, 11, 13, 96, 96, "rgb565")
    assert bytes(got) == np.frombuffer(to_rgb565(rgb), "<u2").reshape(96, 96)[7:20, 5:16].tobytes()


def test_crop_then_resize_equals_resize_of_crop(rgb):
    a = image.resize(rgb.tobytes(), 32, 32, 3, "bilinear", 96, 96, "rgb888", crop=(8, 4, 64, 80))
    c = rgb[4:84, 8:72].copy()
    b = image.resize(c.tobytes(), 32, 32, 3, "bilinear", 64, 80, "rgb888")
    assert bytes(a) == bytes(b)


class FakeOpenMVImage:
    def __init__(self, w, h, data, fmt):
        self._w, self._h, self._d, self._f = w, h, bytearray(data), fmt

    def width(self):
        return self._w

    def height(self):
        return self._h

    def format(self):
        return self._f

    def bytearray(self):
        return self._d


def test_openmv_image_duck_typed(rgb, person):
    img = FakeOpenMVImage(96, 96, to_rgb565(rgb), 4)
    got = image.preprocess(img, 48, 48, 1)
    ref = image.preprocess(to_rgb565(rgb), 48, 48, 1, width=96, height=96, fmt="rgb565")
    assert list(got) == list(ref)
    gimg = FakeOpenMVImage(96, 96, person.tobytes(), 2)
    pre = image.Preprocessor(96, 96, "gray", 96, 96, 1)
    into = array("b", bytes(96 * 96))
    pre.run(gimg, into)
    assert (np.array(into) == person.astype(np.int16).ravel() - 128).all()
    with pytest.raises(ValueError):
        image.preprocess(FakeOpenMVImage(96, 96, bytes(100), 1), 10, 10, 1)


@pytest.mark.parametrize("call", [
    lambda b: image.resize(b, 10, 10, 3, "bilinear", 96, 96, "rgb888"),    # wrong size buffer
    lambda b: image.resize(bytes(96 * 96), 10, 10, 1, "cubic", 96, 96, "gray"),
    lambda b: image.resize(bytes(96 * 96), 0, 10, 1, "nearest", 96, 96, "gray"),
    lambda b: image.resize(bytes(96 * 96), 10, 10, 2, "nearest", 96, 96, "gray"),
    lambda b: image.resize(bytes(96 * 96), 10, 10, 1, "nearest", 96, 96, "yuv"),
    lambda b: image.resize(bytes(96 * 96), 10, 10, 1, "nearest"),
    lambda b: image.crop(bytes(96 * 96), 90, 0, 10, 10, 96, 96, "gray"),
    lambda b: image.crop(bytes(96 * 96), -1, 0, 10, 10, 96, 96, "gray"),
    lambda b: image.resize(bytes(96 * 96), 10, 10, 1, "nearest", 96, 96, "gray",
                           crop=(0, 0, 97, 10)),
    lambda b: image.resize("not bytes", 10, 10, 1, "nearest", 3, 3, "gray"),
    lambda b: image.Preprocessor(96, 96, "gray", 8, 8, 1).run(bytes(10), bytearray(64)),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call(bytes(96 * 96))


def test_same_results_on_unix_port(mp, rgb, tmp_path):
    buf565 = to_rgb565(rgb)
    (tmp_path / "rgb.raw").write_bytes(rgb.tobytes())
    (tmp_path / "565.raw").write_bytes(buf565)
    code = """
import json
from array import array
from tinyml import image
rgb = open(%r, 'rb').read()
b565 = open(%r, 'rb').read()
res = {}
res['bil'] = list(image.resize(rgb, 40, 30, 3, 'bilinear', 96, 96, 'rgb888'))
res['near'] = list(image.resize(rgb, 40, 30, 3, 'nearest', 96, 96, 'rgb888'))
res['g565'] = list(image.resize(b565, 24, 24, 1, 'bilinear', 96, 96, 'rgb565'))
res['crop'] = list(image.crop(rgb, 3, 4, 5, 6, 96, 96, 'rgb888'))
q = image.Quantizer(scale=0.0078431, zero_point=-1, channels=3)
pre = image.Preprocessor(96, 96, 'rgb888', 16, 16, 3, q, crop=(10, 10, 50, 50))
into = array('b', bytes(16 * 16 * 3))
pre.run(rgb, into)
res['pre'] = list(into)
try:
    image.resize(rgb, 10, 10, 3, 'bilinear', 95, 96, 'rgb888')
    res['err'] = 'none'
except ValueError:
    res['err'] = 'ValueError'
print(json.dumps(res))
""" % (str(tmp_path / "rgb.raw"), str(tmp_path / "565.raw"))
    got = mp.json(code)
    b = rgb.tobytes()
    assert got["bil"] == list(image.resize(b, 40, 30, 3, "bilinear", 96, 96, "rgb888"))
    assert got["near"] == list(image.resize(b, 40, 30, 3, "nearest", 96, 96, "rgb888"))
    assert got["g565"] == list(image.resize(buf565, 24, 24, 1, "bilinear", 96, 96, "rgb565"))
    assert got["crop"] == list(image.crop(b, 3, 4, 5, 6, 96, 96, "rgb888"))
    q = image.Quantizer(scale=0.0078431, zero_point=-1, channels=3)
    into = array("b", bytes(16 * 16 * 3))
    image.Preprocessor(96, 96, "rgb888", 16, 16, 3, q, crop=(10, 10, 50, 50)).run(b, into)
    assert got["pre"] == list(into)
    assert got["err"] == "ValueError"


def test_to_int8_is_pixel_minus_128():
    px = bytes(range(256))
    assert list(image.to_int8(px)) == [p - 128 for p in range(256)]
    into = array("b", bytes(256))
    assert image.to_int8(px, into) is into
