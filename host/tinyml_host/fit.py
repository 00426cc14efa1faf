"""Does a model fit a board? RAM need vs the board's free heap, model bytes vs its storage.

RAM need is measured, not guessed, whenever tinyml can run the model: the MicroPython unix port
imports tinyml, selects the board's kernel backend, loads the model and reports the heap this
kept (gc.mem_alloc growth: modules, model bytes, prepared ops, re-laid weights, arena, state).
The unix port is 64-bit, so this is an upper bound for a 32-bit board (objects there are
smaller; byte buffers are the same). With ROMFS the model bytes stay in flash and are not
counted. Without a measurement (unsupported ops, no unix port) the need is estimated as
arena + model bytes + RUNTIME_BYTES + OP_BYTES per op and marked as an estimate.
Board figures come from boards/<name>.json (tinyml_host.boards).
"""
import json
import os
import subprocess

from .term import UserError, fmt_bytes

# Estimates for a 32-bit board (also used by deploy.py): `import tinyml` keeps 113 KiB on the
# 64-bit unix port (measured 2026-11); objects there are about twice their 32-bit size.
RUNTIME_BYTES = 64 * 1024
OP_BYTES = 1024               # per prepared op (closures, views, parameter blocks)

MEASURE_SCRIPT = r'''
import gc, json
gc.collect()
a0 = gc.mem_alloc()
import tinyml
try:
    tinyml.use_backend(%(backend)r)
except ValueError:
    pass
with open(%(path)r, 'rb') as f:
    data = f.read()
gc.collect()
a1 = gc.mem_alloc()
m = tinyml.load(data)
gc.collect()
a2 = gc.mem_alloc()
print(json.dumps({'total': a2 - a0, 'model_bytes': len(data), 'runtime': a1 - a0 - len(data),
                  'prepared': a2 - a1, 'backend': tinyml.backend}))
'''


def board_profile(name):
    try:
        from . import boards
    except ImportError:
        raise UserError('--board needs tinyml_host.boards, not in this install')
    try:
        return boards.get(name)
    except Exception as e:  # boards.BoardNotFound: unknown name
        raise UserError(str(e))


def measure_heap(model_path, backend):
    """Heap the unix port keeps for this model (dict), or None when it cannot load it."""
    from . import unixport
    try:
        exe = unixport.micropython_binary()
    except UserError:
        return None
    size = os.path.getsize(model_path)
    cmd = [exe, '-X', 'heapsize=%d' % (4 * size + (64 << 20)), '-c',
           MEASURE_SCRIPT % dict(backend=backend, path=os.path.abspath(model_path))]
    proc = unixport.run_with_spinner(cmd, dict(os.environ, MICROPYPATH=unixport.micropypath()),
                                     'measuring heap')
    lines = proc.stdout_text.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return None
    try:
        return json.loads(lines[-1])
    except ValueError:
        return None


def estimated_need(report, romfs):
    t = report['totals']
    arena = t['arena_bytes'] or 0
    model_copy = 0 if romfs else report['model_bytes']
    return arena + model_copy + RUNTIME_BYTES + OP_BYTES * t['ops']


def ram_need(report, romfs, measured):
    """(bytes, how) where how is 'measured on the unix port' or 'estimated'."""
    if measured is None:
        return estimated_need(report, romfs), 'estimated'
    need = measured['total'] - (measured['model_bytes'] if romfs else 0)
    return need, 'measured on the unix port, %s backend' % measured['backend']


def verdict(name, report, model_path=None):
    """{'board', 'ram_need', 'ram_how', 'ram_bytes', 'storage_need', 'storage_bytes', 'romfs',
    'fits', 'text'}."""
    p = board_profile(name)
    romfs = bool(p.get('romfs'))
    measured = None
    if model_path and report['supported'] and not report['plan_error']:
        measured = measure_heap(model_path, p.get('backend', 'python'))
    ram, how = ram_need(report, romfs, measured)
    storage = p.get('fs_bytes') or p.get('flash_bytes') or 0
    ram_ok = ram <= p['ram_bytes']
    storage_ok = storage == 0 or report['model_bytes'] <= storage
    planned = report['totals']['arena_bytes'] is not None
    runnable = report['supported'] and not report['plan_error']
    fits = ram_ok and storage_ok and planned and runnable
    lines = ['board %s (%s):' % (p['name'], p.get('title', '')),
             '  RAM     %s needed (%s) of %s free heap: %s'
             % (fmt_bytes(ram), how, fmt_bytes(p['ram_bytes']), 'ok' if ram_ok else 'TOO BIG'),
             '  storage %s model on %s: %s'
             % (fmt_bytes(report['model_bytes']),
                'ROMFS/flash' if romfs else fmt_bytes(storage) + ' filesystem',
                'ok' if storage_ok else 'TOO BIG')]
    if not planned:
        lines.append('  no arena plan: the RAM figure excludes the arena')
    if not runnable:
        lines.append('  tinyml cannot run this model (see above): RAM figure is an estimate')
    lines.append('verdict: %s' % ('fits' if fits else 'does NOT fit'))
    return {'board': p['name'], 'ram_need': ram, 'ram_how': how, 'ram_bytes': p['ram_bytes'],
            'storage_need': report['model_bytes'], 'storage_bytes': storage,
            'romfs': romfs, 'fits': fits, 'text': '\n'.join(lines)}
