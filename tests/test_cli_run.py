"""tinyml run: inputs, the unix port, --check against TFLM, reports and errors."""
import json

import numpy as np
import pytest

from conftest import corpus_models, model_zoo
from test_cli_inspect import cli
from tinyml.graph import Tensor, Graph
from tinyml_host import model_inputs, run
from tinyml_host.term import UserError


def int8_input(shape=(1, 4), scale=0.5, zp=-3):
    return Tensor(0, 'x', shape, 'int8', scale, zp)


def test_random_input_covers_the_dtype_and_is_seeded():
    t = int8_input((1, 1000))
    a = model_inputs.random_input(t, np.random.default_rng(1))
    b = model_inputs.random_input(t, np.random.default_rng(1))
    assert a.dtype == np.int8 and a.shape == (1, 1000)
    assert a.tobytes() == b.tobytes()
    assert a.min() < -100 and a.max() > 100


def test_float_input_is_quantized_with_the_tensor_scale():
    t = int8_input()
    x = model_inputs.fit_array(np.array([[0.0, 1.0, -1.0, 100.0]], np.float32), t, 0, 'x.npy')
    assert x.tolist() == [[-3, -1, -5, 127]]


def test_leading_sample_axis_is_indexed():
    t = int8_input()
    stack = np.arange(12, dtype=np.int8).reshape(3, 1, 4)
    assert model_inputs.fit_array(stack, t, 2, 'x.npz').tolist() == [[8, 9, 10, 11]]
    with pytest.raises(UserError):
        model_inputs.fit_array(stack, t, 5, 'x.npz')


def test_wrong_shape_is_a_user_error():
    with pytest.raises(UserError, match='does not fit'):
        model_inputs.fit_array(np.zeros((2, 3), np.int8), int8_input(), 0, 'x.npy')


def test_npz_inputs_by_name(tmp_path):
    graph = Graph([int8_input(), Tensor(1, 'y', (1, 2), 'int16')], [], [0, 1], [])
    path = tmp_path / 'in.npz'
    np.savez(path, input_1=np.ones((1, 2), np.int16), input_0=np.zeros((1, 4), np.int8))
    arrays = model_inputs.arrays_from_file(str(path), graph)
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


CORPUS = corpus_models()
KWS_LABELS = 'down go left no off on right stop up yes silence unknown'.split()


def run_json(*args, status=0):
    proc = cli('run', *args, '--json', check=False)
    assert proc.returncode == status, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize('name', CORPUS)
def test_run_check_matches_tflm_and_the_reference_on_corpus(name, zoo):
    """`tinyml run --check` on the unix port: byte-equal with TFLM live and with the stored
    reference output of the real/4th sample."""
    ref = np.load(zoo / (name + '.npz'))
    report = run_json(zoo / (name + '.tflite'), '--input', zoo / (name + '.npz'), '--sample', 3,
                      '--check')
    for j, out in enumerate(report['outputs']):
        assert out['check']['ok'], out['check']
        expected = ref['output_%d' % j][3]
        got = np.array(out['raw'], dtype=out['dtype']).reshape(expected.shape)
        if expected.dtype.kind == 'f':
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        else:
            assert got.tobytes() == expected.tobytes()


def test_run_reports_latency_heap_and_arena_for_repeats(zoo):
    report = run_json(zoo / 'hello_world_int8.tflite', '--repeat', 4)
    device = report['device']
    assert len(device['times']) == 4 and all(t >= 0 for t in device['times'])
    assert device['heap'] > 0 and device['arena'] > 0 and device['load_us'] > 0
    assert report['input'] == 'random (seed 0)'


def test_run_wav_through_device_audio_features_detects_yes(zoo, tmp_path):
    labels = tmp_path / 'labels.txt'
    labels.write_text('\n'.join(KWS_LABELS))
    report = run_json(zoo / 'kws_ref_model.tflite', '--input', zoo / 'data' / 'yes_1000ms.wav',
                      '--labels', labels, '--check')
    assert report['top'][0]['label'] == 'yes'
    assert report['outputs'][0]['check']['ok']


@pytest.mark.parametrize('clip, label', [('yes_1000ms', 'yes'), ('no_1000ms', 'no')])
def test_run_wav_through_micro_speech_frontend(zoo, tmp_path, clip, label):
    """micro_speech_quantized takes 49 x 40 front-end features: the .wav streams through
    audio.Frontend('micro_speech') (TFLM's preprocessor model beside the model file); the
    scores equal TFLM's on the corpus features of the same clip."""
    labels = tmp_path / 'labels.txt'
    labels.write_text('silence\nunknown\nyes\nno\n')
    model = zoo / 'micro_speech_quantized.tflite'
    report = run_json(model, '--input', zoo / 'data' / (clip + '.wav'), '--labels', labels,
                      '--check')
    assert report['top'][0]['label'] == label
    assert report['outputs'][0]['check']['ok']
    feats = np.load(zoo / 'data' / 'micro_speech_features.npz')
    index = list(feats['labels']).index(clip)
    np.save(tmp_path / 'f.npy', feats['features'][index].reshape(1, 1960))
    by_features = run_json(model, '--input', tmp_path / 'f.npy')
    assert report['outputs'][0]['raw'] == by_features['outputs'][0]['raw']


def test_run_table_output_is_readable(zoo):
    proc = cli('run', zoo / 'hello_world_int8.tflite', '--check')
    out = proc.stdout
    assert 'identical bytes' in out and 'TFLM check: all outputs match' in out
    assert 'invoke' in out and 'load' in out


def test_check_mismatch_exits_1(monkeypatch, capsys):
    """A device output that differs from TFLM's must fail the command."""
    from tinyml_host import cli as cli_module
    real_execute = run.execute

    def tampered(args):
        model_bytes, graph, source, arrays, outputs, result = real_execute(args)
        outputs = [o.copy() for o in outputs]
        outputs[0].reshape(-1)[0] ^= 1
        return model_bytes, graph, source, arrays, outputs, result

    monkeypatch.setattr(run, 'execute', tampered)
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    code = cli_module.main(['run', str(zoo / 'hello_world_int8.tflite'), '--check'])
    out = capsys.readouterr().out
    assert code == 1 and 'MISMATCH' in out


def test_check_on_a_converted_model_is_a_user_error(tmp_path, zoo):
    out = tmp_path / 'h.tmdl'
    cli('convert', zoo / 'hello_world_int8.tflite', '-o', out)
    proc = cli('run', out, '--check', check=False)
    assert proc.returncode == 2 and '--check needs the .tflite' in proc.stderr


def test_bmp_decoder_matches_the_reference_grayscale(zoo):
    from tinyml_host.picture import read_picture
    pixels, w, h, fmt = read_picture(zoo / 'data' / 'no_person.bmp')
    expected = np.load(zoo / 'data' / 'no_person_gray_uint8.npy')
    assert (w, h, fmt) == (96, 96, 'gray')
    assert np.frombuffer(pixels, np.uint8).reshape(96, 96).tobytes() == expected.tobytes()


def png_bytes(rows, color, bpp, filters):
    """A PNG whose rows are stored with the given filter types (0 none, 1 sub, 2 up)."""
    import struct
    import zlib
    from tinyml_host.plot import _chunk
    raw, prev = b'', bytes(len(rows[0]))
    for row, kind in zip(rows, filters):
        if kind == 1:
            line = bytes((row[x] - (row[x - bpp] if x >= bpp else 0)) & 255
                         for x in range(len(row)))
        elif kind == 2:
            line = bytes((row[x] - prev[x]) & 255 for x in range(len(row)))
        else:
            line = bytes(row)
        raw += bytes([kind]) + line
        prev = row
    header = struct.pack('>IIBBBBB', len(rows[0]) // bpp, len(rows), 8, color, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header) + _chunk(b'IDAT', zlib.compress(raw))
            + _chunk(b'IEND', b''))


def test_png_decoder_undoes_filters_and_drops_alpha(tmp_path):
    from tinyml_host.picture import read_picture
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, size=(5, 4, 4), dtype=np.uint8)
    rows = [bytes(r.reshape(-1)) for r in rgba]
    path = tmp_path / 'x.png'
    path.write_bytes(png_bytes(rows, 6, 4, [0, 1, 2, 1, 2]))
    pixels, w, h, fmt = read_picture(path)
    assert (w, h, fmt) == (4, 5, 'rgb888')
    assert pixels == rgba[:, :, :3].tobytes()


def test_png_image_runs_through_device_image_preprocessing(zoo, tmp_path):
    """A gray 96x96 PNG of the no_person picture gives the model the reference input."""
    gray = np.load(zoo / 'data' / 'no_person_gray_uint8.npy')
    path = tmp_path / 'no_person.png'
    path.write_bytes(png_bytes([bytes(r) for r in gray], 0, 1, [1] * 96))
    report = run_json(zoo / 'person_detect.tflite', '--input', path, '--check')
    reference = run_json(zoo / 'person_detect.tflite', '--input',
                         zoo / 'data' / 'no_person_int8.npy')
    assert report['outputs'][0]['raw'] == reference['outputs'][0]['raw']
    assert report['outputs'][0]['check']['ok']


def test_port_runs_through_the_board_transport(monkeypatch, zoo, capsys):
    """--port hands the model and input bytes to transport.run_model and reports its result."""
    from tinyml_host import cli as cli_module, transport
    seen = {}

    def fake_run_model(port, model_path, inputs, n_outputs, repeat=1, backend=None):
        seen.update(port=port, model=model_path, inputs=inputs, n_outputs=n_outputs,
                    repeat=repeat, backend=backend)
        return {'load_us': 5, 'heap': 7, 'times': [11] * repeat, 'arena': 32,
                'backend': 'viper'}, b'\x05'

    monkeypatch.setattr(transport, 'run_model', fake_run_model)
    code = cli_module.main(['run', str(zoo / 'hello_world_int8.tflite'), '--port', '/dev/ttyX',
                            '--repeat', '2', '--backend', 'viper', '--json'])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert seen['port'] == '/dev/ttyX' and seen['n_outputs'] == 1 and seen['repeat'] == 2
    assert seen['backend'] == 'viper' and len(seen['inputs'][0]) == 1
    assert report['outputs'][0]['raw'] == [5] and report['device']['times'] == [11, 11]


def test_boards_subcommand_is_dispatched():
    proc = cli('boards')
    assert 'rp2040' in proc.stdout and 'unix' in proc.stdout


def test_no_command_prints_help_and_fails():
    proc = cli(check=False)
    assert proc.returncode == 2 and 'inspect' in proc.stdout and 'convert' in proc.stdout


def test_device_failure_is_reported_in_one_line(zoo, tmp_path, monkeypatch):
    monkeypatch.setenv('TINYML_MICROPYPATH', str(tmp_path))     # no tinyml package there
    proc = cli('run', zoo / 'hello_world_int8.tflite', check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith('tinyml: error: MicroPython failed (exit 1): ImportError')
    assert len(proc.stderr.strip().splitlines()) == 1


def test_top_classes_only_for_classifiers(zoo):
    from tinyml_host.inspect_model import read_model_file
    assert run.is_classifier(read_model_file(zoo / 'kws_ref_model.tflite')[1])
    assert run.is_classifier(read_model_file(zoo / 'model_runner_codegen.tflite')[1])
    assert not run.is_classifier(read_model_file(zoo / 'ad01_int8.tflite')[1])
    assert 'rank' not in cli('run', zoo / 'ad01_int8.tflite').stdout
