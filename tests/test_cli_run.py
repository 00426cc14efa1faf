"""tinyml run: inputs, the unix port, --check against TFLM, reports and errors."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import ROOT, corpus_models, model_zoo
from tinyml.graph import Tensor, Graph
from tinyml_host import run
from tinyml_host.term import UserError


def cli(*args, check=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / 'host'), str(ROOT / 'device')]))
    proc = subprocess.run([sys.executable, '-m', 'tinyml_host.cli'] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if check and proc.returncode not in (0,):
        raise AssertionError('tinyml %s exited %d\n%s\n%s'
                             % (' '.join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
    return proc


def int8_input(shape=(1, 4), scale=0.5, zp=-3):
    return Tensor(0, 'x', shape, 'int8', scale, zp)


def test_random_input_covers_the_dtype_and_is_seeded():
    t = int8_input((1, 1000))
    a = run.random_input(t, np.random.default_rng(1))
    b = run.random_input(t, np.random.default_rng(1))
    assert a.dtype == np.int8 and a.shape == (1, 1000)
    assert a.tobytes() == b.tobytes()
    assert a.min() < -100 and a.max() > 100


def test_float_input_is_quantized_with_the_tensor_scale():
    t = int8_input()
    x = run.fit_array(np.array([[0.0, 1.0, -1.0, 100.0]], np.float32), t, 0, 'x.npy')
    assert x.tolist() == [[-3, -1, -5, 127]]


def test_leading_sample_axis_is_indexed():
    t = int8_input()
    stack = np.arange(12, dtype=np.int8).reshape(3, 1, 4)
    assert run.fit_array(stack, t, 2, 'x.npz').tolist() == [[8, 9, 10, 11]]
    with pytest.raises(UserError):
        run.fit_array(stack, t, 5, 'x.npz')


def test_wrong_shape_is_a_user_error():
    with pytest.raises(UserError, match='does not fit'):
        run.fit_array(np.zeros((2, 3), np.int8), int8_input(), 0, 'x.npy')


def test_npz_inputs_by_name(tmp_path):
    graph = Graph([int8_input(), Tensor(1, 'y', (1, 2), 'int16')], [], [0, 1], [])
    path = tmp_path / 'in.npz'
    np.savez(path, input_1=np.ones((1, 2), np.int16), input_0=np.zeros((1, 4), np.int8))
    arrays = run.arrays_from_file(str(path), graph)
    assert [a.dtype for a in arrays] == [np.int8, np.int16]


def test_compare_integer_outputs_need_identical_bytes():
    a = np.array([1, 2, 3], np.int8)
    assert run.compare(a, a.copy()) == (True, 'identical bytes')
    ok, text = run.compare(a, np.array([1, 2, 4], np.int8))
    assert not ok and '1 of 3' in text


def test_compare_float_outputs_allow_last_bit_differences():
    a = np.array([1.0, 2.0], np.float32)
    b = np.nextafter(a, np.float32(3))
    ok, text = run.compare(a, b)
    assert ok and 'within' in text
    assert not run.compare(a, a + 0.5)[0]


def test_top_classes_use_labels():
    top = run.top_classes(np.array([0.1, 0.7, 0.2]), ['a', 'b', 'c'], k=2)
    assert [(i, n) for i, n, _ in top] == [(1, 'b'), (2, 'c')]


def test_run_missing_model_is_a_one_line_error(tmp_path):
    proc = cli('run', tmp_path / 'missing.tflite', check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'tinyml: error: no such file: %s' % (tmp_path / 'missing.tflite')


def test_run_unknown_input_type_is_a_one_line_error(tmp_path):
    from test_cli_inspect import conv_dw_fc_model
    model = tmp_path / 'm.tflite'
    model.write_bytes(conv_dw_fc_model())
    (tmp_path / 'in.txt').write_text('1 2 3')
    proc = cli('run', model, '--input', tmp_path / 'in.txt', check=False)
    assert proc.returncode == 2
    assert 'unknown input type' in proc.stderr and 'Traceback' not in proc.stderr
