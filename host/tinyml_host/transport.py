"""Talk to a MicroPython board over its raw REPL.

    board = open_board("/dev/ttyACM0", transport="mpremote")   # or "ampy"; socket://h:p too
    board.exec("print(1)")            -> "1\\n"  (BoardError if the code raised on the board)
    board.eval("1+1")                 -> 2     (a Python literal, via repr)
    board.put(data, "/lib/x.mpy", progress=None)   write bytes (progress(done, total))
    board.get(path) -> bytes          board.sha256(path) -> hex str or None if missing
    board.sha256_many(paths) -> {path: hex or None}
    board.listdir(path="/")  board.stat(path) -> (mode, size) or None
    board.walk(path) -> [every file below path]
    board.rename(old, new)   board.rename_many([(old, new), ...])  (one exec: all or nothing)
    board.remove(path)   board.makedirs(path)
    board.statvfs(path="/") -> os.statvfs tuple; board.free_bytes(path="/")
    board.board_info() -> {"implementation", "version", "platform", "machine", "mpy",
                           "mpy_arch", "mem_free", "romfs"}
    board.soft_reset(); board.close()       (also a context manager)

Errors: LinkError (no board, link lost: from transport_links), BoardError (code raised).
`run_model(port, model_path, inputs, ...)` serves `tinyml run --port`.
"""
import ast
import binascii
import hashlib
import json

from .transport_links import LINKS, LinkError

__all__ = ["open_board", "Board", "BoardError", "LinkError", "run_model"]

CHUNK = 2048  # raw bytes per exec when writing a file

_HASH_FN = """
def _tm_sha(p):
    import hashlib, binascii
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(1024)
    with f:
        while True:
            n = f.readinto(b)
            if not n:
                break
            h.update(memoryview(b)[:n] if n < 1024 else b)
    return binascii.hexlify(h.digest()).decode()
"""

_INFO = """
import sys, gc
try:
    import os
    _u = os.uname()
    _m = _u.machine
except (ImportError, AttributeError):
    _m = ''
try:
    import vfs
    _r = hasattr(vfs, 'rom_ioctl')
except ImportError:
    _r = False
_i = sys.implementation
print(repr({'implementation': _i.name, 'version': '.'.join(str(v) for v in _i.version[:3]),
 'platform': sys.platform, 'machine': getattr(_i, '_machine', '') or _m,
 'mpy': getattr(_i, '_mpy', None), 'mem_free': gc.mem_free(), 'romfs': _r}))
"""


class BoardError(Exception):
    """Code run on the board raised; the message is the last line of its traceback."""

    def __init__(self, traceback_text):
        self.traceback = traceback_text
        lines = [ln for ln in traceback_text.strip().splitlines() if ln.strip()]
        super().__init__(lines[-1] if lines else "board error")


def _b64(data):
    return binascii.b2a_base64(data).strip().decode()


class Board:
    """A board reached over a raw-REPL link (see transport_links)."""

    def __init__(self, link, port=""):
        self.link = link
        self.port = port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.link.close()

    def soft_reset(self):
        self.link.soft_reset()

    def exec(self, code, timeout=30):
        out, err = self.link.exec_raw(code.encode() if isinstance(code, str) else code, timeout)
        if err:
            raise BoardError(err.decode("utf-8", "replace"))
        return out.decode("utf-8", "replace").replace("\r\n", "\n")

    def eval(self, expr, timeout=30):
        return ast.literal_eval(self.exec("print(repr(%s))" % expr, timeout).strip())

    def board_info(self):
        info = ast.literal_eval(self.exec(_INFO).strip().splitlines()[-1])
        from .boards import mpy_arch_of
        info["mpy_arch"] = mpy_arch_of(info.get("mpy"))
        return info

    # --- files ---------------------------------------------------------------------------
    def put(self, data, remote_path, progress=None):
        """Write data to remote_path (creating its folders) in CHUNK-sized execs."""
        self.makedirs(remote_path.rpartition("/")[0])
        self.exec("import binascii\n_tm_f = open(%r, 'wb')" % remote_path)
        try:
            done = 0
            for i in range(0, len(data), CHUNK):
                piece = data[i:i + CHUNK]
                self.exec("_tm_f.write(binascii.a2b_base64(%r))" % _b64(piece))
                done += len(piece)
                if progress:
                    progress(done, len(data))
        except BoardError:
            self._close_remote_file()
            raise
        self.exec("_tm_f.close()\ndel _tm_f")  # a full fs may only show at the last flush
        if progress and not data:
            progress(0, 0)

    def _close_remote_file(self):
        try:
            self.exec("_tm_f.close()\ndel _tm_f")
        except BoardError:
            pass

    def get(self, remote_path):
        code = ("import binascii\nwith open(%r, 'rb') as f:\n while True:\n"
                "  b = f.read(1536)\n  if not b: break\n"
                "  print(binascii.b2a_base64(b).decode().strip())" % remote_path)
        return b"".join(binascii.a2b_base64(ln) for ln in self.exec(code).split())

    def sha256_many(self, paths):
        if not paths:
            return {}
        code = _HASH_FN + "print(repr({p: _tm_sha(p) for p in %r}))" % (list(paths),)
        return ast.literal_eval(self.exec(code, timeout=120).strip().splitlines()[-1])

    def sha256(self, remote_path):
        return self.sha256_many([remote_path])[remote_path]

    def stat(self, remote_path):
        code = ("import os\ntry:\n s = os.stat(%r)\n print(repr((s[0], s[6])))\n"
                "except OSError:\n print(None)" % remote_path)
        return ast.literal_eval(self.exec(code).strip())

    def listdir(self, remote_path="/"):
        return self.eval("__import__('os').listdir(%r)" % remote_path)

    def rename(self, old, new):
        self.exec("import os\nos.rename(%r, %r)" % (old, new))

    def rename_many(self, pairs):
        """Rename every (old, new) in one exec: once the board has the command it finishes it
        even if the link drops, so the switch to new files is all-or-nothing in practice."""
        self.exec("import os\nfor _a, _b in %r:\n os.rename(_a, _b)" % (list(pairs),))

    def walk(self, remote_path):
        """Every file below remote_path (full paths), [] if it does not exist."""
        code = ("import os\ndef _tm_walk(d):\n try:\n  es = list(os.ilistdir(d))\n"
                " except OSError:\n  return []\n out = []\n for e in es:\n"
                "  p = d.rstrip('/') + '/' + e[0]\n"
                "  out += _tm_walk(p) if e[1] & 0x4000 else [p]\n return out\n"
                "print(repr(_tm_walk(%r)))" % remote_path)
        return ast.literal_eval(self.exec(code).strip().splitlines()[-1])

    def remove(self, remote_path):
        self.exec("import os\nos.remove(%r)" % remote_path)

    def makedirs(self, remote_path):
        parts = [p for p in remote_path.split("/") if p]
        if not parts:
            return
        code = ("import os\n_p = %r\nfor _i in range(1, len(_p) + 1):\n"
                " try:\n  os.mkdir(%r + '/'.join(_p[:_i]))\n except OSError:\n  pass"
                % (parts, "/" if remote_path.startswith("/") else ""))
        self.exec(code)

    def statvfs(self, remote_path="/"):
        return tuple(self.eval("__import__('os').statvfs(%r)" % remote_path))

    def free_bytes(self, remote_path="/"):
        st = self.statvfs(remote_path)
        return st[0] * st[3]


def open_board(port, transport="mpremote", timeout=10, soft_reset=True):
    """Connect to the board on `port` with the named host library -> Board."""
    if transport not in LINKS:
        raise ValueError("unknown transport %r (use %s)" % (transport, " or ".join(LINKS)))
    return Board(LINKS[transport](port, timeout=timeout, soft_reset=soft_reset), port)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# --- tinyml run --port -----------------------------------------------------------------------
RUN_MODEL = "tinyml_run.model"  # relative: the board's working directory (/flash on some)
RUN_INPUT = "tinyml_run.in"
_RUN_SCRIPT = """
import gc, json, sys, time, binascii
import tinyml
if %(backend)r:
    tinyml.use_backend(%(backend)r)
gc.collect()
_a0 = gc.mem_alloc()
_t0 = time.ticks_us()
_m = tinyml.load(%(model)r)
_t1 = time.ticks_us()
gc.collect()
_heap = gc.mem_alloc() - _a0
with open(%(input)r, 'rb') as f:
    for _i, _n in enumerate(%(sizes)r):
        _m.set_input(_i, f.read(_n))
_times = []
for _r in range(%(repeat)d):
    _s = time.ticks_us()
    _m.invoke()
    _times.append(time.ticks_diff(time.ticks_us(), _s))
    if _r == 0:
        _out = b''.join(bytes(_m.get_output(_j)) for _j in range(%(n_out)d))
print(binascii.b2a_base64(_out).decode().strip())
print(json.dumps({'load_us': time.ticks_diff(_t1, _t0), 'heap': _heap, 'times': _times,
                  'arena': getattr(_m, 'arena_bytes', None),
                  'kernel_scratch': getattr(_m, 'kernel_scratch_bytes', 0),
                  'packed_weights': getattr(_m, 'packed_weights_bytes', 0),
                  'backend': tinyml.backend}))
del _m, _out
"""


def _put_if_changed(board, data, remote_path):
    if board.sha256(remote_path) != sha256_hex(data):
        board.put(data, remote_path)


def run_model(port, model_path, inputs, n_outputs, repeat=1, backend=None,
              transport="mpremote"):
    """Run a model on a flashed board -> (measurements dict, output bytes of the first invoke).

    The board must hold the tinyml package (tinyml-flash). The model is copied to
    tinyml_run.model (in its working directory) unless that file has the same sha256."""
    from .term import UserError
    with open(model_path, "rb") as f:
        model = f.read()
    try:
        with open_board(port, transport) as board:
            _put_if_changed(board, model, RUN_MODEL)
            board.put(b"".join(inputs), RUN_INPUT)
            out = board.exec(_RUN_SCRIPT % dict(
                backend=backend or "", model=RUN_MODEL, input=RUN_INPUT,
                sizes=[len(x) for x in inputs], repeat=repeat, n_out=n_outputs), timeout=600)
    except BoardError as e:
        if "no module named 'tinyml'" in str(e):
            raise UserError("the board has no tinyml package: copy it first with "
                            "`tinyml flash --port %s APP.py MODEL`" % port)
        raise UserError("on the board: %s" % e)
    except LinkError as e:
        raise UserError(str(e))
    lines = out.strip().splitlines()
    return json.loads(lines[-1]), binascii.a2b_base64(lines[-2])
