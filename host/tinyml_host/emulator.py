"""The MicroPython unix port dressed up as a board on a serial port (a pty): `tinyml emulate`.

    tinyml emulate [--dir DIR] [--fs-kb N] [--romfs-kb N] [--heap BYTES] [--tcp]
        prints the port to pass to `tinyml-flash --port` / `tinyml run --port`; Ctrl-C stops it.

From Python (the tests use this):

    with FakeBoard(tmp_path) as fb:           # fb.port: a /dev/pts path mpremote/ampy can open
        ...                                    # fb.root: the board's filesystem (a host folder)
    FakeBoard(tmp_path, fs_bytes=64 * 1024)    # a real size-limited littlefs2 filesystem instead
    FakeBoard(tmp_path, rom_bytes=256 * 1024)  # a ROMFS partition: vfs.rom_ioctl, /rom mounted
    FakeBoard(tmp_path, cwd="/flash")          # pyboard/OpenMV style: files live in /flash
    fb.kill()                                  # pull the cable (the relay process dies at once)
    url = fb.serve_tcp()                       # socket://127.0.0.1:PORT via socat (one client)

The relay (this file run as a script) owns the pty; it runs `micropython -i -c STARTUP` on a
second pty and copies bytes both ways. STARTUP makes the process look like a board: it mounts
the board filesystem at / (VfsPosix on a host folder, or VfsLfs2 on a block device backed by an
image file, so littlefs really fills up), changes to `cwd`, sets sys.path to ['', '.frozen',
'/rom', '/rom/lib', '/lib'] (cwd and cwd/lib for /flash boards), and emulates a ROMFS
partition in an image file (vfs.rom_ioctl; the image is mounted at /rom when valid). A soft reset (Ctrl-D in the raw REPL,
which ends the unix port) prints "soft reboot", restarts the process and re-enters the raw
REPL, as real boards do; the filesystem and ROMFS images persist across restarts.
"""
import os
import pathlib
import select
import signal
import subprocess
import sys
import time
import tty

BANNER_END = b">>> "

STARTUP = r'''
import sys, os, vfs
_root, _img, _fsb, _rom, _romb = %(root)r, %(image)r, %(fs_bytes)r, %(rom)r, %(rom_bytes)r
_cwd = %(cwd)r


class _FileBlocks:
    """Block device (littlefs extended interface) backed by a host image file."""
    def __init__(self, f, n):
        self.f, self.n = f, n

    def readblocks(self, b, buf, off=0):
        self.f.seek(b * 512 + off)
        self.f.readinto(buf)

    def writeblocks(self, b, buf, off=None):
        self.f.seek(b * 512 + (off or 0))
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        return self.n if op == 4 else 512 if op == 5 else 0


class _Rom:
    """vfs.rom_ioctl for one ROMFS partition kept in a host image file."""
    def __init__(self, f, n):
        self.f, self.buf = f, bytearray(n)
        f.readinto(self.buf)

    def store(self, offset, data):
        self.buf[offset:offset + len(data)] = data
        self.f.seek(offset)
        self.f.write(data)
        self.f.flush()

    def ioctl(self, op, *a):
        if op == 1:
            return 1
        if op == 2:
            return memoryview(self.buf) if a[0] == 0 else -19
        if op == 3:  # erase: on flash this takes effect at once
            start, n = (0, a[1]) if len(a) == 2 else (a[1], a[2])
            self.store(start, b'\xff' * n)
            return 16
        if op == 4:
            self.store(a[1], a[2])
            return 0
        if op == 5:
            return 0
        if op == 6:
            return 4096
        return -22


class _VfsModule:
    pass


def _shim(module, **extra):
    """A stand-in for a built-in module (put in sys.modules) with some functions added."""
    shim = _VfsModule()
    for k in dir(module):
        if not k.startswith('__'):
            setattr(shim, k, getattr(module, k))
    for k, v in extra.items():
        setattr(shim, k, v)
    return shim


def _posix_rename(a, b, _rename=os.rename, _os=os):
    """VfsPosix mounted at / resolves rename('/a', '/b') as host paths (unix-port quirk):
    rename root-relative paths from / instead."""
    cwd = _os.getcwd().rstrip('/') + '/'
    a, b = [(p if p.startswith('/') else cwd + p).lstrip('/') for p in (a, b)]
    _os.chdir('/')
    try:
        _rename(a, b)
    finally:
        _os.chdir(cwd)


def _boot():
    bdev = None
    if _img:
        f = open(_img, 'r+b')
        bdev = _FileBlocks(f, _fsb // 512)
    rom = _Rom(open(_rom, 'r+b'), _romb) if _rom else None
    vfs.umount('/')
    if bdev is None:
        vfs.mount(vfs.VfsPosix(_root), '/')
        sys.modules['os'] = _shim(os, rename=_posix_rename)
    else:
        try:
            vfs.mount(vfs.VfsLfs2(bdev), '/')
        except OSError:
            vfs.VfsLfs2.mkfs(bdev)
            vfs.mount(vfs.VfsLfs2(bdev), '/')
    if _cwd != '/':
        try:
            os.mkdir(_cwd)
        except OSError:
            pass
    os.chdir(_cwd)
    if rom is not None:
        sys.modules['vfs'] = _shim(vfs, rom_ioctl=rom.ioctl)
        try:
            vfs.mount(vfs.VfsRom(memoryview(rom.buf)), '/rom')
        except OSError:
            pass  # no valid image: boards boot without /rom
    if _cwd == '/':
        sys.path[:] = ['', '.frozen', '/rom', '/rom/lib', '/lib']
    else:
        sys.path[:] = ['', '.frozen', '/rom', '/rom/lib', _cwd, _cwd + '/lib']


_boot()
del _boot, _FileBlocks, _Rom, _VfsModule, _shim, _posix_rename, _root, _img, _fsb, _rom, _romb
del _cwd, sys, os, vfs
'''


def micropython_binary():
    exe = pathlib.Path(sys.executable).parent / "micropython"
    return str(exe) if exe.exists() else "micropython"


# --- the relay (runs in its own process) -------------------------------------------------------

def _read_until(fd, marker, timeout=10):
    data, end = b"", time.time() + timeout
    while not data.endswith(marker) and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


class Relay:
    def __init__(self, args):
        self.args = args
        self.host_master, self.host_slave = os.openpty()
        tty.setraw(self.host_slave)
        tty.setraw(self.host_master)
        self.raw_mode = False
        self.child = None

    def start_child(self):
        master, slave = os.openpty()
        tty.setraw(slave)
        cmd = [micropython_binary()]
        if self.args["heap"]:
            cmd += ["-X", "heapsize=%d" % self.args["heap"]]
        cmd += ["-i", "-c", STARTUP % self.args]
        env = dict(os.environ, MICROPYPATH=".frozen")
        self.child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                      close_fds=True, cwd="/")
        os.close(slave)
        self.child_fd = master
        banner = _read_until(master, BANNER_END)
        if not banner.endswith(BANNER_END):
            sys.stderr.write("emulator: no REPL prompt: %r\n" % banner[-300:])
            raise SystemExit(2)
        return banner

    def reboot(self):
        os.close(self.child_fd)
        self.child.wait()
        os.write(self.host_master, b"MPY: soft reboot\r\n")
        banner = self.start_child()
        if self.raw_mode:
            os.write(self.child_fd, b"\x01")
        else:
            os.write(self.host_master, banner)

    def track_mode(self, data):
        for byte in data:
            if byte == 1:
                self.raw_mode = True
            elif byte == 2:
                self.raw_mode = False

    def pump(self):
        r, _, _ = select.select([self.host_master, self.child_fd], [], [], 0.5)
        if self.host_master in r:
            data = os.read(self.host_master, 4096)
            self.track_mode(data)
            os.write(self.child_fd, data)
        if self.child_fd in r:
            try:
                data = os.read(self.child_fd, 4096)
            except OSError:
                data = b""
            if data:
                os.write(self.host_master, data)
            else:
                self.reboot()
        elif self.child.poll() is not None:
            self.reboot()

    def serve(self, link):
        self.start_child()
        os.symlink(os.ttyname(self.host_slave), link)
        while True:
            self.pump()


def relay_main(argv):
    import json
    args = json.loads(argv[0])
    relay = Relay(args)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        relay.serve(args["link"])
    finally:
        if relay.child is not None:
            relay.child.kill()


def _listening(tcp_port):
    """Is something listening on 127.0.0.1:tcp_port? (read from /proc, without connecting:
    socat serves a single connection)."""
    needle = ":%04X" % tcp_port
    try:
        with open("/proc/net/tcp") as f:
            return any(ln.split()[1].endswith(needle) and ln.split()[3] == "0A"
                       for ln in f.readlines()[1:])
    except OSError:
        time.sleep(0.5)
        return True


# --- the test-side handle ---------------------------------------------------------------------

class FakeBoard:
    """Start/stop an emulated board; see the module docstring."""

    def __init__(self, workdir, fs_bytes=None, rom_bytes=None, heap=None, name="board",
                 cwd="/"):
        self.workdir = pathlib.Path(workdir)
        self.root = self.workdir / (name + "_fs")
        self.root.mkdir(parents=True, exist_ok=True)
        self.link = self.workdir / (name + "_tty")
        self.image = self.workdir / (name + "_lfs.img") if fs_bytes else None
        self.rom = self.workdir / (name + "_rom.img") if rom_bytes else None
        if self.image and not self.image.exists():
            self.image.write_bytes(b"\xff" * fs_bytes)
        if self.rom and not self.rom.exists():
            self.rom.write_bytes(b"\xff" * rom_bytes)
        self.args = dict(root=str(self.root), image=str(self.image or ""), fs_bytes=fs_bytes or 0,
                         rom=str(self.rom or ""), rom_bytes=rom_bytes or 0, heap=heap, cwd=cwd,
                         link=str(self.link))
        self.proc = None
        self.socat = None

    @property
    def port(self):
        return os.path.realpath(self.link)

    def start(self):
        import json
        if self.link.is_symlink():
            self.link.unlink()
        self.proc = subprocess.Popen([sys.executable, __file__, json.dumps(self.args)],
                                     start_new_session=True)
        end = time.time() + 20
        while not self.link.is_symlink():
            if self.proc.poll() is not None or time.time() > end:
                self.kill()
                raise RuntimeError("fake board did not start")
            time.sleep(0.02)
        return self

    def serve_tcp(self):
        """Also offer the board on a loopback TCP port (socat, one connection) -> URL."""
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        tcp_port = s.getsockname()[1]
        s.close()
        self.socat = subprocess.Popen(
            ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % tcp_port,
             "FILE:%s,raw,echo=0" % self.port], start_new_session=True)
        end = time.time() + 10
        while not _listening(tcp_port) and time.time() < end:
            time.sleep(0.05)
        return "socket://127.0.0.1:%d" % tcp_port

    def kill(self):
        """Cut the link: the relay and its micropython die at once."""
        if self.socat is not None:
            self.socat.kill()
            self.socat.wait()
            self.socat = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        if self.link.is_symlink():
            self.link.unlink()

    stop = kill

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


def main(argv=None):
    """`tinyml emulate`: run an emulated board until Ctrl-C."""
    import argparse
    ap = argparse.ArgumentParser(prog="tinyml emulate",
                                 description="the MicroPython unix port as a board on a pty")
    ap.add_argument("--dir", default="tinyml-board",
                    help="where the board's filesystem lives (default ./tinyml-board)")
    ap.add_argument("--fs-kb", type=int, help="a size-limited littlefs filesystem of N KiB")
    ap.add_argument("--romfs-kb", type=int, help="a ROMFS partition of N KiB")
    ap.add_argument("--heap", type=int, help="MicroPython heap bytes (emulate a board's RAM)")
    ap.add_argument("--cwd", default="/", help="working directory on the board (/flash: OpenMV)")
    ap.add_argument("--tcp", action="store_true", help="also serve it on socket://127.0.0.1:PORT")
    args = ap.parse_args(argv)
    board = FakeBoard(args.dir, fs_bytes=(args.fs_kb or 0) * 1024 or None,
                      rom_bytes=(args.romfs_kb or 0) * 1024 or None, heap=args.heap,
                      cwd=args.cwd)
    with board:
        port = board.serve_tcp() if args.tcp else board.port
        print("emulated board on %s (files in %s); Ctrl-C stops it" % (port, board.root),
              flush=True)
        try:
            while board.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    relay_main(sys.argv[1:])
