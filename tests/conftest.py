"""Shared pytest fixtures: the MicroPython unix port as a test target, and the model corpus."""
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEVICE = ROOT / "device"
NATIVE_BUILD = ROOT / "native_modules" / "build" / "x64"
sys.path.insert(0, str(DEVICE))
sys.path.insert(0, str(ROOT / "host"))
sys.path.insert(0, str(ROOT / "tests"))


def micropython_binary():
    exe = pathlib.Path(sys.executable).parent / "micropython"
    if exe.exists():
        return str(exe)
    return shutil.which("micropython")


class MicroPythonError(AssertionError):
    """A MicroPython program raised; the message is its traceback."""


class MicroPython:
    """Runs code in a fresh unix-port process per call, device/ on MICROPYPATH."""

    def __init__(self, binary):
        self.binary = binary

    def __call__(self, code, heapsize=None, timeout=600, cwd=None):
        cmd = [self.binary]
        if heapsize:
            cmd += ["-X", "heapsize=%d" % heapsize]
        cmd += ["-c", code]
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([str(DEVICE), str(NATIVE_BUILD), ".frozen"])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=env, cwd=cwd or ROOT)
        out = proc.stdout
        if proc.returncode != 0 or "Traceback (most recent call last)" in proc.stderr:
            raise MicroPythonError(
                "MicroPython exited %d\n--- stdout ---\n%s\n--- stderr ---\n%s"
                % (proc.returncode, out[-4000:], proc.stderr[-8000:]))
        return out

    def json(self, code, **kw):
        """Run code whose last stdout line is JSON; return it parsed."""
        out = self(code, **kw).strip().splitlines()
        if not out:
            raise MicroPythonError("no output from MicroPython")
        return json.loads(out[-1])


@pytest.fixture(scope="session")
def mp():
    binary = micropython_binary()
    if not binary:
        pytest.fail("micropython unix port not installed: run `make test` (it sets up .venv)")
    return MicroPython(binary)


def model_zoo():
    """The shared model corpus folder, or None."""
    path = os.environ.get("TINYML_MODEL_ZOO")
    if path and pathlib.Path(path).is_dir():
        return pathlib.Path(path).resolve()
    return None


@pytest.fixture(scope="session")
def zoo():
    path = model_zoo()
    if path is None:
        pytest.skip("TINYML_MODEL_ZOO not set: corpus tests skipped")
    return path


def corpus_models():
    """Names of the .tflite models in the corpus (empty without TINYML_MODEL_ZOO)."""
    path = model_zoo()
    if path is None:
        return []
    return sorted(p.stem for p in path.glob("*.tflite"))
