"""The board link (transport.open_board) against the emulated board, and ROMFS images."""
import hashlib
import os
import shutil
import time

import pytest

from tinyml_host.emulator import FakeBoard
from tinyml_host.transport import BoardError, LinkError, open_board
from tinyml_host.transport_drive import Drive
from tinyml_host.transport_romfs import build_image, varuint

TRANSPORTS = ["mpremote", "ampy"]
BLOB = bytes(range(256)) * 23 + b"\r\n\x03\x04\x01\x02"  # every byte value, > 2 write chunks


@pytest.fixture(params=TRANSPORTS)
def board(request, tmp_path):
    with FakeBoard(tmp_path) as fb:
        b = open_board(fb.port, request.param)
        b.fake = fb
        yield b
        b.close()


def test_board_info_says_unix_port(board):
    info = board.board_info()
    assert info["implementation"] == "micropython"
    assert info["platform"] == "linux" and info["mpy_arch"] == "x64"
    assert info["mem_free"] > 0 and info["romfs"] is False


def test_exec_eval_and_board_errors(board):
    assert board.exec("print(6 * 7)") == "42\n"
    assert board.eval("[1, 'a', None]") == [1, "a", None]
    with pytest.raises(BoardError, match="ZeroDivisionError"):
        board.exec("1 // 0")


def test_put_get_sha_roundtrip_lands_in_the_board_folder(board):
    board.put(BLOB, "/lib/deep/blob.bin")
    assert board.get("/lib/deep/blob.bin") == BLOB
    assert board.sha256("/lib/deep/blob.bin") == hashlib.sha256(BLOB).hexdigest()
    assert (board.fake.root / "lib" / "deep" / "blob.bin").read_bytes() == BLOB
    assert board.sha256("/missing") is None
    mode, size = board.stat("/lib/deep/blob.bin")
    assert mode & 0x8000 and size == len(BLOB)  # a regular file of that size
    assert board.stat("/lib/deep")[0] & 0x4000
    assert board.stat("/missing") is None


def test_put_reports_progress(board):
    seen = []
    board.put(BLOB, "/p.bin", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(BLOB), len(BLOB)) and len(seen) == 3
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_rename_over_existing_remove_listdir(board):
    board.put(b"old", "/a.txt")
    board.put(b"new", "/a.txt.tmp")
    board.rename("/a.txt.tmp", "/a.txt")
    assert board.get("/a.txt") == b"new"
    assert "a.txt.tmp" not in board.listdir("/")
    board.remove("/a.txt")
    assert "a.txt" not in board.listdir("/")


def test_statvfs_and_soft_reset_forgets_state(board):
    assert len(board.statvfs("/")) == 10 and board.free_bytes() > 0
    board.exec("left_over = 1")
    board.soft_reset()
    with pytest.raises(BoardError, match="NameError"):
        board.exec("left_over")
    assert board.exec("print(1)") == "1\n"  # still talking after the reboot


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_missing_port_is_a_link_error(tmp_path, transport):
    with pytest.raises(LinkError, match="board not found"):
        open_board(str(tmp_path / "ttyNOPE"), transport)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pulled_cable_is_a_link_error_not_a_hang(tmp_path, transport):
    with FakeBoard(tmp_path) as fb:
        b = open_board(fb.port, transport, timeout=3)
        fb.kill()
        t = time.time()
        with pytest.raises(LinkError):
            b.put(BLOB * 4, "/x.bin")
        assert time.time() - t < 30
        b.close()


@pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed")
def test_mpremote_over_tcp_socket(tmp_path):
    with FakeBoard(tmp_path) as fb:
        url = fb.serve_tcp()
        with open_board(url, "mpremote") as b:
            b.put(BLOB, "/net.bin")
            assert b.sha256("/net.bin") == hashlib.sha256(BLOB).hexdigest()
        assert (fb.root / "net.bin").read_bytes() == BLOB


def test_drive_has_the_same_file_api(tmp_path):
    d = Drive(str(tmp_path))
    d.put(BLOB, "/lib/x.bin")
    assert d.sha256_many(["/lib/x.bin", "/y"]) == {
        "/lib/x.bin": hashlib.sha256(BLOB).hexdigest(), "/y": None}
    d.put(b"2", "/lib/x.bin.new")
    d.rename("/lib/x.bin.new", "/lib/x.bin")
    assert d.get("/lib/x.bin") == b"2" and d.listdir("/lib") == ["x.bin"]
    with pytest.raises(ValueError):
        d.local("/../escape")
    with pytest.raises(LinkError, match="not a mounted folder"):
        Drive(str(tmp_path / "nope"))


def test_drive_board_info_from_boot_out(tmp_path):
    (tmp_path / "boot_out.txt").write_text(
        "Adafruit CircuitPython 9.2.1 on 2024-11-20; Adafruit Feather RP2040 with rp2040\n")
    info = Drive(str(tmp_path)).board_info()
    assert info["implementation"] == "circuitpython" and "RP2040" in info["machine"]
    assert info["version"] == "9.2.1"


# --- ROMFS images ------------------------------------------------------------------------------

def test_varuint_encoding():
    assert varuint(0) == b"\x00" and varuint(127) == b"\x7f"
    assert varuint(128) == b"\x81\x00" and varuint(300) == b"\x82\x2c"


def test_romfs_image_mounts_with_vfsrom_and_imports(mp, tmp_path):
    big = bytes(range(256)) * 40
    image = build_image([("lib/pkg/__init__.py", b"X = 42\n"), ("model.bin", big),
                         ("lib/pkg/sub.py", b"Y = 'sub'\n"), ("empty", b"")])
    assert image[:3] == b"\xd2\xcd\x31" and len(image) % 2 == 0
    path = tmp_path / "rom.img"
    path.write_bytes(image)
    out = mp.json(
        "import vfs, sys, os, json, hashlib, binascii\n"
        "buf = open(%r, 'rb').read()\n"
        "vfs.mount(vfs.VfsRom(buf), '/rom')\n"
        "sys.path.insert(0, '/rom/lib')\n"
        "import pkg, pkg.sub\n"
        "h = binascii.hexlify(hashlib.sha256(open('/rom/model.bin', 'rb').read()).digest())\n"
        "print(json.dumps([pkg.X, pkg.sub.Y, sorted(os.listdir('/rom')), h.decode(),"
        " os.stat('/rom/empty')[6]]))" % str(path))
    assert out == [42, "sub", ["empty", "lib", "model.bin"], hashlib.sha256(big).hexdigest(), 0]


def test_romfs_write_cut_short_leaves_no_mountable_image(tmp_path):
    from tinyml_host.transport_romfs import chunk_order, deploy_rom, CHUNK
    assert chunk_order(3 * CHUNK + 1) == [CHUNK, 2 * CHUNK, 3 * CHUNK, 0]
    image = build_image([("m.bin", os.urandom(5 * CHUNK))])
    fb = FakeBoard(tmp_path, rom_bytes=64 * 1024).start()
    try:
        b = open_board(fb.port, timeout=3)

        def pull_cable(done, total):
            if done > total // 2:
                fb.kill()
        with pytest.raises(LinkError):
            deploy_rom(b, image, progress=pull_cable)
        b.close()
        fb.start()
        with open_board(fb.port) as b:
            with pytest.raises(BoardError, match="ENOENT|ENODEV|OSError"):
                b.exec("import os\nos.listdir('/rom')")
            assert deploy_rom(b, image) == "written"
            b.soft_reset()
            assert b.listdir("/rom") == ["m.bin"]
            assert deploy_rom(b, image) == "unchanged"
    finally:
        fb.kill()
