"""Speed section of BENCHMARKS.md: time per invoke(), tinyml on the unix port vs TFLM (issue 4).

run() -> str (markdown). For every corpus model (TINYML_MODEL_ZOO, else /work/shared/models):

- TFLM: the tflite-micro Python interpreter in this process; only invoke() is timed
  (time.perf_counter around a loop of invokes; repeat count adapted to the model; median of
  several batches);
- tinyml: one MicroPython unix-port process per model and backend (native, viper when the port
  has it, python) that loads the model, sets sample 0's input, warms up, then times invokes with
  time.ticks_us (same adaptation, median of batches). The native process also times every op's
  run step on its own (`Model._runs`, labelled by wrapping each op's bind from a Model
  subclass in the device script: no engine file is touched), which gives the op-family split
  and the per-op cost of ops with tiny tensors (dispatch overhead).

Both engines run on the same host CPU, one after the other, in the same bench run.
"""
import json
import math
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_ZOO = pathlib.Path('/work/shared/models')

BATCHES = 3            # batches per measurement; the median batch is reported
BATCH_S = 0.2          # target seconds per batch (TFLM and native/viper)
PY_BATCH_S = 0.3       # python backend: target seconds per batch
PY_BATCHES = 2
PY_CAP_S = 20.0        # python backend: at most ~this much invoke time per model
PY_SINGLE_S = 1.0     # python backend: a first invoke this slow is the measurement itself
OTHER_CAP_S = 5.0      # viper (any backend but the fastest and python): the same, ~this much
PY_SKIP_S = 60.0       # python backend: skip a model whose single invoke would exceed this
TINY_ELEMS = 64        # an op whose tensors all hold <= this many elements is "tiny"

# One MicroPython process per model + backend. Placeholders: BACKEND, MODEL, INPUTS (list of
# raw-byte file paths), BATCH_US, BATCHES, CAP_US, PROFILE, PROBE_US, SINGLE_US.
MP_SCRIPT = r'''
import gc, json, time, tinyml
from tinyml import model as M
from tinyml import kernels as K
from tinyml.ops import KernelStep
ticks_us = time.ticks_us
diff = time.ticks_diff
tinyml.use_backend(BACKEND)
FAST = set()            # kernel names this backend implements itself (not the python fallback)
if tinyml.backend != 'python':
    FAST = set(K._import(tinyml.backend))


class Spy:
    """The kernel table, noting which kernels each op fetches (ops fetch them at prepare)."""

    def __init__(self, table):
        self._table = table
        self.cur = None
        self.got = {}
        steps = table.__dict__.get('run_steps')
        if steps is not None:
            self.run_steps = steps      # Model.invoke takes it from the instance dict

    def __getattr__(self, name):
        f = getattr(self._table, name)
        self.got.setdefault(self.cur, set()).add(name)
        return f


spy = Spy(K.table)


class Labelled(M.Model):
    """Model whose _labels[k] is the op behind _runs[k] (binds wrapped, engine untouched)."""

    def _prepare(self, op):
        spy.cur = op.index
        return M.Model._prepare(self, op)

    def _bind(self, steps):
        self._labels = []
        labels = self._labels

        def wrap(op, bind):
            def labelled(scratch):      # a KernelStep keeps kernel steps as tuples
                spy.cur = op.index
                step = bind.step(scratch) if isinstance(bind, KernelStep) else bind(scratch)
                if step is not None:
                    labels.append(op)
                return step
            return KernelStep(labelled, getattr(bind, 'kernel_scratch', 0))
        return M.Model._bind(self, [(op, n, wrap(op, bind) if bind is not None else None)
                                    for op, n, bind in steps])


t0 = ticks_us()
m = Labelled(M.read_graph(M.source_buffer(MODEL)), spy)
load_us = diff(ticks_us(), t0)
for i, path in enumerate(INPUTS):
    f = open(path, 'rb')
    m.set_input(i, f.read())
    f.close()
m.reset()
runs = m._runs
out = {'backend': tinyml.backend, 'load_us': load_us, 'ops': len(m.graph.ops),
       'runs': len(runs)}
gc.collect()

# warm-up (= first) invoke, step by step so a slow backend can give up early
t0 = ticks_us()
done = 0
for run in runs:
    run()
    done += 1
    if PROBE_US and diff(ticks_us(), t0) > PROBE_US:
        break
first = diff(ticks_us(), t0)
out['first_us'] = first
out['first_done'] = done
if done < len(runs):
    print(json.dumps(out))
    raise SystemExit

n = max(1, int(BATCH_US // max(first, 1)))
batches = BATCHES
if first * n * batches > CAP_US:
    n = max(1, int(CAP_US // max(first, 1) // batches))
    batches = max(1, min(batches, int(CAP_US // max(first * n, 1))))
if first >= SINGLE_US:
    times = [first]     # the warm-up invoke is the measurement (too slow to repeat)
    n = 1
else:
    times = []
    for _ in range(batches):
        t0 = ticks_us()
        for _ in range(n):
            m.invoke()
        times.append(diff(ticks_us(), t0) / n)
times.sort()
gc.collect()
a0 = gc.mem_alloc()
m.invoke()
out['alloc'] = gc.mem_alloc() - a0     # heap bytes one invoke allocates (less if a GC ran)
out['n'] = n
out['batches'] = len(times)
out['us'] = times[len(times) // 2]

if PROFILE:
    # every run step timed on its own, k calls in a row (k adapted per op)
    def empty():
        pass
    k = 2000
    t0 = ticks_us()
    for _ in range(k):
        empty()
    out['call_us'] = diff(ticks_us(), t0) / k     # bare Python call + loop cost
    prof = []
    for run, op in zip(runs, m._labels):
        t0 = ticks_us()
        run()
        one = max(diff(ticks_us(), t0), 1)
        k = max(1, min(2000, int(PROFILE // one)))
        t0 = ticks_us()
        for _ in range(k):
            run()
        us = diff(ticks_us(), t0) / k
        elems = 0
        for t in tuple(op.inputs) + tuple(op.outputs):
            if t >= 0 and m.tensors[t].data is None:
                s = 1
                for d in m.tensors[t].shape:
                    s *= d
                elems = max(elems, s)
        fast = 1 if spy.got.get(op.index, set()) & FAST else 0
        prof.append((op.name, us, elems, fast, op.index))
    out['profile'] = prof
print(json.dumps(out))
'''


def zoo():
    """The model corpus folder (TINYML_MODEL_ZOO, else /work/shared/models), or None."""
    path = os.environ.get('TINYML_MODEL_ZOO')
    for p in ([pathlib.Path(path)] if path else []) + [DEFAULT_ZOO]:
        if p.is_dir() and any(p.glob('*.tflite')):
            return p
    return None


def micropython():
    exe = pathlib.Path(sys.executable).parent / 'micropython'
    return str(exe) if exe.exists() else None


def sample_inputs(npz_path):
    """Sample 0 of every input in the model's .npz, as numpy arrays (input_0, input_1, ...)."""
    import numpy as np
    with np.load(npz_path, allow_pickle=False) as d:
        keys = sorted((k for k in d.files if k.startswith('input_')), key=lambda k: int(k[6:]))
        return [d[k][0] for k in keys]


def _adapt(once_s, target_s):
    return max(1, int(target_s / max(once_s, 1e-9)))


def tflm_invoke_us(model_path, inputs, batch_s=BATCH_S, batches=BATCHES):
    """Median over batches of TFLM's time per invoke() in µs (only invoke() is timed)."""
    from tflite_micro.python.tflite_micro import runtime
    interp = runtime.Interpreter.from_bytes(pathlib.Path(model_path).read_bytes())
    return _time_interp(interp, inputs, batch_s, batches)


def _time_interp(interp, inputs, batch_s, batches):
    for i, x in enumerate(inputs):
        interp.set_input(x, i)
    t0 = time.perf_counter()
    interp.invoke()                                   # warm-up
    n = _adapt(time.perf_counter() - t0, batch_s)
    times = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(n):
            interp.invoke()
        times.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(times)


def _env():
    return dict(os.environ, MICROPYPATH=':'.join([str(ROOT / 'device'),
                                                 str(ROOT / 'native_modules' / 'build' / 'x64')]))


def mp_backends(exe):
    """Backends the unix port can run, fastest first."""
    code = 'import json\nfrom tinyml import kernels\nprint(json.dumps(kernels.available()))'
    proc = subprocess.run([exe, '-c', code], capture_output=True, text=True, timeout=60,
                          env=_env())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def mp_invoke(exe, model_path, input_files, backend, batch_s=BATCH_S, batches=BATCHES,
              cap_s=1e9, probe_s=0.0, profile_s=0.0, single_s=1e6, heap=96 << 20, timeout=600):
    """Run MP_SCRIPT for one model + backend; its JSON dict (us = median µs per invoke).

    single_s: a first (warm-up) invoke at least this slow is taken as the measurement.
    heap: the unix port's heap in bytes. It matters for ops that allocate (floats are boxed on
    this port): each GC sweeps the whole heap, so a big heap makes them look slower.
    probe_s > 0: give up during the first invoke after that many seconds (first_done < runs).
    profile_s > 0: also time every op's run step (about profile_s seconds per op at most)."""
    code = MP_SCRIPT
    subst = {'BACKEND': repr(backend), 'MODEL': repr(str(model_path)),
             'INPUTS': repr([str(p) for p in input_files]),
             'BATCH_US': repr(int(batch_s * 1e6)), 'BATCHES': repr(int(batches)),
             'CAP_US': repr(int(cap_s * 1e6)), 'PROFILE': repr(int(profile_s * 1e6)),
             'PROBE_US': repr(int(probe_s * 1e6)), 'SINGLE_US': repr(int(single_s * 1e6))}
    code = '\n'.join('%s = %s' % kv for kv in subst.items()) + '\n' + code
    proc = subprocess.run([exe, '-X', 'heapsize=%d' % heap, '-c', code], capture_output=True,
                          text=True, timeout=timeout, env=_env())
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith('{'):
        err = (proc.stderr.strip() + '\n' + proc.stdout.strip()).strip().splitlines() or ['?']
        raise RuntimeError('micropython %s on %s failed: %s' % (
            backend, pathlib.Path(model_path).stem, err[-1]))
    return json.loads(lines[-1])


def family(name):
    """Op family for the profile split."""
    if name in ('CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'SVDF'):
        return name
    if 'LSTM' in name:
        return 'LSTM'
    if name.startswith('Signal'):
        return 'Signal*'
    if name in ('ADD', 'SUB', 'MUL', 'DIV', 'MAXIMUM', 'MINIMUM', 'LOGISTIC', 'TANH', 'SOFTMAX',
                'QUANTIZE', 'DEQUANTIZE', 'CAST'):
        return 'elementwise'
    if 'POOL' in name or name == 'MEAN':
        return 'pool/mean'
    return 'shape/other'


def profile_split(profile):
    """{family: total µs} from a native per-op profile."""
    split = {}
    for entry in profile:
        key = family(entry[0])
        split[key] = split.get(key, 0.0) + entry[1]
    return split


def slow_share(profile):
    """(share of profiled time in ops that use no kernel of the backend itself, {op name: µs})."""
    tot = sum(p[1] for p in profile)
    names = {}
    for name, us, _, fast, _ in profile:
        if not fast:
            names[name] = names.get(name, 0.0) + us
    return (sum(names.values()) / tot if tot else 0.0), names


def _one_op_model(graph, op):
    """(flatbuffer bytes, its arena input tensors) of a model made of op alone (tests/
    tflite_builder.py), constants copied, so TFLM can time that op by itself."""
    for d in (ROOT / 'device', ROOT / 'tests'):
        if str(d) not in sys.path:
            sys.path.append(str(d))
    from tflite_builder import ModelBuilder
    b = ModelBuilder()
    made = {}

    def tensor(i):
        if i < 0:
            return -1
        if i not in made:
            t = graph.tensors[i]
            kw = {'name': t.name}
            if t.scale:
                kw.update(scale=t.scale, zero_point=t.zero_point, qdim=t.qdim)
            if t.data is not None:
                made[i] = b.const(t.dtype, t.shape, bytes(t.data), **kw)
            else:
                made[i] = b.tensor(t.dtype, t.shape, variable=t.is_variable, **kw)
        return made[i]
    ins = [tensor(i) for i in op.inputs]
    outs = [tensor(i) for i in op.outputs]
    b.op(op.name, ins, outs, version=op.version, **op.options)
    feed = [i for i in op.inputs if i >= 0 and graph.tensors[i].data is None
            and not graph.tensors[i].is_variable]
    return b.build(inputs=[made[i] for i in feed], outputs=outs), [graph.tensors[i] for i in feed]


def tflm_op_times(model_path, indices, batch_s=0.03, batches=3):
    """{op index: TFLM µs per invoke of a one-op model holding just that op (random inputs)}.
    Ops TFLM or the builder cannot take alone are left out."""
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime
    for d in (ROOT / 'device', ROOT / 'tests'):
        if str(d) not in sys.path:
            sys.path.append(str(d))
    from tinyml import model as tm
    graph = tm.read_graph(pathlib.Path(model_path).read_bytes())
    rng = np.random.default_rng(0)
    found = {}
    for k in indices:
        op = graph.ops[k]
        if op.custom is not None:
            continue
        try:
            buf, feed = _one_op_model(graph, op)
            interp = runtime.Interpreter.from_bytes(buf, arena_size=64 << 20)
            inputs = []
            for t in feed:
                if t.dtype.startswith('float'):
                    inputs.append(rng.standard_normal(t.shape).astype(t.dtype))
                else:
                    info = np.iinfo(t.dtype)
                    inputs.append(rng.integers(info.min, info.max, size=t.shape, dtype=t.dtype,
                                               endpoint=True))
            found[k] = _time_interp(interp, inputs, batch_s, batches)
        except Exception:
            continue
    return found


def _fmt_us(us):
    if us is None:
        return 'n/a'
    return '%.0f' % us if us >= 100 else '%.1f' % us


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float('nan')


def heap_for(path, catalog=None):
    """A unix-port heap for this model: room for the file, its arena and prepare's tables,
    small enough that GC sweeps stay cheap (MCU-like), in whole MiB."""
    arena = (catalog or {}).get(path.stem, {}).get('tflm_min_arena') or 4 * path.stat().st_size
    need = (1 << 20) + 4 * path.stat().st_size + 4 * arena
    return max(2, -(-need // (1 << 20))) << 20


def _catalog(z):
    try:
        return {m['name']: m for m in json.loads((z / 'catalog.json').read_text())['models']}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def measure_model(exe, backends, path, tmp, log=print, catalog=None):
    """All figures for one model: dict with tflm, native, viper, python results."""
    name = path.stem
    heap = heap_for(path, catalog)
    inputs = sample_inputs(path.with_suffix('.npz'))
    files = []
    for i, x in enumerate(inputs):
        f = pathlib.Path(tmp) / ('%s.in%d.bin' % (name, i))
        f.write_bytes(x.tobytes())
        files.append(f)
    r = {'name': name}
    try:
        r['tflm'] = tflm_invoke_us(path, inputs)
    except Exception as e:   # a model TFLM cannot run: say so
        r['tflm'] = None
        r['tflm_err'] = '%s: %s' % (type(e).__name__, e)
    r['heap'] = heap
    for b in backends:
        if b != backends[0]:
            cap = PY_CAP_S if b == 'python' else OTHER_CAP_S
            kw = dict(batch_s=PY_BATCH_S, batches=PY_BATCHES, cap_s=cap, probe_s=cap,
                      single_s=PY_SINGLE_S)
        else:
            kw = dict(profile_s=0.02 if b == backends[0] else 0)
        try:
            try:
                res = mp_invoke(exe, path, files, b, heap=heap, **kw)
            except RuntimeError as e:
                if 'MemoryError' not in str(e):
                    raise
                r['heap'] = heap = 96 << 20     # estimate too small: the big heap
                res = mp_invoke(exe, path, files, b, heap=heap, **kw)
            r[b] = res
        except Exception as e:
            r[b] = {'error': str(e)[:200]}
    prof = r.get(backends[0], {}).get('profile') if backends else None
    if prof and r['tflm']:
        try:
            r['tflm_ops'] = tflm_op_times(path, [p[4] for p in prof])
        except Exception:       # builder or TFLM unavailable: no per-op comparison
            r['tflm_ops'] = {}
    log('speed: %-36s TFLM %s us, %s' % (name, _fmt_us(r['tflm']), ', '.join(
        '%s %s us' % (b, _fmt_us(r[b].get('us'))) for b in backends)))
    return r


def python_estimate(res_py, res_native):
    """Estimated full python-backend invoke (µs) when the probe gave up after k runs:
    elapsed / (share of the native per-op profile those k runs take)."""
    prof = res_native.get('profile')
    k = res_py.get('first_done', 0)
    if not prof or not k:
        return None
    total = sum(p[1] for p in prof)
    part = sum(p[1] for p in prof[:k])
    return res_py['first_us'] * total / part if part > 0 else None


def run():
    z = zoo()
    if z is None:
        return ('## Invoke time vs TFLM (unix port)\n\n'
                'No model corpus (TINYML_MODEL_ZOO): skipped.\n')
    exe = micropython()
    if exe is None:
        return '## Invoke time vs TFLM (unix port)\n\nNo micropython unix port in .venv: skipped.\n'
    t_start = time.time()
    backends = mp_backends(exe)
    results = []
    catalog = _catalog(z)
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(z.glob('*.tflite')):
            if not path.with_suffix('.npz').exists():
                continue
            results.append(measure_model(exe, backends, path, tmp, catalog=catalog))
    return report(results, backends, time.time() - t_start)


def _cell(r, b):
    """python/viper column cell: ratio to native, or why not."""
    nat = r.get('native', {}).get('us')
    res = r.get(b)
    if res is None:
        return 'n/a'
    if 'error' in res:
        return 'failed'
    if res.get('us') is None:
        est = python_estimate(res, r.get('native', {}))
        if est is None:
            return 'gave up after %.0f s' % (res['first_us'] / 1e6)
        how = '~%.0f s/invoke est. from %d/%d run steps in %.0f s' % (
            est / 1e6, res['first_done'], res['runs'], res['first_us'] / 1e6)
        if est > PY_SKIP_S * 1e6:
            return 'skipped (%s)' % how
        return '~%.0f (not timed in full: %s)' % (est / nat, how) if nat else how
    return '%.1f' % (res['us'] / nat) if nat else '%s us' % _fmt_us(res['us'])


def report(results, backends, elapsed_s):
    main = backends[0] if backends else 'native'
    lines = ['## Invoke time vs TFLM (unix port)', '',
             'Time per `invoke()` in µs. TFLM = the tflite-micro Python interpreter (reference '
             'kernels, x86-64), timed in the bench process around `invoke()` only; tinyml = the '
             'MicroPython unix port, one process per model and backend, sample 0 input, one '
             'warm-up invoke then `time.ticks_us` around N invokes. N adapts to the model '
             '(~%.1f s per batch) and the median of %d batches is shown. Both engines run on the '
             'same host CPU, one after the other, in this bench run (a shared machine: expect '
             '10-20%% noise). Backends on this port: %s. Slower backends: %d batches of ~%.1f s, '
             'a first invoke >= %.0f s is itself the measurement; one still unfinished after '
             '%.0f s (python; others %.0f s) is given up and its full invoke estimated from the '
             '%s per-op profile '
             '(skipped above %.0f s). Heap (`-X heapsize`): 1 MiB + 4 x (model file + TFLM min '
             'arena), at least 2 MiB, MCU-like so that GC sweeps (ops that allocate, e.g. boxed '
             'floats) cost what they would on a board, not what a 96 MiB heap costs.'
             % (BATCH_S, BATCHES, ', '.join(backends), PY_BATCHES, PY_BATCH_S, PY_SINGLE_S,
                PY_CAP_S, OTHER_CAP_S, main, PY_SKIP_S), '',
             '"no-%s share" = the part of the %s per-op profile spent in ops that use no %s '
             'kernel (they run their Python implementation on every backend).' % (main, main, main),
             '']
    head = '| model | ops (run steps) | TFLM µs | tinyml %s µs | %s/TFLM |' % (main, main)
    sep = '|---|---:|---:|---:|---:|'
    for b in backends[1:]:
        head += ' %s/%s |' % (b, main)
        sep += '---:|'
    head += ' no-%s share | top op families (share of %s time) |' % (main, main)
    sep += '---:|---|'
    lines += [head, sep]
    ratios = []
    above = []
    tiny = []
    for r in results:
        nat = r.get(main, {})
        prof = nat.get('profile') or []
        ratio = None
        if r.get('tflm') and nat.get('us'):
            ratio = nat['us'] / r['tflm']
            ratios.append(ratio)
            if ratio > 1.0:
                above.append((r, ratio))
        split = profile_split(prof)
        tot = sum(split.values())
        top = sorted(split.items(), key=lambda kv: -kv[1])[:2]
        topcell = ', '.join('%s %.0f%%' % (k, 100 * v / tot) for k, v in top) if tot else ''
        for name, us, elems, fast, _ in prof:
            if elems <= TINY_ELEMS and fast:
                tiny.append(us)
        tflm = _fmt_us(r['tflm']) if r.get('tflm') else 'failed'
        row = '| %s | %s (%s) | %s | %s | %s |' % (
            r['name'], nat.get('ops', '?'), nat.get('runs', '?'), tflm,
            _fmt_us(nat.get('us')) if 'error' not in nat else 'failed',
            '**%.2f**' % ratio if ratio is not None and ratio > 1 else
            ('%.2f' % ratio if ratio is not None else 'n/a'))
        for b in backends[1:]:
            row += ' %s |' % _cell(r, b)
        row += ' %s | %s |' % ('%.0f%%' % (100 * slow_share(prof)[0]) if prof else '', topcell)
        lines.append(row)
    gm = _geomean(ratios)
    fast_only = [x for r, x in zip([r for r in results if r.get('tflm') and
                                    r.get(main, {}).get('us')], ratios)
                 if slow_share(r[main].get('profile') or [])[0] < 0.5]
    lines += ['', '**Geometric mean %s/TFLM over %d models: %.3f** (target <= 0.5); '
              'over the %d models that spend < 50%% of their time in ops without a %s kernel: '
              '%.3f. Models above 1.0: %d%s.' % (
                  main, len(ratios), gm, len(fast_only), main, _geomean(fast_only), len(above),
                  (' (' + ', '.join('%s %.2f' % (r['name'], x) for r, x in above) + ')')
                  if above else '')]
    tiny_us = statistics.median(tiny) if tiny else None
    calls = [r[main]['call_us'] for r in results if r.get(main, {}).get('call_us')]
    call_us = statistics.median(calls) if calls else None
    hw = next((r for r in results if r['name'] == 'hello_world_int8'), None)
    tflm_op = (hw['tflm'] / hw[main]['ops']) if hw and hw.get('tflm') and \
        hw.get(main, {}).get('ops') else None
    lines += ['', 'Dispatch overhead: ops that use a %s kernel and whose tensors all hold <= %d '
              'elements take **%s µs** per op (median of %d such ops over the corpus; that is '
              'closure + kernel call + the binding\'s buffer checks + a few MACs; a bare Python '
              'call in the same loop: %s µs). TFLM: hello_world_int8 (3 tiny FULLY_CONNECTED) '
              'takes %s µs per op, its Python->C++ invoke() call included.'
              % (main, TINY_ELEMS, _fmt_us(tiny_us), len(tiny),
                 '%.2f' % call_us if call_us else 'n/a', _fmt_us(tflm_op))]
    lines += op_type_table(results, main)
    if above:
        lines += ['', 'Why these models are above 1.0 (from the %s per-op profile, each op '
                  'timed alone):' % main, '']
        for r, ratio in above:
            lines.append('- ' + explain(r, ratio, main, tiny_us, tflm_op))
    lines += ['', 'Section run time: %.0f s.' % elapsed_s]
    return '\n'.join(lines) + '\n'


def op_types(r, main):
    """{op name: [count, tinyml µs, TFLM µs, uses a main kernel]} over the ops of one model
    that TFLM also timed alone."""
    got = {}
    one = r.get('tflm_ops') or {}
    for name, us, _, fast, index in r.get(main, {}).get('profile') or []:
        tf = one.get(index, one.get(str(index)))
        if tf is None:
            continue
        e = got.setdefault(name if fast else name + ' (no %s kernel)' % main, [0, 0.0, 0.0, fast])
        e[0] += 1
        e[1] += us
        e[2] += tf
    return got


def op_type_table(results, main):
    total = {}
    for r in results:
        for name, (n, us, tf, fast) in op_types(r, main).items():
            e = total.setdefault((name.split(' ')[0], fast), [0, 0.0, 0.0])
            e[0] += n
            e[1] += us
            e[2] += tf
    if not total:
        return []
    lines = ['', 'Where the time goes, per op type over the corpus: every op of every model timed '
             'alone, tinyml %s (its per-op profile) vs TFLM (a one-op model built from that op, '
             'random inputs; TFLM\'s ~1 µs invoke() call included). An op type appears twice when '
             'some of its instances (dtype, shape) have a %s kernel and others do not. Sorted by '
             'the time tinyml spends beyond TFLM.' % (main, main), '',
             '| op type | ops | %s kernel | tinyml µs (sum) | TFLM µs (sum) | tinyml/TFLM | '
             'excess µs |' % main, '|---|---:|---|---:|---:|---:|---:|']
    for (name, fast), (n, us, tf) in sorted(total.items(), key=lambda kv: -(kv[1][1] - kv[1][2])):
        lines.append('| %s | %d | %s | %s | %s | %s | %s |' % (
            name, n, 'yes' if fast else 'no', _fmt_us(us), _fmt_us(tf),
            '%.2f' % (us / tf) if tf > 0 else 'n/a', _fmt_us(us - tf)))
    return lines


def explain(r, ratio, main, tiny_us, tflm_op):
    nat = r[main]
    prof = nat.get('profile') or []
    tot = sum(p[1] for p in prof) or 1.0
    parts = []
    share, slow = slow_share(prof)
    if share >= 0.05:
        parts.append('%.0f%% of its time in ops with no %s kernel (%s)' % (
            100 * share, main, ', '.join('%s %.0f%%' % (k, 100 * v / tot) for k, v in
                                         sorted(slow.items(), key=lambda kv: -kv[1])[:3])))
    if tiny_us:
        over = nat['runs'] * tiny_us
        if over >= 0.2 * nat['us']:
            parts.append('dispatch: %d run steps x %s µs = %.0f%% of its %s µs (TFLM: %d ops '
                         'x ~%s µs)' % (nat['runs'], _fmt_us(tiny_us), 100.0 * over / nat['us'],
                                        _fmt_us(nat['us']), nat['ops'], _fmt_us(tflm_op)))
    fast = [p for p in prof if p[3]]
    if fast and share < 0.5:
        split = sorted(profile_split(fast).items(), key=lambda kv: -kv[1])
        parts.append('%s-kernel ops: ' % main + ', '.join(
            '%s %.0f%%' % (k, 100 * v / tot) for k, v in split[:2]))
    types = op_types(r, main)
    if types:
        top = sorted(types.items(), key=lambda kv: -kv[1][1])[:4]
        parts.append('each op alone vs TFLM: ' + ', '.join(
            '%s %s%.2fx (%s vs %s µs)' % (k, '%d x ' % v[0] if v[0] > 1 else '', v[1] / v[2],
                                        _fmt_us(v[1]), _fmt_us(v[2]))
            for k, v in top if v[2] > 0))
    if nat.get('alloc', 0) > 0:
        parts.append('allocates %.0f KB per invoke (boxed floats/big ints: GC time)'
                     % (nat['alloc'] / 1024.0))
    worst = sorted(prof, key=lambda p: -p[1])[:2]
    if worst:
        parts.append('slowest ops: ' + ', '.join('%s %s µs (%d elems%s)' % (
            p[0], _fmt_us(p[1]), p[2], '' if p[3] else ', no %s kernel' % main) for p in worst))
    return '%s (%.2f): %s.' % (r['name'], ratio, '; '.join(parts))


if __name__ == '__main__':
    print(run())
