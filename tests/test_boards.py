"""Board profiles: loading, listing, identification from what a board reports."""
import json
import subprocess

import pytest

from tinyml_host import boards, deploy

EXPECTED = {"esp32", "esp32s3", "rp2040", "rp2350", "openmv-h7", "openmv-rt1062",
            "circuitpython-rp2040", "unix"}


def info(impl="micropython", platform="", machine="", arch=None):
    mpy = None if arch is None else 6 | (boards.MPY_ARCHES.index(arch) << 10)
    return {"implementation": impl, "platform": platform, "machine": machine, "mpy": mpy}


def test_all_profiles_load_with_sane_figures():
    found = boards.profiles()
    assert EXPECTED <= set(found)
    for name, p in found.items():
        assert p["name"] == name
        assert p["ram_bytes"] > 0
        assert p["fs_bytes"] <= p["flash_bytes"] or p["name"] == "unix"
        assert p["transport"] in ("serial", "drive")
        assert p["circuitpython"] == (p["backend"] == "python")


def test_circuitpython_profile_gets_plain_py_and_drive():
    p = boards.get("circuitpython-rp2040")
    assert p["mpy_arch"] is None and p["transport"] == "drive"


def test_unknown_board_is_a_clear_error():
    with pytest.raises(boards.BoardNotFound, match="unknown board 'pico9'.*known: "):
        boards.get("pico9")


def test_bad_profile_is_rejected(tmp_path, monkeypatch):
    (tmp_path / "x.json").write_text(json.dumps({"name": "x"}))
    monkeypatch.setenv("TINYML_BOARDS_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="x.json: missing"):
        boards.profiles()


def test_list_boards_has_one_row_per_profile(capsys):
    assert boards.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "board"
    assert {ln.split()[0] for ln in out[1:]} == set(boards.profiles())
    assert any("armv6m" in ln and ln.startswith("rp2040") for ln in out)


def test_boards_main_shows_one_and_fails_on_unknown(capsys):
    assert boards.main(["rp2350"]) == 0
    assert json.loads(capsys.readouterr().out)["mpy_arch"] == "armv7emsp"
    assert boards.main(["nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tinyml boards: error: unknown board") and "\n" not in err


@pytest.mark.parametrize("reported, expected", [
    (info(platform="linux", machine="linux [GCC 14.2.1] version", arch="x64"), "unix"),
    (info(platform="esp32", machine="Generic ESP32 module with ESP32", arch="xtensawin"), "esp32"),
    (info(platform="esp32", machine="Generic ESP32S3 module with ESP32S3", arch="xtensawin"),
     "esp32s3"),
    (info(platform="rp2", machine="Raspberry Pi Pico W with RP2040", arch="armv6m"), "rp2040"),
    (info(platform="rp2", machine="Raspberry Pi Pico 2 with RP2350", arch="armv7emsp"), "rp2350"),
    (info(platform="pyboard", machine="OpenMV4P-H7 with STM32H743", arch="armv7emdp"),
     "openmv-h7"),
    (info(platform="mimxrt", machine="OpenMV IMXRT1060 with MIMXRT1062DVJ6A", arch="armv7emdp"),
     "openmv-rt1062"),
    (info("circuitpython", "RP2040", "Adafruit Feather RP2040 with rp2040"),
     "circuitpython-rp2040"),
])
def test_identify(reported, expected):
    assert boards.identify(reported)["name"] == expected


def test_identify_refuses_wrong_arch_and_unknown_boards():
    with pytest.raises(boards.BoardNotFound, match="use --board"):
        boards.identify(info(platform="esp32", machine="ESP32C3 module with ESP32C3",
                             arch="rv32imc"))
    with pytest.raises(boards.BoardNotFound):
        boards.identify(info(platform="nrf", machine="micro:bit v2 with nRF52833"))


def test_identify_the_real_unix_port(mp):
    out = mp.json("import sys, json\ni = sys.implementation\n"
                  "print(json.dumps({'implementation': i.name, 'platform': sys.platform,"
                  " 'machine': i._machine, 'mpy': i._mpy}))")
    assert boards.identify(out)["name"] == "unix"


@pytest.mark.parametrize("name", sorted(n for n, p in boards.profiles().items()
                                        if p["mpy_arch"]))
def test_profile_arch_is_what_mpy_cross_emits(tmp_path, name):
    """The header of an .mpy built with the profile's -march names the same arch."""
    arch = boards.get(name)["mpy_arch"]
    src = tmp_path / "m.py"
    src.write_text("@micropython.native\ndef f(x):\n    return x + 1\n")
    subprocess.run([deploy.mpy_cross_binary(), "-march=" + arch, str(src)], check=True)
    header = (tmp_path / "m.mpy").read_bytes()[:4]
    assert header[0] == ord("M") and header[1] == deploy.MPY_VERSION
    assert boards.mpy_arch_of(header[1] | (header[2] << 8)) == arch


def test_tinyml_boards_command(capsys):
    from tinyml_host import cli
    assert cli.main(["boards"]) == 0
    assert "openmv-rt1062" in capsys.readouterr().out


@pytest.mark.parametrize("transport", ["mpremote", "ampy"])
def test_boards_port_identifies_a_connected_board(tmp_path, capsys, transport):
    from tinyml_host.emulator import FakeBoard
    with FakeBoard(tmp_path) as fb:
        assert boards.main(["--port", fb.port, "--transport", transport]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "micropython 1." in out[0] and "mpy arch x64" in out[0]
    assert out[1].startswith("profile: unix (")
    assert boards.main(["--port", str(tmp_path / "gone")]) == 1
    assert "board not found" in capsys.readouterr().err
    assert boards.main(["--bogus"]) == 2
