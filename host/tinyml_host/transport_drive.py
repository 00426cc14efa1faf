"""A board seen as a mounted USB drive (CIRCUITPY, OpenMV's drive): the same file API as
transport.Board, on a host folder.

    drive = Drive("/media/me/CIRCUITPY")
    drive.put(data, "/lib/x.py", progress)   drive.sha256_many(paths)   drive.rename(a, b)
    drive.rename_many(pairs)   drive.walk(path)   drive.remove(p)   drive.free_bytes()   drive.block_size()   drive.board_info()
"""
import hashlib
import os
import shutil

from .transport_links import LinkError

CHUNK = 64 * 1024


class Drive:
    def __init__(self, path):
        if not os.path.isdir(path):
            raise LinkError("board drive not found: %s is not a mounted folder" % path)
        self.root = os.path.abspath(path)
        self.port = self.root

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        pass

    def local(self, remote_path):
        rel = remote_path.lstrip("/")
        full = os.path.normpath(os.path.join(self.root, rel))
        if not (full + os.sep).startswith(self.root + os.sep):
            raise ValueError("path outside the drive: %s" % remote_path)
        return full

    def _io(self, fn, *a):
        try:
            return fn(*a)
        except FileNotFoundError:
            if not os.path.isdir(self.root):
                raise LinkError("board drive %s went away (ejected?)" % self.root)
            raise

    def put(self, data, remote_path, progress=None):
        path = self.local(remote_path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            for i in range(0, len(data), CHUNK):
                f.write(data[i:i + CHUNK])
                if progress:
                    progress(min(i + CHUNK, len(data)), len(data))
            f.flush()
            os.fsync(f.fileno())
        if progress and not data:
            progress(0, 0)

    def get(self, remote_path):
        with open(self.local(remote_path), "rb") as f:
            return f.read()

    def sha256(self, remote_path):
        try:
            return hashlib.sha256(self.get(remote_path)).hexdigest()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def sha256_many(self, paths):
        return {p: self._io(self.sha256, p) for p in paths}

    def rename(self, old, new):
        self._io(os.replace, self.local(old), self.local(new))

    def rename_many(self, pairs):
        for old, new in pairs:
            self.rename(old, new)

    def walk(self, remote_path):
        top = self.local(remote_path)
        found = []
        for dirpath, _, names in os.walk(top):
            for n in names:
                rel = os.path.relpath(os.path.join(dirpath, n), self.root)
                found.append("/" + rel.replace(os.sep, "/"))
        return sorted(found)

    def remove(self, remote_path):
        self._io(os.remove, self.local(remote_path))

    def listdir(self, remote_path="/"):
        return sorted(os.listdir(self.local(remote_path)))

    def free_bytes(self, remote_path="/"):
        return shutil.disk_usage(self.root).free

    def block_size(self):
        try:
            return os.statvfs(self.root).f_frsize or 512
        except (AttributeError, OSError):
            return 4096

    def board_info(self):
        """What boot_out.txt (written by CircuitPython at boot) says, in board_info() form."""
        try:
            with open(os.path.join(self.root, "boot_out.txt")) as f:
                first = f.readline().strip()
        except OSError:
            return {"implementation": "unknown", "machine": "", "platform": ""}
        impl = "circuitpython" if "CircuitPython" in first else "micropython"
        machine = first.split(";", 1)[1].strip() if ";" in first else first
        return {"implementation": impl, "machine": machine, "platform": "", "mpy": None,
                "version": first.split(" on ")[0].split()[-1] if " on " in first else ""}
