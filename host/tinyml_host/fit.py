"""Does a model fit a board? RAM (arena + model copy + runtime) vs heap, model vs storage.

The board figures come from boards/<name>.json (tinyml_host.boards). RAM need:
  arena (the plan) + the model bytes when they must be read into RAM (no ROMFS)
  + RUNTIME_BYTES (imported tinyml modules) + OP_BYTES per op (prepared op objects).
Storage need: the model file on the filesystem (or in ROMFS where the board has it).
"""
from .term import UserError, fmt_bytes

RUNTIME_BYTES = 48 * 1024     # tinyml modules imported as .mpy, measured order of magnitude
OP_BYTES = 768                # per prepared op: closures, views, parameter blocks


def board_profile(name):
    try:
        from . import boards
    except ImportError:
        raise UserError('--board needs tinyml_host.boards, not in this install')
    try:
        return boards.get(name)
    except Exception as e:  # boards.BoardNotFound: unknown name
        raise UserError(str(e))


def ram_need(report, romfs):
    t = report['totals']
    arena = t['arena_bytes'] or 0
    model_copy = 0 if romfs else report['model_bytes']
    return arena + model_copy + RUNTIME_BYTES + OP_BYTES * t['ops']


def verdict(name, report):
    """{'board', 'ram_need', 'ram_bytes', 'storage_need', 'storage_bytes', 'fits', 'text'}."""
    p = board_profile(name)
    romfs = bool(p.get('romfs'))
    ram = ram_need(report, romfs)
    storage = p.get('fs_bytes') or p.get('flash_bytes') or 0
    ram_ok = ram <= p['ram_bytes']
    storage_ok = storage == 0 or report['model_bytes'] <= storage
    planned = report['totals']['arena_bytes'] is not None
    fits = ram_ok and storage_ok and planned
    lines = ['board %s (%s):' % (p['name'], p.get('title', '')),
             '  RAM     %s needed of %s free heap: %s'
             % (fmt_bytes(ram), fmt_bytes(p['ram_bytes']), 'ok' if ram_ok else 'TOO BIG'),
             '  storage %s model on %s: %s'
             % (fmt_bytes(report['model_bytes']),
                'ROMFS/flash' if romfs else fmt_bytes(storage) + ' filesystem',
                'ok' if storage_ok else 'TOO BIG')]
    if not planned:
        lines.append('  no arena plan (unsupported ops): RAM figure excludes the arena')
    lines.append('verdict: %s' % ('fits' if fits else 'does NOT fit'))
    return {'board': p['name'], 'ram_need': ram, 'ram_bytes': p['ram_bytes'],
            'storage_need': report['model_bytes'], 'storage_bytes': storage,
            'romfs': romfs, 'fits': fits, 'text': '\n'.join(lines)}
