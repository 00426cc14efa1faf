"""tinyml inspect: MACs by hand, arena == the device's, fit verdicts, PNG plot, errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, corpus_models
from tflite_builder import ModelBuilder
from tinyml import reader
from tinyml_host import macs, plot, term


def cli(*args, check=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / 'host'), str(ROOT / 'device')]))
    proc = subprocess.run([sys.executable, '-m', 'tinyml_host.cli'] + [str(a) for a in args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError('tinyml %s exited %d\n%s\n%s'
                             % (' '.join(map(str, args)), proc.returncode, proc.stdout, proc.stderr))
    return proc


def conv_dw_fc_model():
    """input 1x8x8x3 -> CONV 3x3x3->4 stride 1 SAME -> DW 3x3 stride 2 VALID -> FC 5."""
    b = ModelBuilder()
    q = dict(scale=0.5, zero_point=0)
    x = b.tensor('int8', (1, 8, 8, 3), **q)
    wc = b.const('int8', (4, 3, 3, 3), np.ones((4, 3, 3, 3)), scale=(0.1,) * 4,
                 zero_point=(0,) * 4, qdim=0)
    bc = b.const('int32', (4,), [0] * 4, scale=(0.05,) * 4, zero_point=(0,) * 4)
    c = b.tensor('int8', (1, 8, 8, 4), **q)
    wd = b.const('int8', (1, 3, 3, 4), np.ones((1, 3, 3, 4)), scale=(0.1,) * 4,
                 zero_point=(0,) * 4, qdim=3)
    bd = b.const('int32', (4,), [0] * 4, scale=(0.05,) * 4, zero_point=(0,) * 4)
    d = b.tensor('int8', (1, 3, 3, 4), **q)
    shape = b.const('int32', (2,), [1, 36])
    r = b.tensor('int8', (1, 36), **q)
    wf = b.const('int8', (5, 36), np.ones((5, 36)), scale=0.1, zero_point=0)
    bf = b.const('int32', (5,), [0] * 5, scale=0.05, zero_point=0)
    y = b.tensor('int8', (1, 5), **q)
    b.op('CONV_2D', [x, wc, bc], [c], padding='SAME', stride_w=1, stride_h=1)
    b.op('DEPTHWISE_CONV_2D', [c, wd, bd], [d], padding='VALID', stride_w=2, stride_h=2,
         depth_multiplier=1)
    b.op('RESHAPE', [d, shape], [r], new_shape=[1, 36])
    b.op('FULLY_CONNECTED', [r, wf, bf], [y])
    return b.build(inputs=[x], outputs=[y])


HAND_MACS = [8 * 8 * 4 * (3 * 3 * 3), 3 * 3 * 4 * (3 * 3), 0, 5 * 36]
HAND_WEIGHTS = [4 * 27 + 16, 36 + 16, 8, 180 + 20]


def test_macs_match_hand_computation():
    graph = reader.read(conv_dw_fc_model())
    assert [macs.op_macs(graph, op) for op in graph.ops] == HAND_MACS


def lstm_model(batch=1, steps=5, n_in=3, cells=4):
    b = ModelBuilder()
    x = b.tensor('int8', (batch, steps, n_in), scale=0.1, zero_point=0)
    ins = [x]
    for _ in range(4):
        ins.append(b.const('int8', (cells, n_in), np.ones((cells, n_in)), scale=0.1, zero_point=0))
    for _ in range(4):
        ins.append(b.const('int8', (cells, cells), np.ones((cells, cells)), scale=0.1,
                           zero_point=0))
    ins += [-1, -1, -1]
    for _ in range(4):
        ins.append(b.const('int32', (cells,), [0] * cells))
    ins += [-1, -1]
    ins.append(b.tensor('int8', (batch, cells), variable=True, scale=0.1, zero_point=0))
    ins.append(b.tensor('int16', (batch, cells), variable=True, scale=0.1, zero_point=0))
    y = b.tensor('int8', (batch, steps, cells), scale=0.1, zero_point=0)
    b.op('UNIDIRECTIONAL_SEQUENCE_LSTM', ins, [y], fused_activation_function='TANH')
    return b.build(inputs=[x], outputs=[y])


def test_lstm_macs_are_gate_matrices_times_steps():
    graph = reader.read(lstm_model(batch=2, steps=5, n_in=3, cells=4))
    assert macs.op_macs(graph, graph.ops[0]) == 2 * 5 * (4 * 4 * 3 + 4 * 4 * 4)


def test_table_right_aligns_numbers():
    text = term.table(['name', 'bytes'], [['a', '1,024'], ['longer', '7']])
    lines = text.splitlines()
    assert lines[0].split() == ['name', 'bytes']
    assert lines[2].endswith('1,024') and lines[3].endswith('    7')
    assert lines[2].startswith('a ')


def test_sizes_are_readable():
    assert term.fmt_bytes(812) == '812 B'
    assert term.fmt_bytes(23 * 1024 + 400) == '23.4 KiB'
    assert term.fmt_bytes(3 << 20) == '3.0 MiB'
    assert term.fmt_int(1234567) == '1,234,567'


def test_png_writer_makes_a_valid_png_of_the_right_size(tmp_path):
    zlib = pytest.importorskip('zlib')
    canvas = plot.arena_plot([(0, 1, 0, 100), (1, 3, 100, 50), (2, 3, 0, 100)], 4, 150,
                             width=320, height=200)
    path = tmp_path / 'a.png'
    canvas.save(path)
    data = path.read_bytes()
    assert plot.png_size(data) == (320, 200)
    # decode IDAT: 200 rows of filter byte + 320 RGB pixels, boxes painted
    idat = data[data.index(b'IDAT') + 4:data.index(b'IEND') - 8]
    raw = zlib.decompress(idat)
    assert len(raw) == 200 * (1 + 320 * 3)
    pixels = np.frombuffer(raw, np.uint8).reshape(200, 1 + 960)[:, 1:].reshape(200, 320, 3)
    colored = np.any(pixels != 255, axis=2) & np.any(pixels != 0, axis=2)
    assert colored.sum() > 1000


def test_fill_rect_clips_and_colors_exact_pixels():
    c = plot.Canvas(10, 6)
    c.fill_rect(-5, 2, 3, 100, (1, 2, 3))
    assert bytes(c.rows[1][:3]) == b'\xff\xff\xff'
    assert bytes(c.rows[5][6:9]) == b'\x01\x02\x03'
    assert bytes(c.rows[5][9:12]) == b'\xff\xff\xff'


def test_inspect_missing_file_is_a_one_line_error(tmp_path):
    proc = cli('inspect', tmp_path / 'nope.tflite', check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == 'tinyml: error: no such file: %s' % (tmp_path / 'nope.tflite')


def test_inspect_corrupt_model_is_a_one_line_error(tmp_path):
    data = bytearray(conv_dw_fc_model())
    bad = tmp_path / 'bad.tflite'
    bad.write_bytes(bytes(data[:len(data) // 3]))
    proc = cli('inspect', bad, check=False)
    assert proc.returncode == 2
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.startswith('tinyml: error: ') and len(proc.stderr.splitlines()) == 1


def inspect_json(path, *extra, status=0):
    proc = cli('inspect', path, '--json', *extra, check=False)
    assert proc.returncode == status, proc.stderr
    return json.loads(proc.stdout)


def test_inspect_json_reports_hand_computed_macs_and_weights(tmp_path):
    path = tmp_path / 'm.tflite'
    path.write_bytes(conv_dw_fc_model())
    report = inspect_json(path)
    assert [o['macs'] for o in report['ops']] == HAND_MACS
    assert [o['weight_bytes'] for o in report['ops']] == HAND_WEIGHTS
    assert report['totals']['macs'] == sum(HAND_MACS)
    assert report['supported'] and report['unsupported'] == []
    assert report['totals']['arena_bytes'] >= report['totals']['peak_bytes'] > 0


def test_inspect_arena_equals_model_arena_on_the_unix_port(mp, tmp_path):
    path = tmp_path / 'm.tflite'
    path.write_bytes(conv_dw_fc_model())
    report = inspect_json(path)
    arena = mp.json('import tinyml, json; print(json.dumps(tinyml.load(%r).arena_bytes))'
                    % str(path))
    assert report['totals']['arena_bytes'] == arena


def unsupported_model():
    b = ModelBuilder()
    x = b.tensor('float32', (1, 4))
    y = b.tensor('float32', (1, 4))
    z = b.tensor('float32', (1, 4))
    b.op('ATAN2', [x, x], [y])
    b.op('FancyCustomOp', [y], [z], custom=b'\x00')
    return b.build(inputs=[x], outputs=[z])


def test_inspect_flags_every_unsupported_op_with_its_reason(tmp_path):
    path = tmp_path / 'u.tflite'
    path.write_bytes(unsupported_model())
    report = inspect_json(path)
    assert not report['supported']
    assert [(u['index'], u['op']) for u in report['unsupported']] == [(0, 'ATAN2'),
                                                                     (1, 'FancyCustomOp')]
    assert all('not supported' in u['reason'] for u in report['unsupported'])
    text = cli('inspect', path).stdout
    assert 'tinyml cannot run this model' in text and 'ATAN2 (node 0)' in text


def test_inspect_plot_writes_a_png_of_the_plot_size(tmp_path):
    path = tmp_path / 'm.tflite'
    path.write_bytes(conv_dw_fc_model())
    png = tmp_path / 'arena.png'
    cli('inspect', path, '--plot', png)
    assert plot.png_size(png.read_bytes()) == (900, 500)


def write_board(folder, name, ram, fs):
    profile = dict(name=name, title=name, firmware='micropython', cpu='test', clock_mhz=1,
                   ram_bytes=ram, flash_bytes=fs, fs_bytes=fs, romfs=False, transport='serial',
                   backend='python', mpy_arch='armv6m', circuitpython=False)
    (folder / (name + '.json')).write_text(json.dumps(profile))


def test_board_fit_verdict_follows_ram_and_storage(tmp_path, monkeypatch):
    path = tmp_path / 'm.tflite'
    path.write_bytes(conv_dw_fc_model())
    boards = tmp_path / 'boards'
    boards.mkdir()
    monkeypatch.setenv('TINYML_BOARDS_DIR', str(boards))
    write_board(boards, 'probe', 1 << 30, 1 << 20)
    report = inspect_json(path, '--board', 'probe')
    need = report['fit']['ram_need']
    assert report['fit']['ram_how'].startswith('measured on the unix port')
    write_board(boards, 'roomy', need, 1 << 20)
    write_board(boards, 'tight', need - 1, 1 << 20)
    write_board(boards, 'nofs', 1 << 20, report['model_bytes'] - 1)
    assert inspect_json(path, '--board', 'roomy')['fit']['fits'] is True
    assert inspect_json(path, '--board', 'tight', status=1)['fit']['fits'] is False
    assert inspect_json(path, '--board', 'nofs', status=1)['fit']['fits'] is False
    text = cli('inspect', path, '--board', 'tight', check=False).stdout
    assert 'does NOT fit' in text and 'TOO BIG' in text
    proc = cli('inspect', path, '--board', 'no-such-board', check=False)
    assert proc.returncode == 2 and 'unknown board' in proc.stderr


CORPUS = corpus_models()


@pytest.mark.parametrize('name', CORPUS)
def test_inspect_arena_equals_device_arena_on_corpus(name, zoo, mp):
    path = zoo / (name + '.tflite')
    report = inspect_json(path)
    assert report['totals']['ops'] == len(report['ops']) > 0
    if not report['supported']:
        pytest.skip('tinyml cannot run %s: %s' % (name, report['unsupported'][0]['reason']))
    arena = mp.json('import tinyml, json; print(json.dumps(tinyml.load(%r).arena_bytes))'
                    % str(path), heapsize=64 << 20)
    assert report['totals']['arena_bytes'] == arena


def test_measured_ram_need_covers_model_arena_and_runtime(tmp_path, mp):
    """The measured need is what the unix port keeps: more than model bytes + arena."""
    from tinyml_host import fit
    path = tmp_path / 'm.tflite'
    path.write_bytes(conv_dw_fc_model())
    measured = fit.measure_heap(str(path), 'python')
    arena = mp.json('import tinyml, json; print(json.dumps(tinyml.load(%r).arena_bytes))'
                    % str(path))
    assert measured['model_bytes'] == len(path.read_bytes())
    assert measured['total'] > measured['model_bytes'] + arena + measured['runtime']
    assert measured['backend'] == 'python'


def test_unsupported_model_gets_an_estimated_fit(tmp_path, monkeypatch):
    boards = tmp_path / 'boards'
    boards.mkdir()
    monkeypatch.setenv('TINYML_BOARDS_DIR', str(boards))
    write_board(boards, 'big', 1 << 30, 1 << 30)
    path = tmp_path / 'u.tflite'
    path.write_bytes(unsupported_model())
    report = inspect_json(path, '--board', 'big', status=1)
    assert report['fit']['ram_how'] == 'estimated' and not report['fit']['fits']


def test_inspect_reads_a_converted_model_like_its_tflite(tmp_path):
    tflite = tmp_path / 'm.tflite'
    tflite.write_bytes(conv_dw_fc_model())
    tmdl = tmp_path / 'm.tmdl'
    cli('convert', tflite, '-o', tmdl)
    a, b = inspect_json(tflite), inspect_json(tmdl)
    assert a['ops'] == b['ops'] and a['totals']['arena_bytes'] == b['totals']['arena_bytes']
    assert b['model_bytes'] == tmdl.stat().st_size < a['model_bytes']
