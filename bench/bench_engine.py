"""Engine section of BENCHMARKS.md: arena plan vs TFLM, load and invoke times per corpus model.

run() -> str (markdown). arena ratio = tinyml m.arena_bytes / TFLM's head (non-persistent)
arena from the corpus catalog; must be <= 1. Invoke time: the unix port on its fastest
backend, one sample after reset.
"""
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / 'device')]

MP_TIMER = r'''
import json, time, tinyml
m = tinyml.load(%r)
m.reset()
m.invoke()
t0 = time.ticks_us()
m.invoke()
print(json.dumps({'us': time.ticks_diff(time.ticks_us(), t0), 'backend': tinyml.backend}))
'''


def _zoo():
    path = os.environ.get('TINYML_MODEL_ZOO')
    return pathlib.Path(path) if path and pathlib.Path(path).is_dir() else None


def _micropython():
    exe = pathlib.Path(sys.executable).parent / 'micropython'
    return str(exe) if exe.exists() else None


def _mp_invoke(exe, model):
    env = dict(os.environ, MICROPYPATH=':'.join([str(ROOT / 'device'),
                                                 str(ROOT / 'native_modules' / 'build' / 'x64')]))
    try:
        proc = subprocess.run([exe, '-X', 'heapsize=64M', '-c', MP_TIMER % str(model)],
                              capture_output=True, text=True, timeout=900, env=env)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError, OSError):
        return None


def run():
    import tinyml
    zoo = _zoo()
    if zoo is None:
        return '## Engine\n\nTINYML_MODEL_ZOO not set: skipped.\n'
    catalog = {m['name']: m for m in json.loads((zoo / 'catalog.json').read_text())['models']}
    exe = _micropython()
    rows = ['| model | tinyml arena | TFLM head | ratio | state bytes | load ms (CPython) '
            '| invoke ms (unix port) |', '|---|---:|---:|---:|---:|---:|---:|']
    worst = 0.0
    for path in sorted(zoo.glob('*.tflite')):
        name = path.stem
        head = catalog.get(name, {}).get('tflm_arena_head')
        t0 = time.perf_counter()
        try:
            m = tinyml.load(path.read_bytes())
        except Exception as e:  # a model whose ops have not landed: say so in the table
            rows.append('| %s | load failed: %s | %s | | | | |' % (name, type(e).__name__, head))
            continue
        load_ms = (time.perf_counter() - t0) * 1000
        ratio = m.arena_bytes / head if head else float('nan')
        worst = max(worst, ratio) if head else worst
        timing = _mp_invoke(exe, path) if exe else None
        invoke = '%.1f (%s)' % (timing['us'] / 1000, timing['backend']) if timing else 'n/a'
        rows.append('| %s | %d | %s | %.3f | %d | %.0f | %s |'
                    % (name, m.arena_bytes, head, ratio, m.state_bytes, load_ms, invoke))
    text = ['## Engine: arena plan and timings', '',
            'tinyml plans activations + scratch greedily by size with 16-byte alignment, '
            'aliasing reshape-likes; variable (state) tensors live outside the arena as in TFLM. '
            'Worst arena ratio vs TFLM head: **%.3f** (must be <= 1).' % worst, ''] + rows
    return '\n'.join(text) + '\n'


if __name__ == '__main__':
    print(run())
