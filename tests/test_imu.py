"""imu.py: sliding windows, per-axis normalization, window features vs numpy on real data."""
from array import array

import numpy as np
import pytest

from tinyml import imu


@pytest.fixture(scope="module")
def stream(zoo):
    """The magic_wand ring + slope gestures back to back: 256 samples x 3 axes (milli-g)."""
    d = np.load(zoo / "magic_wand_real.npz")["input_0"]
    return np.concatenate([d[0].reshape(128, 3), d[1].reshape(128, 3)]).astype(np.float32)


def windows_of(stream, length, step, chunk):
    w = imu.Windower(3, length, step)
    flat = array("f", stream.ravel())
    got = []
    dst = array("f", bytes(4 * 3 * length))
    for s in range(0, len(flat), chunk):
        c = flat[s:s + chunk]
        pos = 0
        while True:
            pos = w.push(c, pos)
            if not w.ready:
                break
            got.append(np.array(w.take(dst)).reshape(length, 3))
        assert pos == len(c)
    return got


@pytest.mark.parametrize("length, step", [(128, 32), (128, 128), (50, 7), (20, 40)])
@pytest.mark.parametrize("chunk", [1, 2, 3, 64, 768])
def test_windows_match_numpy_slices(stream, length, step, chunk):
    got = windows_of(stream, length, step, chunk)
    ref = [stream[s:s + length] for s in range(0, len(stream) - length + 1, step)]
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert (g == r).all()


def test_window_feeds_magic_wand_input_exactly(zoo, stream):
    # the first full window of the stream is the model's real input, value for value
    d = np.load(zoo / "magic_wand_real.npz")["input_0"]
    got = windows_of(stream, 128, 128, 77)
    assert (got[0].ravel() == d[0].ravel()).all()
    assert (got[1].ravel() == d[1].ravel()).all()


@pytest.mark.parametrize("about", ["zero", "mean"])
def test_features_match_numpy(stream, about):
    win = stream[40:168]
    f = np.array(imu.features(array("f", win.ravel()), 3, about=about)).reshape(3, 7)
    x = win.astype(np.float64)
    centre = x.mean(0) if about == "mean" else 0.0
    neg = (x - centre) < 0
    ref = np.stack([x.mean(0), x.std(0), np.sqrt((x ** 2).mean(0)), x.min(0), x.max(0),
                    (neg[1:] != neg[:-1]).sum(0), x.max(0) - x.min(0)], axis=1)
    assert np.allclose(f, ref, rtol=1e-5, atol=1e-3)
    assert (f[:, 5] == ref[:, 5]).all()       # crossings are counts


def test_normalizer_float_and_quantized(stream):
    flat = array("f", stream.ravel())
    norm = imu.Normalizer.fit(flat, 3)
    mean, std = stream.astype(np.float64).mean(0), stream.astype(np.float64).std(0)
    assert np.allclose(np.array(norm.mean), mean, rtol=1e-5)
    out = array("f", bytes(4 * len(flat)))
    norm.apply(flat, out)
    ref = (stream - mean) / std
    assert np.allclose(np.array(out).reshape(-1, 3), ref, atol=1e-4)
    q = array("b", bytes(len(flat)))
    norm.apply(flat, q, scale=0.05, zero_point=-3)
    v = ((stream.astype(np.float64) - np.array(norm.mean)) * np.array(norm.inv_std) / 0.05)
    rq = np.clip(np.where(v >= 0, np.floor(v + 0.5), -np.floor(0.5 - v)) - 3, -128, 127)
    assert (np.array(q).reshape(-1, 3) == rq).all()


def test_int16_stream_windows():
    x = (np.arange(300 * 2) % 1000 - 500).astype(np.int16)
    w = imu.Windower(2, 10, 5, typecode="h")
    dst = array("h", bytes(40))
    c = array("h", x.tobytes())
    pos = w.push(c)
    assert w.ready
    assert list(w.take(dst)) == list(x[:20])
    pos = w.push(c, pos)
    assert list(w.take(dst)) == list(x[10:30])


@pytest.mark.parametrize("call", [
    lambda: imu.Windower(0, 10, 1),
    lambda: imu.Windower(3, 0, 1),
    lambda: imu.Windower(3, 10, 0),
    lambda: imu.Windower(3, 10, 1, typecode="d"),
    lambda: imu.Windower(3, 10, 1).push(array("f")),
    lambda: imu.Windower(3, 10, 1).take(array("f", bytes(120))),
    lambda: imu.Normalizer(3, mean=(0, 0)),
    lambda: imu.Normalizer(3, std=(1, 0, 1)),
    lambda: imu.Normalizer(3).apply(array("f", [1.0] * 4), array("f", [0.0] * 4)),
    lambda: imu.Normalizer.fit(array("f"), 3),
    lambda: imu.features(array("f"), 3),
    lambda: imu.features(array("f", [1.0] * 5), 3),
    lambda: imu.features(array("f", [1.0] * 6), 3, about="median"),
])
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_same_results_on_unix_port(mp, stream):
    code = """
import json
from array import array
from tinyml import imu
flat = array('f', %r)
w = imu.Windower(3, 50, 7)
dst = array('f', bytes(600))
wins = []
for s in range(0, len(flat), 13):
    c = flat[s:s + 13]
    pos = 0
    while True:
        pos = w.push(c, pos)
        if not w.ready:
            break
        wins.append(list(w.take(dst)))
f = imu.features(flat, 3)
norm = imu.Normalizer.fit(flat, 3)
q = array('b', bytes(len(flat)))
norm.apply(flat, q, scale=0.05, zero_point=-3)
print(json.dumps([wins, list(f), list(q)]))
""" % [float(v) for v in stream.ravel()]
    wins, f, q = mp.json(code)
    ref = [stream[s:s + 50].ravel() for s in range(0, 256 - 50 + 1, 7)]
    assert len(wins) == len(ref)
    assert all((np.array(a, np.float32) == r).all() for a, r in zip(wins, ref))
    flat = array("f", stream.ravel())
    assert np.allclose(f, list(imu.features(flat, 3)), rtol=1e-5, atol=1e-3)
    qq = array("b", bytes(len(flat)))
    imu.Normalizer.fit(flat, 3).apply(flat, qq, scale=0.05, zero_point=-3)
    diff = np.abs(np.array(q) - np.array(qq))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99


def test_streaming_allocates_only_a_few_views_on_unix_port(mp):
    """Float samples are moved as bytes: no per-sample boxing (a push loop used to cost ~44 kB)."""
    res = mp.json("""
import gc, json
from array import array
from tinyml import imu, image
w = imu.Windower(3, 128, 32)
c = array('f', [float(i) for i in range(300)])
dst = array('f', bytes(4 * 384))
def loop():
    pos = 0
    n = 0
    while True:
        pos = w.push(c, pos)
        if not w.ready:
            break
        w.take(dst)
        n += 1
    return n
for _ in range(3):
    loop()
gc.collect()
a = gc.mem_alloc()
wins = 0
for _ in range(10):
    wins += loop()
imu_bytes = (gc.mem_alloc() - a) / 10
pre = image.Preprocessor(96, 96, 'gray', 48, 48, 1)
buf = bytes(96 * 96)
into = array('b', bytes(48 * 48))
pre.run(buf, into)
gc.collect()
a = gc.mem_alloc()
pre.run(buf, into)
print(json.dumps([imu_bytes, wins, gc.mem_alloc() - a]))
""")
    imu_bytes, wins, image_bytes = res
    assert wins >= 20
    assert imu_bytes < 1024
    assert image_bytes < 256
