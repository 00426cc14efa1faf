"""Native kernels: the dynamic native module tinyml_kernels.mpy built for this port's arch.

Build with `make -C native_modules`; put build/<arch>/tinyml_kernels.mpy on sys.path
(on a board: copy it to /lib). The module reports the parameter-block ABI it was built for;
a stale .mpy is refused rather than run with a different layout.
"""
ABI = 2

try:
    import tinyml_kernels as _mod
except (ImportError, ValueError, OSError) as e:   # missing, or built for another arch
    raise ImportError('native kernels unavailable: %s' % e)

if getattr(_mod, 'ABI', None) != ABI:
    raise ImportError('tinyml_kernels.mpy has ABI %r, tinyml expects %d: rebuild it'
                      % (getattr(_mod, 'ABI', None), ABI))

KERNELS = {}
for _name in dir(_mod):
    if not _name.startswith('_') and _name != 'ABI':
        KERNELS[_name] = getattr(_mod, _name)
