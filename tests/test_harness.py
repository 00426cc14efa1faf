"""The test harness itself: device tests fail loudly, with MicroPython's traceback."""
import pathlib
import subprocess
import sys

import pytest

from conftest import MicroPythonError, ROOT

BROKEN_DEVICE_TEST = '''
def test_broken_on_device(mp):
    mp("def f():\\n    raise ValueError('deliberately broken')\\nf()")
'''


def test_device_code_runs(mp):
    assert mp("import sys; print(sys.implementation.name)").strip() == "micropython"


def test_device_exception_raises_with_traceback(mp):
    with pytest.raises(MicroPythonError) as err:
        mp("import nonexistent_module_xyz")
    assert "Traceback (most recent call last)" in str(err.value)
    assert "nonexistent_module_xyz" in str(err.value)


def test_heapsize_limits_memory(mp):
    with pytest.raises(MicroPythonError) as err:
        mp("b = bytearray(200000)", heapsize=64 * 1024)
    assert "MemoryError" in str(err.value)


def test_broken_device_test_fails_the_run(tmp_path):
    (tmp_path / "test_broken.py").write_text(BROKEN_DEVICE_TEST)
    (tmp_path / "conftest.py").write_text(
        "import importlib.util\n"
        "spec = importlib.util.spec_from_file_location('tinyml_conftest', %r)\n"
        "plugin = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(plugin)\n"
        "mp = plugin.mp\n" % str(ROOT / "tests" / "conftest.py"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert "ValueError: deliberately broken" in proc.stdout
    assert "Traceback (most recent call last)" in proc.stdout


def test_no_tests_collected_is_a_failure(tmp_path):
    (tmp_path / "test_nothing.py").write_text("")
    script = ROOT / "scripts" / "run_tests.sh"
    proc = subprocess.run(["bash", str(script), "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "collected no tests" in proc.stderr


@pytest.mark.parametrize("runtime", ["micropython", "cpython"])
def test_device_package_imports(runtime, mp):
    code = "import tinyml; print(tinyml.load.__name__)"
    if runtime == "micropython":
        out = mp(code)
    else:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"PYTHONPATH": str(ROOT / "device")}, check=True).stdout
    assert out.strip() == "load"
