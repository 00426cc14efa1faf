"""Board profiles (boards/*.json): what a board offers and how to deploy to it.

    profiles() -> {name: profile dict}     get(name) -> profile (BoardNotFound if unknown)
    identify(info) -> profile              info = transport.Board.board_info()
    list_boards() -> str                   main(argv) prints it (`tinyml boards`)
    describe_connected(port) -> str        `tinyml boards --port PORT`: what is plugged in
"""
import json
import os
import pathlib
import sys

BOARDS_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "boards"
if not BOARDS_DIR.is_dir():   # installed from a wheel: the profiles ship inside the package
    BOARDS_DIR = pathlib.Path(__file__).resolve().parent / "boards"
REQUIRED = ("name", "title", "firmware", "cpu", "clock_mhz", "ram_bytes", "flash_bytes",
            "fs_bytes", "romfs", "transport", "backend", "mpy_arch", "circuitpython")
TRANSPORTS = ("serial", "drive")
BACKENDS = ("native", "viper", "python")
# sys.implementation._mpy >> 10 -> mpy-cross -march name
MPY_ARCHES = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp",
              "armv7emdp", "xtensa", "xtensawin", "rv32imc", "rv64imc")


class BoardNotFound(Exception):
    """Unknown board name, or a connected board that matches no profile."""


def boards_dir():
    return pathlib.Path(os.environ.get("TINYML_BOARDS_DIR", BOARDS_DIR))


def check_profile(p, source):
    missing = [k for k in REQUIRED if k not in p]
    if missing:
        raise ValueError("%s: missing %s" % (source, ", ".join(missing)))
    if p["transport"] not in TRANSPORTS or p["backend"] not in BACKENDS:
        raise ValueError("%s: bad transport or backend" % source)
    if p["mpy_arch"] not in MPY_ARCHES or (p["mpy_arch"] is None) != p["circuitpython"]:
        raise ValueError("%s: mpy_arch must be an mpy-cross arch (null only for CircuitPython)"
                         % source)
    return p


def profiles():
    found = {}
    for path in sorted(boards_dir().glob("*.json")):
        p = check_profile(json.loads(path.read_text()), path.name)
        found[p["name"]] = p
    return found


def get(name):
    all_ = profiles()
    if name not in all_:
        raise BoardNotFound("unknown board %r (known: %s)" % (name, ", ".join(sorted(all_))))
    return all_[name]


def mpy_arch_of(mpy_word):
    """sys.implementation._mpy -> mpy arch name (None if the firmware emits no native code)."""
    if mpy_word is None:
        return None
    index = mpy_word >> 10
    return MPY_ARCHES[index] if index < len(MPY_ARCHES) else None


def _match_score(p, info):
    """Sum of the lengths of the profile's machine substrings, or -1 if one is missing."""
    if (p["firmware"] == "circuitpython") != (info.get("implementation") == "circuitpython"):
        return -1
    platform = info.get("platform") or ""
    if p.get("platform") and platform and p["platform"].lower() != platform.lower():
        return -1
    machine = info.get("machine", "").lower()
    subs = p.get("machine_match", [])
    if not all(s.lower() in machine for s in subs):
        return -1
    arch = mpy_arch_of(info.get("mpy"))
    if arch and p["mpy_arch"] and arch != p["mpy_arch"]:
        return -1
    return sum(len(s) for s in subs)


def identify(info):
    """Pick the profile that best matches what the board reports about itself."""
    scored = sorted(((_match_score(p, info), n) for n, p in profiles().items()), reverse=True)
    if not scored or scored[0][0] < 0:
        raise BoardNotFound("no board profile matches %s (%s); use --board NAME"
                            % (info.get("machine", "?"), info.get("platform", "?")))
    return get(scored[0][1])


def _size(n):
    if not n:
        return "-"
    if n >= 1 << 20:
        return "%.1f MiB" % (n / float(1 << 20))
    return "%d KiB" % (n // 1024)


def list_boards():
    rows = [("board", "cpu", "MHz", "heap", "fs", "romfs", "transport", "backend", "mpy arch")]
    for n, p in sorted(profiles().items()):
        rows.append((n, p["cpu"], str(p["clock_mhz"] or "-"), _size(p["ram_bytes"]),
                     _size(p["fs_bytes"]), "yes" if p["romfs"] else "no", p["transport"],
                     p["backend"], p["mpy_arch"] or "(.py)"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def describe_connected(port, transport="mpremote"):
    """What the board on `port` reports, and the profile it matches (`tinyml boards --port`)."""
    from .transport import open_board
    with open_board(port, transport) as board:
        info = board.board_info()
    lines = ["%s: %s %s on %s (%s), mpy arch %s, %s heap free"
             % (port, info["implementation"], info["version"], info["machine"] or "?",
                info["platform"], info["mpy_arch"] or "-", _size(info["mem_free"]))]
    try:
        lines.append("profile: %s (%s)" % (identify(info)["name"], identify(info)["title"]))
    except BoardNotFound as e:
        lines.append("profile: none (%s)" % e)
    return "\n".join(lines)


USAGE = ("usage: tinyml boards [NAME]          list board profiles, or show one\n"
         "       tinyml boards --port PORT [--transport mpremote|ampy]"
         "   identify a connected board")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    from .transport import BoardError, LinkError
    try:
        if argv[:1] == ["--port"] and len(argv) in (2, 4):
            transport = argv[3] if len(argv) == 4 and argv[2] == "--transport" else "mpremote"
            print(describe_connected(argv[1], transport))
        elif len(argv) == 1 and not argv[0].startswith("-"):
            print(json.dumps(get(argv[0]), indent=2))
        elif argv:
            print(USAGE)
            return 0 if argv[0] in ("-h", "--help") else 2
        else:
            print(list_boards())
    except (BoardNotFound, ValueError, LinkError, BoardError) as e:
        print("tinyml boards: error: %s" % e, file=sys.stderr)
        return 1
    return 0
