"""tinyml-flash end to end on the emulated board (tinyml_host/emulator.py) and on a drive folder."""
import binascii
import hashlib
import os

import pytest

from tinyml_host.emulator import FakeBoard
from tinyml_host import deploy, flash, transport_sync
from tinyml_host.transport import open_board
from tinyml_host.transport_sync import SyncError

CORPUS = {"small": "hello_world_int8", "other": "micro_speech_quantized",
          "big": "person_detect"}


class Models:
    """small, other, big: corpus models (TINYML_MODEL_ZOO), else FULLY_CONNECTED models built
    here (big: 300 KB of weights, more than a 256 KB heap)."""

    def __init__(self, folder):
        from conftest import model_zoo
        zoo = model_zoo()
        for role, name in CORPUS.items():
            path = zoo / (name + ".tflite") if zoo else None
            if path is None or not path.exists():
                path = build_fc_model(folder / ("%s_fc.tflite" % role),
                                      *{"small": (4, 3), "other": (64, 40),
                                        "big": (600, 500)}[role])
            setattr(self, role, path)


def build_fc_model(path, n_in, n_out):
    import numpy as np
    from tflite_builder import ModelBuilder
    rng = np.random.RandomState(n_in * 1000 + n_out)
    b = ModelBuilder()
    x = b.tensor("int8", (1, n_in), scale=0.5, zero_point=-1)
    w = b.const("int8", (n_out, n_in), rng.randint(-127, 128, (n_out, n_in)), scale=0.02,
                zero_point=0)
    bias = b.const("int32", (n_out,), rng.randint(-1000, 1000, n_out), scale=0.01, zero_point=0)
    y = b.tensor("int8", (1, n_out), scale=0.25, zero_point=3)
    b.op("FULLY_CONNECTED", [x, w, bias], [y])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b.build(inputs=[x], outputs=[y]))
    return path


@pytest.fixture
def models(tmp_path):
    return Models(tmp_path / "models")

APP = """import os, binascii, tinyml
VERSION = %r


def model_path():
    for d in ('/rom', os.getcwd()):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            if n.endswith('.tmdl') or n.endswith('.tflite'):
                return d.rstrip('/') + '/' + n


def run(inp):
    m = tinyml.load(model_path())
    m.set_input(0, inp)
    m.invoke()
    return binascii.hexlify(bytes(m.get_output(0))).decode()
"""


def write_app(folder, version="v1", name="app.py"):
    path = folder / name
    path.write_text(APP % version)
    return str(path)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def input_for(model_bytes):
    from tinyml import reader
    g = reader.read(model_bytes)
    n = g.tensors[g.inputs[0]].nbytes
    return bytes((i * 37 + 11) & 0xFF for i in range(n))


def run_on_board(port, transport, inp):
    with open_board(port, transport) as b:
        return b.exec("import app\nprint(app.VERSION, app.model_path(), app.run(%r))" % inp,
                      timeout=120).split()


def run_on_unix_port(mp, model_path, inp):
    code = ("import tinyml, binascii\nm = tinyml.load(open(%r, 'rb').read())\n"
            "m.set_input(0, %r)\nm.invoke()\n"
            "print(binascii.hexlify(bytes(m.get_output(0))).decode())" % (str(model_path), inp))
    return mp(code).split()[-1]


def do_flash(argv, lines=None):
    args = flash.parser().parse_args(argv)
    return flash.flash(args, out=(lines.append if lines is not None else lambda s: None))


def tree_hashes(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = sha(f.read())
    return out


def freeze_package_build(monkeypatch):
    """Build the package once per test (device/ may be edited while tests run)."""
    cache = {}
    build = deploy.package_files

    def once(profile):
        if profile["name"] not in cache:
            cache[profile["name"]] = build(profile)
        return cache[profile["name"]]
    monkeypatch.setattr(deploy, "package_files", once)


@pytest.mark.parametrize("transport", ["mpremote", "ampy"])
def test_flash_then_run_matches_the_unix_port(models, mp, tmp_path, transport):
    model = models.small
    app = write_app(tmp_path)
    labels = tmp_path / "labels.txt"
    labels.write_text("sine\n")
    with FakeBoard(tmp_path) as fb:
        lines = []
        result = do_flash(["--port", fb.port, "--transport", transport, app, str(model),
                           str(labels)], lines)
        assert "/app.py" == result["copied"][-1]  # the app goes last
        assert any(ln.startswith("board: unix") for ln in lines)
        assert any("[%d/%d]" % (n, n) in ln and "100%" in ln
                   for ln in lines for n in [len(result["copied"])])
        lib = fb.root / "lib" / "tinyml"
        assert (lib / "__init__.mpy").exists() and (lib / "ops").is_dir()
        assert (fb.root / "lib" / "tinyml_kernels.mpy").exists()
        assert (fb.root / "labels.txt").read_text() == "sine\n"
        assert not [p for p in tree_hashes(fb.root) if p.endswith(transport_sync.TMP)]
        inp = input_for(model.read_bytes())
        version, path, out = run_on_board(fb.port, transport, inp)
    assert version == "v1" and path.startswith("/" + models.small.stem)
    assert out == run_on_unix_port(mp, model, inp)


def test_second_flash_skips_what_is_there(models, tmp_path, monkeypatch):
    freeze_package_build(monkeypatch)
    model = str(models.small)
    app = write_app(tmp_path)
    with FakeBoard(tmp_path) as fb:
        first = do_flash(["--port", fb.port, app, model])
        assert len(first["copied"]) > 10 and not first["skipped"]
        lines = []
        second = do_flash(["--port", fb.port, app, model], lines)
        assert second["copied"] == [] and len(second["skipped"]) == len(first["copied"])
        assert any("already on the board" in ln for ln in lines)
        write_app(tmp_path, "v2")
        gone = fb.root / "lib" / "tinyml" / "ops" / "removed_in_v2.mpy"
        gone.write_bytes(b"M")
        (fb.root / "keep.txt").write_text("user data")
        third = do_flash(["--port", fb.port, app, model])
        assert third["copied"] == ["/app.py"]
        assert "v2" in (fb.root / "app.py").read_text()
        assert third["removed"] == ["/lib/tinyml/ops/removed_in_v2.mpy"] and not gone.exists()
        assert (fb.root / "keep.txt").read_text() == "user data"


@pytest.mark.parametrize("transport", ["mpremote", "ampy"])
def test_cut_link_keeps_the_old_app(models, tmp_path, monkeypatch, transport):
    freeze_package_build(monkeypatch)
    app = write_app(tmp_path, "v1")
    small, other = models.small, models.other
    fb = FakeBoard(tmp_path).start()
    flash_args = ["--port", fb.port, "--transport", transport, "--no-convert", "--force"]
    try:
        do_flash(flash_args + [app, str(small)])
        before = tree_hashes(fb.root)
        write_app(tmp_path, "v2")
        extra = tmp_path / "labels.txt"
        extra.write_bytes(os.urandom(9000))

        with open(app, "a") as f:
            f.write("# padding: the app spans several write chunks\n" * 150)

        def pull_cable_halfway_through_the_app(self, i, n, path, size):
            def progress(done, total):
                if path == "/app.py" and done >= total // 2:
                    fb.kill()
            return progress
        with monkeypatch.context() as m:
            m.setattr(transport_sync.Progress, "writing", pull_cable_halfway_through_the_app)
            with pytest.raises(SyncError, match="while copying /app.py: the board keeps "
                                                "the previous app"):
                do_flash(flash_args + [app, str(other), str(extra)])
        fb.start()  # plug it back in
        after = tree_hashes(fb.root)
        for path, digest in before.items():
            assert after[path] == digest, path
        assert not (fb.root / models.other.name).exists()
        assert not (fb.root / "labels.txt").exists()  # copied and verified, never activated
        cut = (fb.root / "app.py.tinyml-new").stat().st_size
        assert 0 < cut < os.path.getsize(app)  # the app copy really was cut halfway
        version, path, _ = run_on_board(fb.port, transport, input_for(small.read_bytes()))
        assert version == "v1" and path == "/" + models.small.name
        # the next flash completes and cleans up the temp files of the cut one
        do_flash(flash_args + [app, str(other), str(extra)])
        final = tree_hashes(fb.root)
        assert not [p for p in final if p.endswith(transport_sync.TMP)]
        assert final["app.py"] == sha((tmp_path / "app.py").read_bytes())
        assert final["labels.txt"] == sha(extra.read_bytes())
    finally:
        fb.kill()


def board_hashes(port, paths):
    with open_board(port) as b:
        return b.sha256_many(paths), b.listdir("/")


def bigger_than_free_space(port, tmp_path):
    """A file that cannot fit in what the first flash left free (whatever the package size)."""
    with open_board(port) as b:
        free = b.free_bytes("/")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(free + 16 * 1024))
    return big


def test_full_filesystem_is_refused_before_touching_anything(models, tmp_path):
    model = str(models.small)
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, fs_bytes=1024 * 1024) as fb:
        first = do_flash(["--port", fb.port, app, model])
        old, listing = board_hashes(fb.port, first["copied"])
        big = bigger_than_free_space(fb.port, tmp_path)
        write_app(tmp_path, "v2")
        with pytest.raises(SyncError, match="filesystem full.*nothing was changed"):
            do_flash(["--port", fb.port, app, model, str(big)])
        assert board_hashes(fb.port, first["copied"]) == (old, listing)


def test_disk_full_during_write_removes_only_the_new_files(models, tmp_path, monkeypatch):
    """Even when statvfs over-promises, ENOSPC midway leaves every old file in place."""
    model = str(models.small)
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, fs_bytes=1024 * 1024) as fb:
        first = do_flash(["--port", fb.port, app, model])
        old, listing = board_hashes(fb.port, first["copied"])
        big = bigger_than_free_space(fb.port, tmp_path)
        write_app(tmp_path, "v2")
        monkeypatch.setattr(transport_sync, "check_space", lambda target, changed, root: None)
        with pytest.raises(SyncError, match="full while writing /big.bin; nothing old"):
            do_flash(["--port", fb.port, app, model, str(big)])
        assert board_hashes(fb.port, first["copied"]) == (old, listing)


def test_model_too_big_for_the_heap_is_refused(models, tmp_path, capsys):
    model = str(models.big)
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, heap=256 * 1024) as fb:
        rc = flash.main(["--port", fb.port, "--no-convert", app, model])
        err = capsys.readouterr().err.strip()
        assert rc == 1 and "\n" not in err
        assert "does not fit: the model needs" in err and "free" in err
        assert os.listdir(fb.root) == []


def test_romfs_flash_mounts_model_and_package_from_rom(models, mp, tmp_path, monkeypatch):
    freeze_package_build(monkeypatch)
    model = models.small
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, rom_bytes=512 * 1024) as fb:
        lines = []
        result = do_flash(["--port", fb.port, "--romfs", app, str(model)], lines)
        assert result["copied"] == ["/app.py"]  # package and model went to ROMFS
        assert any("ROMFS image" in ln and "written" in ln for ln in lines)
        inp = input_for(model.read_bytes())
        version, path, out = run_on_board(fb.port, "mpremote", inp)
        assert path.startswith("/rom/" + models.small.stem) and out == run_on_unix_port(mp, model, inp)
        with open_board(fb.port) as b:
            assert b.exec("import tinyml\nprint(tinyml.__file__)").startswith("/rom/lib/")
        lines = []
        do_flash(["--port", fb.port, "--romfs", app, str(model)], lines)
        assert any("ROMFS image" in ln and "unchanged" in ln for ln in lines)


def test_romfs_too_small_or_missing_is_a_clear_error(models, tmp_path, capsys):
    model = str(models.other)
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, rom_bytes=16 * 1024, name="small") as fb:
        assert flash.main(["--port", fb.port, "--romfs", app, model]) == 1
        assert "does not fit: ROMFS image" in capsys.readouterr().err
        assert os.listdir(fb.root) == []
    with FakeBoard(tmp_path, name="norom") as fb:
        assert flash.main(["--port", fb.port, "--romfs", app, model]) == 1
        assert "no ROMFS partition" in capsys.readouterr().err


def test_drive_mode_circuitpython(models, tmp_path):
    drive = tmp_path / "CIRCUITPY"
    drive.mkdir()
    (drive / "boot_out.txt").write_text(
        "Adafruit CircuitPython 9.2.1 on 2024-11-20; Adafruit Feather RP2040 with rp2040\n")
    (drive / "code.py").write_text("print('old')\n")
    app = write_app(tmp_path)
    model = str(models.small)
    lines = []
    first = do_flash(["--drive", str(drive), "--main", app, model], lines)
    assert lines[0].startswith("board: circuitpython-rp2040")
    assert (drive / "lib" / "tinyml" / "__init__.py").exists()  # plain .py for CircuitPython
    assert not list(drive.rglob("*.mpy"))
    assert "VERSION = 'v1'" in (drive / "code.py").read_text()
    assert first["copied"][-1] == "/code.py"
    second = do_flash(["--drive", str(drive), "--main", app, model])
    assert second["copied"] == [] and len(second["skipped"]) == len(first["copied"])


def test_user_mistakes_are_one_line_errors(tmp_path, capsys, monkeypatch):
    from serial.tools import list_ports
    monkeypatch.setattr(list_ports, "comports", lambda: [])
    app = write_app(tmp_path)
    cases = [
        ([app, app], "board not found: no USB serial ports; give --port"),
        (["--port", str(tmp_path / "ttyACM9"), app, app], "board not found"),
        (["--drive", str(tmp_path / "nodrive"), app, app], "board drive not found"),
        (["--drive", str(tmp_path), "--board", "nope", app, app], "unknown board"),
    ]
    (tmp_path / "d").mkdir()
    cases.append((["--drive", str(tmp_path / "d"), "--board", "unix", app,
                   str(tmp_path / "missing.tflite")], "model not found"))
    cases.append((["--port", str(tmp_path / "ttyACM9"), str(tmp_path / "no_app.py"), app],
                  "app not found"))  # before looking for the board
    cases.append((["--drive", str(tmp_path / "d"), app, app], "no boot_out.txt"))
    for argv, message in cases:
        assert flash.main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("tinyml-flash: error:") and message in err, err
        assert "\n" not in err and "Traceback" not in err


def test_wrong_board_profile_is_refused(tmp_path, capsys):
    app = write_app(tmp_path)
    with FakeBoard(tmp_path) as fb:
        assert flash.main(["--port", fb.port, "--board", "rp2040", app, app]) == 1
        assert "runs x64 code but profile rp2040 is for armv6m" in capsys.readouterr().err


def test_stage_builds_for_the_profile_arch(models):
    from tinyml_host import boards
    st = deploy.stage(boards.get("rp2040"), __file__, str(models.small), convert=False)
    mpys = [(p, d) for p, d in st.files if p.endswith(".mpy")]
    assert mpys and all(p.startswith("/lib/") for p, _ in mpys)
    arches = {boards.mpy_arch_of(d[1] | (d[2] << 8)) for p, d in mpys if d[2] >> 2}
    assert arches <= {"armv6m"}
    assert ("/lib/tinyml_kernels.mpy" in [p for p, _ in st.files]) == \
        (deploy.NATIVE_BUILD / "armv6m" / "tinyml_kernels.mpy").exists()


def test_run_model_on_a_flashed_board(models, mp, tmp_path):
    """transport.run_model (behind `tinyml run --port`) gives the unix port's output bytes."""
    from tinyml_host.transport import run_model
    model = models.small
    app = write_app(tmp_path)
    inp = input_for(model.read_bytes())
    with FakeBoard(tmp_path) as fb:
        do_flash(["--port", fb.port, app, str(model)])
        stats, out = run_model(fb.port, str(model), [inp], n_outputs=1, repeat=3)
        assert len(stats["times"]) == 3 and stats["arena"] == deploy.arena_bytes(
            model.read_bytes())
        assert binascii.hexlify(out).decode() == run_on_unix_port(mp, model, inp)
        copy = fb.root / "tinyml_run.model"
        assert copy.read_bytes() == model.read_bytes()
        before = copy.stat().st_mtime_ns
        run_model(fb.port, str(model), [inp], n_outputs=1)  # the model on the board is reused
        assert copy.stat().st_mtime_ns == before


def test_dry_run_checks_the_profile_without_a_board(models, tmp_path, capsys):
    app = write_app(tmp_path)
    small, big = str(models.small), str(models.big)
    lines = []
    result = do_flash(["--board", "rp2040", "--dry-run", app, small], lines)
    assert result["would_copy"][-1] == "/app.py" and "/lib/tinyml/__init__.mpy" in \
        result["would_copy"]
    assert lines[0].startswith("board: rp2040") and lines[-1].startswith("total: ")
    # big: 300 KB model + arena is more than the Pico W's ~166 KB heap
    assert flash.main(["--board", "rp2040", "--dry-run", "--no-convert", app, big]) == 1
    err = capsys.readouterr().err
    assert "does not fit: the model needs" in err and "rp2040 has" in err
    # ... and a 96 KB OpenMV filesystem cannot hold it, unless it goes to ROMFS
    assert flash.main(["--board", "openmv-h7", "--dry-run", "--no-convert", app, big]) == 1
    assert "(try --romfs)" in capsys.readouterr().err
    assert flash.main(["--board", "auto", "--dry-run", app, small]) == 1
    assert "--dry-run needs --board NAME" in capsys.readouterr().err


def test_run_model_without_the_package_says_so(models, tmp_path):
    from tinyml_host.term import UserError
    from tinyml_host.transport import run_model
    with FakeBoard(tmp_path) as fb:
        with pytest.raises(UserError, match="no tinyml package: copy it first"):
            run_model(fb.port, str(models.small), [b"\0"], n_outputs=1)


def test_files_landing_on_the_same_path_are_refused(tmp_path, capsys):
    app = write_app(tmp_path)
    (tmp_path / "x").mkdir()
    same = tmp_path / "x" / "app.py"
    same.write_text("other")
    assert flash.main(["--board", "unix", "--dry-run", app, app, str(same)]) == 1
    assert "two files would be copied to /app.py" in capsys.readouterr().err


def test_ram_need_counts_arena_model_and_runtime(models):
    from tinyml_host import boards
    profile = dict(boards.get("rp2040"))
    st = deploy.stage(profile, __file__, str(models.small), convert=False)
    need = deploy.arena_bytes(st.source_model) + len(st.model) + \
        deploy.runtime_bytes(st.source_model)
    profile["ram_bytes"] = need
    assert any(n.startswith("RAM: ") for n in deploy.check_fit(profile, st, False))
    profile["ram_bytes"] = need - 1
    with pytest.raises(deploy.FitError, match="does not fit: the model needs"):
        deploy.check_fit(profile, st, False)
    assert deploy.check_fit(profile, st, True)  # from ROMFS the model is not copied to RAM


def test_pyboard_style_flash_folder(models, tmp_path):
    """Boards whose files live in /flash (pyboard, OpenMV): everything goes below the working
    directory, where their sys.path looks."""
    app = write_app(tmp_path)
    with FakeBoard(tmp_path, cwd="/flash") as fb:
        result = do_flash(["--port", fb.port, app, str(models.small)])
        assert all(p.startswith("/flash/") for p in result["copied"])
        assert (fb.root / "flash" / "lib" / "tinyml" / "__init__.mpy").exists()
        version, path, _ = run_on_board(fb.port, "mpremote", input_for(models.small.read_bytes()))
        assert version == "v1"
