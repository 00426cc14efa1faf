"""ROMFS images (MicroPython's read-only, execute-in-place filesystem, vfs.VfsRom) and their
deployment into a board's ROMFS partition through vfs.rom_ioctl.

Image format (MicroPython extmod/vfs_rom.c): header bytes D2 CD 31, then a varuint length and
the root's records. A record is varuint kind, varuint payload length, payload. Kinds used here:
2 verbatim data, 4 directory (varuint name length, name, child records), 5 file (varuint name
length, name, one data record). Varuints are big-endian base-128 with the top bit set on every
byte but the last; a redundant leading 0x80 pads the image to an even length.

    image = build_image([("lib/tinyml/__init__.mpy", b"..."), ("model.tmdl", b"...")])
    deploy_rom(board, image, progress=None)  -> "written" or "unchanged"
"""
import binascii
import hashlib

from .transport import BoardError

HEADER = b"\xd2\xcd\x31"
KIND_DATA = 2
KIND_DIR = 4
KIND_FILE = 5
CHUNK = 4096


class RomfsError(Exception):
    """The board has no usable ROMFS partition, or the image does not fit it."""


def varuint(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def record(kind, payload):
    return varuint(kind) + varuint(len(payload)) + payload


def _named(name, body):
    raw = name.encode("ascii")
    return varuint(len(raw)) + raw + body


def _tree(entries):
    """[(path, bytes)] -> nested dict {name: bytes | dict}."""
    root = {}
    for path, data in entries:
        parts = [p for p in path.split("/") if p]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RomfsError("%s is both a file and a folder" % part)
        node[parts[-1]] = bytes(data)
    return root


def _records(node):
    out = b""
    for name in sorted(node):
        item = node[name]
        if isinstance(item, dict):
            out += record(KIND_DIR, _named(name, _records(item)))
        else:
            out += record(KIND_FILE, _named(name, record(KIND_DATA, item)))
    return out


def build_image(entries):
    body = _records(_tree(entries))
    length = varuint(len(body))
    if (len(HEADER) + len(length) + len(body)) % 2:
        length = b"\x80" + length
    return HEADER + length + body


# --- deployment ----------------------------------------------------------------------------

_QUERY = """
import vfs
_tm_r = -1
if hasattr(vfs, 'rom_ioctl') and vfs.rom_ioctl(1) > 0:
    _tm_d = vfs.rom_ioctl(2, 0)
    if not isinstance(_tm_d, int):
        _tm_r = _tm_d.ioctl(4, 0) * _tm_d.ioctl(5, 0) if hasattr(_tm_d, 'ioctl') else len(_tm_d)
print(_tm_r)
"""

_ROM_SHA = """
import hashlib, binascii
_tm_h = hashlib.sha256()
_tm_h.update(memoryview(_tm_d)[:%d])
print(binascii.hexlify(_tm_h.digest()).decode())
"""


def rom_partition_size(board):
    """Bytes in ROMFS partition 0, or None when the board has no ROMFS."""
    size = int(board.exec(_QUERY).strip())
    return None if size < 0 else size


def rom_sha256(board, n):
    if board.eval("hasattr(_tm_d, 'ioctl')"):
        return None  # block-device partitions are not memory-mapped: always rewrite
    return board.exec(_ROM_SHA % n).strip()


def chunk_order(size):
    """Offsets to write: the first chunk (the header) last, so a write cut short leaves an
    image without a valid header, which the board will not mount, rather than a broken one."""
    offsets = list(range(0, size, CHUNK))
    return offsets[1:] + offsets[:1]


def _write_chunks(board, image, block_device, progress):
    done = 0
    for off in chunk_order(len(image)):
        chunk = image[off:off + CHUNK]
        code = "import binascii\n_tm_b = binascii.a2b_base64(%r)\n" % (
            binascii.b2a_base64(chunk).strip().decode())
        if block_device:
            code += "_tm_d.writeblocks(%d // _tm_bs, _tm_b, %d %% _tm_bs)" % (off, off)
        else:
            code += "vfs.rom_ioctl(4, 0, %d, _tm_b)" % off
        board.exec(code)
        done += len(chunk)
        if progress:
            progress(done, len(image))


def deploy_rom(board, image, progress=None):
    """Write `image` into ROMFS partition 0 unless it already holds it; verify by sha256."""
    size = rom_partition_size(board)
    if size is None:
        raise RomfsError("this board has no ROMFS partition (vfs.rom_ioctl): flash without --romfs")
    if len(image) > size:
        raise RomfsError("ROMFS image of %d bytes does not fit the %d-byte partition"
                         % (len(image), size))
    want = hashlib.sha256(image).hexdigest()
    if rom_sha256(board, len(image)) == want:
        return "unchanged"
    block_device = board.eval("hasattr(_tm_d, 'ioctl')")
    board.exec("import vfs\ntry:\n vfs.umount('/rom')\nexcept OSError:\n pass")
    if block_device:
        board.exec("_tm_bs = _tm_d.ioctl(5, 0)\nfor _i in range((%d + _tm_bs - 1) // _tm_bs):\n"
                   " _tm_d.ioctl(6, _i)" % len(image))
    else:
        board.exec("vfs.rom_ioctl(3, 0, %d)" % len(image))
    _write_chunks(board, image, block_device, progress)
    if not block_device:
        board.exec("vfs.rom_ioctl(5, 0)")
        got = rom_sha256(board, len(image))
        if got != want:
            raise BoardError("ROMFS verify failed: sha256 %s on the board, %s sent" % (got, want))
    return "written"
