"""bench/bench_speed.py: its measuring functions work on one small model (no timing assertions)."""
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import bench_speed  # noqa: E402

MODEL = "hello_world_int8"


@pytest.fixture(scope="module")
def small(zoo, tmp_path_factory):
    path = zoo / (MODEL + ".tflite")
    if not path.exists():
        pytest.skip("%s not in the corpus" % MODEL)
    inputs = bench_speed.sample_inputs(path.with_suffix(".npz"))
    tmp = tmp_path_factory.mktemp("speed")
    files = []
    for i, x in enumerate(inputs):
        f = tmp / ("in%d.bin" % i)
        f.write_bytes(x.tobytes())
        files.append(f)
    return path, inputs, files


@pytest.fixture(scope="module")
def exe():
    exe = bench_speed.micropython()
    if exe is None:
        pytest.skip("no micropython unix port in .venv")
    return exe


def test_tflm_invoke_us_positive(small):
    path, inputs, _ = small
    us = bench_speed.tflm_invoke_us(path, inputs, batch_s=0.01, batches=2)
    assert us > 0


def test_mp_invoke_every_backend(small, exe):
    path, _, files = small
    backends = bench_speed.mp_backends(exe)
    assert backends and backends[-1] == "python"
    for b in backends:
        res = bench_speed.mp_invoke(exe, path, files, b, batch_s=0.01, batches=2,
                                    profile_s=0.001)
        assert res["us"] > 0 and res["n"] >= 1 and res["batches"] == 2
        assert res["runs"] == len(res["profile"]) == 3   # 3 FULLY_CONNECTED
        for k, (name, us, elems, fast, index) in enumerate(res["profile"]):
            assert name == "FULLY_CONNECTED" and us > 0 and elems > 0 and index == k
            assert fast == (1 if b != "python" else 0)


def test_python_probe_gives_up_and_estimates(small, exe):
    path, _, files = small
    native = bench_speed.mp_invoke(exe, path, files, bench_speed.mp_backends(exe)[0],
                                   batch_s=0.01, batches=1, profile_s=0.001)
    # a probe limit of 1 µs stops the first invoke after its first run step
    py = bench_speed.mp_invoke(exe, path, files, "python", probe_s=1e-6)
    assert "us" not in py and 1 <= py["first_done"] < py["runs"] and py["first_us"] > 0
    assert bench_speed.python_estimate(py, native) > 0


def test_report_from_measurements(small, exe):
    path, _, _ = small
    backends = bench_speed.mp_backends(exe)
    with_tmp = pathlib.Path(small[2][0]).parent
    r = bench_speed.measure_model(exe, backends, path, with_tmp, log=lambda *a: None)
    assert r["tflm"] > 0 and all(r[b]["us"] > 0 for b in backends)
    text = bench_speed.report([r], backends, 1.0)
    assert text.startswith("## Invoke time vs TFLM (unix port)")
    assert "| %s |" % MODEL in text and "Geometric mean" in text
