"""Kernel backend table.

    from tinyml import kernels
    kernels.backend          # 'native' | 'viper' | 'python': the backend in use
    kernels.available()      # backends this port can run, fastest first
    kernels.use_backend(n)   # switch; models loaded afterwards bind the new table
    kernels.table            # object whose attributes are the kernel functions
    kernels.table.scratch_bytes(fn, p)   # arena scratch the call fn(out, a, b, p, s) needs

Every backend has the signatures and output bytes of kernels/python.py; a backend that lacks
a kernel falls back to the python one, whose modules are imported only when a model first asks
for such a kernel (they take tens of KB of heap).
"""
from ..compat import HAS_VIPER, IS_CIRCUITPY

BACKENDS = ('native', 'viper', 'python')


def _no_scratch(fn, p):
    """python and viper kernels allocate what they need themselves."""
    return 0


class Table:
    """The kernel functions of one backend, as attributes; `fallback()` gives the functions
    to fill in on the first lookup of a name the backend lacks."""

    def __init__(self, name, functions, fallback=None):
        self.name = name
        self._fallback = fallback
        self.scratch_bytes = _no_scratch
        for key in functions:
            setattr(self, key, functions[key])

    def __getattr__(self, key):
        fallback = self._fallback
        if fallback is None or key.startswith('_'):
            raise AttributeError(key)
        self._fallback = None
        functions = fallback()
        for name in functions:
            if name not in self.__dict__:
                setattr(self, name, functions[name])
        return getattr(self, key)

    def __repr__(self):
        return '<kernel table %s>' % self.name


def _functions(module):
    """Public kernel functions of a backend module (its KERNELS dict, or its public callables)."""
    found = getattr(module, 'KERNELS', None)
    if found is not None:
        return found
    found = {}
    for key in dir(module):
        if not key.startswith('_'):
            f = getattr(module, key)
            if callable(f) and not isinstance(f, type):
                found[key] = f
    return found


def _python():
    from . import python
    return _functions(python)


def _import(name):
    """The kernel functions of backend `name`; ImportError when this port cannot run it."""
    if name == 'python':
        return _python()
    if name == 'viper':
        if not HAS_VIPER or IS_CIRCUITPY:
            raise ImportError('viper backend needs MicroPython with @micropython.viper')
        from . import viper as module
    elif name == 'native':
        from . import native as module
    else:
        raise ValueError('unknown kernel backend %r (choose from %s)' % (name, ', '.join(BACKENDS)))
    return _functions(module)


def _build(name):
    if name == 'python':
        return Table(name, _python())
    return Table(name, _import(name), _python)


_available = None


def available():
    """Names of the backends that import on this port, fastest first."""
    global _available
    if _available is None:
        found = []
        for name in BACKENDS:
            try:
                _import(name)
                found.append(name)
            except ImportError:
                pass
        _available = found
    return list(_available)


def use_backend(name):
    """Select the backend for models loaded from now on; ValueError/ImportError if unusable."""
    global backend, table
    if name not in BACKENDS:
        raise ValueError('unknown kernel backend %r (choose from %s)' % (name, ', '.join(BACKENDS)))
    table = _build(name)
    backend = name
    return table


def _default():
    for name in BACKENDS:
        try:
            return use_backend(name)
        except ImportError:
            pass
    raise ImportError('no kernel backend available')


backend = 'python'
table = None
_default()
