"""Host tools bench: `tinyml convert` size ratio, and .tmdl vs .tflite load time and heap on the
MicroPython unix port, per corpus model.

run() -> markdown section. Load time: median of REPEATS loads in one process (after one warm-up
load, so imports are excluded). Heap: gc.mem_alloc() growth kept by the loaded model (after
gc.collect()), i.e. the model file buffer + prepared ops + arena.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
for p in (ROOT / 'device', ROOT / 'host'):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

REPEATS = 5

LOAD_SCRIPT = r'''
import gc, json, time, tinyml
path = %r
m = tinyml.load(path)
del m
times, heaps = [], []
for _ in range(%d):
    gc.collect()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    m = tinyml.load(path)
    t1 = time.ticks_us()
    gc.collect()
    heaps.append(gc.mem_alloc() - a0)
    times.append(time.ticks_diff(t1, t0))
    del m
times.sort()
heaps.sort()
print(json.dumps({'us': times[len(times) // 2], 'heap': heaps[len(heaps) // 2]}))
'''


def micropython():
    exe = pathlib.Path(sys.executable).parent / 'micropython'
    return str(exe) if exe.exists() else 'micropython'


def micropypath():
    return os.environ.get('TINYML_MICROPYPATH') or ':'.join(
        [str(ROOT / 'device'), str(ROOT / 'native_modules' / 'build' / 'x64')])


def measure_load(path, heapsize):
    """{'us', 'heap'} of loading path on the unix port, or {'error': one line}."""
    cmd = [micropython(), '-X', 'heapsize=%d' % heapsize, '-c', LOAD_SCRIPT % (str(path), REPEATS)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, MICROPYPATH=micropypath()))
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ['exit %d' % proc.returncode])[-1]
        return {'error': tail[:90]}
    return json.loads(lines[-1])


def convert_model(tflite):
    from tinyml_host import convert
    return convert.convert_bytes(tflite.read_bytes())


def bench_model(tflite, tmp):
    """One table row for a corpus model."""
    from tinyml_host.term import UserError
    from tinyml.errors import ModelError
    size = tflite.stat().st_size
    try:
        converted = convert_model(tflite)
    except (UserError, ModelError) as e:
        return [tflite.stem, size, '-', '-', '-', '-', '-', '-', 'convert: %s' % str(e)[:60]]
    out = pathlib.Path(tmp) / (tflite.stem + '.tmdl')
    out.write_bytes(converted)
    heapsize = 3 * size + (64 << 20)
    a, b = measure_load(tflite, heapsize), measure_load(out, heapsize)
    note = a.get('error') or b.get('error') or ''
    row = [tflite.stem, size, len(converted), '%.3f' % (len(converted) / float(size))]
    if note:
        return row + ['-', '-', '-', '-', note]
    return row + ['%.1f' % (a['us'] / 1000.0), '%.1f' % (b['us'] / 1000.0),
                  '%.2f' % (b['us'] / float(a['us'])), '%.3f' % (b['heap'] / float(a['heap'])),
                  '']


def markdown_table(headers, rows):
    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join('---' if i == 0 else '---:' for i in range(len(headers))) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def summary(rows):
    ok = [r for r in rows if r[4] != '-']
    if not ok:
        return 'No model loaded in both formats.'
    size = [float(r[3]) for r in ok]
    speed = [float(r[6]) for r in ok]
    heap = [float(r[7]) for r in ok]
    return ('Over %d models: size ratio %.3f-%.3f (max must be <= 1), load time ratio '
            '%.2f-%.2f, heap ratio %.3f-%.3f (.tmdl / .tflite; below 1 is better).'
            % (len(ok), min(size), max(size), min(speed), max(speed), min(heap), max(heap)))


def run():
    from tinyml_host.term import Progress
    zoo = os.environ.get('TINYML_MODEL_ZOO')
    head = '## Host tools: `tinyml convert` (.tmdl vs .tflite)\n\n'
    if not zoo or not os.path.isdir(zoo):
        return head + 'Skipped: TINYML_MODEL_ZOO not set.\n'
    models = sorted(pathlib.Path(zoo).glob('*.tflite'))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Progress(len(models), 'bench_host') as bar:
        for tflite in models:
            rows.append(bench_model(tflite, tmp))
            bar.step(tflite.stem)
    headers = ['model', '.tflite bytes', '.tmdl bytes', 'size ratio', 'load .tflite ms',
               'load .tmdl ms', 'load time ratio', 'heap ratio', 'note']
    return (head + 'MicroPython unix port, median of %d loads per format (after a warm-up load);'
            ' heap = gc.mem_alloc() kept by the loaded model. .tmdl stores the memory plan and'
            ' the per-channel requantization multipliers, so the board skips planning and the'
            ' exact double emulation at load.\n\n' % REPEATS
            + markdown_table(headers, rows) + '\n\n' + summary(rows) + '\n')


if __name__ == '__main__':
    print(run())
