"""Memory section of BENCHMARKS.md: heap kept after load and the smallest heap that loads and
invokes each corpus model, on the MicroPython unix port, vs TFLM's arena.

run() -> str (markdown). Per model:
- kept heap after load + gc.collect(), split into imports (tinyml + tinyml.model + the
  kernel table), file (the model bytes read into RAM), graph (reader output, measured while
  it is alive), Model (everything load keeps besides file and arena), arena and state bytes;
- min heap: the smallest `-X heapsize` (bisection, 1 KiB resolution) at which
  `tinyml.load(path)` + set_input + invoke succeed, for the .tflite and the converted .tmdl;
- ratio: min heap / (model bytes + TFLM's min arena from catalog.json).

The unix port is 64-bit: every object, pointer and small int slot is twice its size on a
32-bit board (RP2040, ESP32), so kept heap of Python objects is roughly halved there; model
bytes and arenas are not. The heapsize also includes the compiled module bytecode (a board
running frozen or .mpy modules keeps most of that out of the heap).
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / 'device'), str(ROOT / 'host')]

MODELS = ('hello_world_int8', 'micro_speech_quantized', 'kws_ref_model', 'person_detect',
          'ad01_int8', 'mnist_lstm_int8', 'keyword_scrambled_8bit', 'audio_preprocessor_int8',
          'pretrainedResnet_quant', 'model_runner_codegen', 'magic_wand')

SPLIT = r'''
import gc, json
gc.collect(); a0 = gc.mem_alloc()
import tinyml
from tinyml import model
gc.collect(); a1 = gc.mem_alloc()
buf = model.source_buffer(%r)
gc.collect(); a2 = gc.mem_alloc()
g = model.read_graph(buf)
gc.collect(); a3 = gc.mem_alloc()
m = model.Model(g)
del g, buf
gc.collect(); a4 = gc.mem_alloc()
m.invoke()
gc.collect(); a5 = gc.mem_alloc()


def steady(invoke):
    gc.collect()
    a = gc.mem_alloc()
    invoke()
    return gc.mem_alloc() - a


st = getattr(m, 'state_bytes', 0)
print(json.dumps({'imports': a1 - a0, 'file': a2 - a1, 'graph': a3 - a2,
                  'model': a4 - a2 - m.arena_bytes - st, 'arena': m.arena_bytes, 'state': st,
                  'kept': a4 - a0, 'first_invoke': a5 - a4, 'invoke_alloc': steady(m.invoke)}))
'''

LOAD = r'''
import tinyml
m = tinyml.load(%r)
for t in m.inputs:
    t.raw[:] = bytes(len(t.raw))
m.invoke()
m.get_output(0)
print('OK')
'''


def _env(device=None):
    return dict(os.environ, MICROPYPATH=':'.join([str(device or ROOT / 'device'),
                                                 str(ROOT / 'native_modules' / 'build' / 'x64')]))


def compile_mpy(dest):
    """device/tinyml compiled with mpy-cross into dest (as a board would hold it); the
    directory, or None without mpy-cross. Modules that do not compile for the host
    architecture (viper) are left out."""
    exe = pathlib.Path(sys.executable).parent / 'mpy-cross'
    if not exe.exists():
        exe = ROOT / '.venv' / 'bin' / 'mpy-cross'
    if not exe.exists():
        return None
    src = ROOT / 'device'
    for py in (src / 'tinyml').rglob('*.py'):
        out = pathlib.Path(dest) / py.relative_to(src).with_suffix('.mpy')
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(exe), '-o', str(out), str(py)], cwd=str(src),
                       capture_output=True, timeout=120)
    return pathlib.Path(dest)


def _micropython():
    exe = pathlib.Path(sys.executable).parent / 'micropython'
    if not exe.exists():
        exe = ROOT / '.venv' / 'bin' / 'micropython'
    return str(exe) if exe.exists() else None


def mp_run(exe, code, heapsize, timeout=600, device=None):
    """(ok, stdout) of code on the unix port with -X heapsize=heapsize."""
    try:
        p = subprocess.run([exe, '-X', 'heapsize=%d' % heapsize, '-c', code],
                           capture_output=True, text=True, timeout=timeout, env=_env(device))
    except subprocess.SubprocessError:
        return False, ''
    return p.returncode == 0, p.stdout


def min_heap(exe, path, lo=16 * 1024, hi=1 << 24, step=1024, device=None):
    """Smallest heapsize (to `step` bytes) at which LOAD succeeds; None if hi fails."""
    code = LOAD % str(path)
    if not mp_run(exe, code, hi, device=device)[0]:
        return None
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if mp_run(exe, code, mid, device=device)[0]:
            hi = mid
        else:
            lo = mid
    return hi


def split(exe, path):
    ok, out = mp_run(exe, SPLIT % str(path), 1 << 24)
    if not ok:
        return None
    return json.loads(out.strip().splitlines()[-1])


def _zoo():
    path = os.environ.get('TINYML_MODEL_ZOO')
    return pathlib.Path(path) if path and pathlib.Path(path).is_dir() else None


def _tmdl(path, tmp):
    try:
        from tinyml_host import convert
        data = convert.convert_bytes(path.read_bytes())
    except Exception:
        return None
    out = pathlib.Path(tmp) / (path.stem + '.tmdl')
    out.write_bytes(data)
    return out


def _k(n):
    return '-' if n is None else '%.1f' % (n / 1024)


def run(models=MODELS):
    zoo = _zoo()
    exe = _micropython()
    if zoo is None or exe is None:
        return '## Memory\n\nTINYML_MODEL_ZOO or the unix port missing: skipped.\n'
    catalog = {m['name']: m for m in json.loads((zoo / 'catalog.json').read_text())['models']}
    rows = ['| model | bytes | TFLM arena | imports | graph | Model | arena | state | kept '
            '| 1st invoke kept | invoke alloc | min heap .tflite | ratio | min heap .tmdl '
            '| ratio | min heap .tflite, .mpy modules | ratio |',
            '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    with tempfile.TemporaryDirectory() as tmp:
        mpy = compile_mpy(pathlib.Path(tmp) / 'mpy')
        for name in models:
            path = zoo / (name + '.tflite')
            if not path.exists() or name not in catalog:
                continue
            size = path.stat().st_size
            tflm = catalog[name].get('tflm_min_arena') or 0
            s = split(exe, path) or {}
            h1 = min_heap(exe, path)
            tm = _tmdl(path, tmp)
            h2 = min_heap(exe, tm) if tm is not None else None
            h3 = min_heap(exe, path, device=mpy) if mpy is not None else None
            base = size + tflm

            def ratio(h):
                return '-' if h is None else '%.2f' % (h / base)
            rows.append('| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s '
                        '| %s | %s | %s | %s |' % (
                            name, size, tflm, _k(s.get('imports')), _k(s.get('graph')),
                            _k(s.get('model')), _k(s.get('arena')), _k(s.get('state')),
                            _k(s.get('kept')), s.get('first_invoke', '-'),
                            s.get('invoke_alloc', '-'), _k(h1), ratio(h1), _k(h2), ratio(h2),
                            _k(h3), ratio(h3)))
    return ('## Memory (MicroPython unix port, 64-bit)\n\n'
            'KiB. imports / graph (reader output while alive) / Model (kept by load besides the '
            'file bytes and arena; the native kernels\' scratch buffer is in it) / arena / '
            'state / kept = heap after load + gc.collect(). '
            '1st invoke kept = bytes the first invoke leaves allocated (0: the kernel scratch '
            'is allocated at load); '
            'invoke alloc = bytes a later invoke allocates (must be 0). '
            'min heap = smallest `-X heapsize` (1 KiB bisection) at which load + invoke '
            'succeed (it moves by some KiB between runs: conservative GC, fragmentation); '
            '.mpy modules: the same with device/tinyml precompiled by mpy-cross (no compiler '
            'peak, as on a board); ratio = min heap / (model bytes + TFLM min arena). The unix port is '
            '64-bit: Python objects are about twice their size on a 32-bit board, and the '
            'heap also holds the compiled bytecode of the imported modules (~120 KiB here; '
            'frozen or .mpy modules on a board keep most of it out of the heap).\n\n'
            + '\n'.join(rows) + '\n')


if __name__ == '__main__':
    print(run(sys.argv[1:] or MODELS))
