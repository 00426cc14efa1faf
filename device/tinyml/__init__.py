"""tinyml: int8 TFLite models on microcontrollers, bit-exact with TFLite Micro.

    m = tinyml.load(path_or_buffer); m.set_input(0, buf); m.invoke(); m.get_output(0)
"""
from .errors import ModelError, UnsupportedOpError


def load(src, **kw):
    from .model import load as _load
    return _load(src, **kw)


def _kernels():
    try:
        import tinyml.kernels as k
    except ImportError:
        return None
    return k if hasattr(k, 'use_backend') else None


def _current_backend():
    k = _kernels()
    name = getattr(k, 'backend', 'python') if k is not None else 'python'
    return name() if callable(name) else name


def use_backend(name):
    """Select the kernel backend ('python', 'viper', 'native') for models loaded afterwards."""
    global backend
    k = _kernels()
    if k is None:
        if name != 'python':
            raise ValueError('backend %r not available' % name)
    else:
        k.use_backend(name)
    backend = _current_backend()


backend = _current_backend()
