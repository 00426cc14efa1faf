"""tinyml-flash: put an app, a model and the tinyml package onto a board.

    tinyml-flash [--board NAME|auto] [--port PORT] [--transport mpremote|ampy|drive]
                 [--drive PATH] [--romfs] [--main] [--no-convert] [--force] [--dry-run]
                 APP.py MODEL.tflite [FILES...]

Steps: connect (or open the drive) and identify the board; build what it needs (deploy.stage);
check the fit against the profile and what the board reports (deploy.check_fit); write the
ROMFS image (--romfs) and copy the files atomically, skipping those already there
(transport_sync.sync). Errors the user can fix print one line and exit 1.
"""
import argparse
import os
import sys
import time

from . import boards, deploy
from .transport import BoardError, open_board
from .transport_drive import Drive
from .transport_links import LinkError
from .transport_romfs import RomfsError, build_image, deploy_rom, rom_partition_size
from .transport_sync import SyncError, sync

USER_ERRORS = (LinkError, BoardError, SyncError, RomfsError, deploy.FitError,
               boards.BoardNotFound)


def parser():
    p = argparse.ArgumentParser(prog="tinyml-flash",
                                description="Copy an app, a model and tinyml onto a board.")
    p.add_argument("app", metavar="APP.py")
    p.add_argument("model", metavar="MODEL.tflite")
    p.add_argument("files", metavar="FILES", nargs="*", help="labels and other extra files")
    p.add_argument("--board", default="auto", help="board profile name, or auto (default)")
    p.add_argument("--port", help="serial port or socket://host:port (default: the only USB one)")
    p.add_argument("--transport", choices=("mpremote", "ampy", "drive"),
                   help="default: drive with --drive, else mpremote")
    p.add_argument("--drive", metavar="PATH", help="the board's mounted drive (CIRCUITPY)")
    p.add_argument("--romfs", action="store_true",
                   help="put package and model in the board's ROMFS partition (mounted at /rom)")
    p.add_argument("--main", action="store_true",
                   help="install the app as main.py (code.py on CircuitPython) so it runs at boot")
    p.add_argument("--no-convert", action="store_true",
                   help="copy the .tflite as is instead of the converted .tmdl")
    p.add_argument("--force", action="store_true", help="copy even if the fit check fails")
    p.add_argument("--dry-run", action="store_true",
                   help="with --board NAME: build and check the fit only, contact no board")
    return p


def default_port():
    from serial.tools import list_ports
    usb = [p.device for p in list_ports.comports() if getattr(p, "vid", None)]
    if len(usb) != 1:
        raise LinkError("board not found: %s USB serial ports; give --port"
                        % ("no" if not usb else "several (%s)" % ", ".join(usb)))
    return usb[0]


def connect(args):
    transport = args.transport or ("drive" if args.drive else "mpremote")
    if transport == "drive":
        if not args.drive:
            raise LinkError("--transport drive needs --drive PATH")
        return Drive(args.drive)
    return open_board(args.port or default_port(), transport)


def choose_profile(args, target):
    info = target.board_info()
    if args.board == "auto":
        if info.get("implementation") == "unknown":
            raise boards.BoardNotFound("cannot tell which board %s is (no boot_out.txt): "
                                       "use --board NAME" % target.port)
        profile = boards.identify(info)
    else:
        profile = boards.get(args.board)
    mpy = info.get("mpy")
    arch = info.get("mpy_arch")
    if arch and profile["mpy_arch"] and arch != profile["mpy_arch"]:
        raise deploy.FitError("the board runs %s code but profile %s is for %s: check --board"
                              % (arch, profile["name"], profile["mpy_arch"]))
    if mpy is not None and not profile["circuitpython"] and (mpy & 0xFF) != deploy.MPY_VERSION:
        raise deploy.FitError("the board's firmware loads .mpy v%d, mpy-cross makes v%d: "
                              "update the firmware" % (mpy & 0xFF, deploy.MPY_VERSION))
    return profile, info


def build(args, profile, out, heap=None, rom=None):
    """Stage what the board needs and check the fit (board figures when given, else the
    profile's); FitError unless --force."""
    st = deploy.stage(profile, args.app, args.model, args.files, romfs=args.romfs,
                      convert=not args.no_convert, as_main=args.main)
    try:
        notes = deploy.check_fit(profile, st, args.romfs, heap, None, rom)
    except deploy.FitError:
        if not args.force:
            raise
        notes = ["fit check failed, copying anyway (--force)"]
    for note in st.notes + notes:
        out("note: " + note)
    return st


def dry_run(args, out):
    """--dry-run: build and check against the profile; list what would be copied."""
    if args.board == "auto":
        raise boards.BoardNotFound("--dry-run needs --board NAME (no board is contacted)")
    profile = boards.get(args.board)
    out("board: %s (%s), dry run" % (profile["name"], profile["title"]))
    st = build(args, profile, out)
    for path, data in st.files:
        out("  %-44s %9d" % (path, len(data)))
    if args.romfs:
        out("  ROMFS image: %d bytes (%d files, model at %s)"
            % (len(build_image(st.rom)), len(st.rom), st.model_remote))
    out("total: %d bytes" % st.total())
    return {"copied": [], "skipped": [], "removed": [], "bytes": 0,
            "would_copy": [p for p, _ in st.files]}


def filesystem_root(target):
    """Where files go: the board's working directory after a reset ('/' on ESP32 and RP2,
    '/flash' or '/sd' on pyboard-style boards such as OpenMV), '/' of a drive."""
    if isinstance(target, Drive):
        return "/"
    return target.exec("import os\nprint(os.getcwd())").strip() or "/"


def under(root, path):
    return root.rstrip("/") + path


def rom_progress(out):
    """A live percentage while the ROMFS image is written, on a terminal only."""
    if out is not print or not sys.stdout.isatty():
        return None
    return lambda done, total: sys.stdout.write("\r  ROMFS %3d%%" % (100 * done // total))


def write(target, args, st, out):
    if args.romfs:
        image = build_image(st.rom)
        try:
            state = deploy_rom(target, image, rom_progress(out))
        except LinkError as e:
            raise RomfsError("%s while writing the ROMFS image: the board boots without /rom "
                             "until tinyml-flash --romfs runs again; its files are unchanged"
                             % e)
        out(("\r" if rom_progress(out) else "") + "ROMFS image %d bytes: %s" % (len(image), state))
    root = filesystem_root(target)
    files = [(under(root, p), d) for p, d in st.files]
    start = time.monotonic()
    result = sync(target, files, out, prune_below=under(root, deploy.PACKAGE_DIR), root=root)
    took = max(time.monotonic() - start, 1e-3)
    out("done: %d copied (%d bytes in %.1f s, %.1f KiB/s), %d already there; model at %s"
        % (len(result["copied"]), result["bytes"], took, result["bytes"] / 1024.0 / took,
           len(result["skipped"]), st.model_remote if args.romfs else
           under(root, st.model_remote)))
    if args.romfs:
        target.soft_reset()  # remounts /rom with the new image
    return result


def check_inputs(args):
    """Missing files are reported before any board is contacted."""
    for what, path in [("app", args.app), ("model", args.model)] + \
            [("file", f) for f in args.files]:
        if not os.path.isfile(path):
            raise deploy.FitError("%s not found: %s" % (what, path))


def flash(args, out=print):
    check_inputs(args)
    if args.dry_run:
        return dry_run(args, out)
    with connect(args) as target:
        profile, info = choose_profile(args, target)
        out("board: %s (%s) on %s" % (profile["name"], info.get("machine") or "?", target.port))
        rom = None
        if args.romfs:
            if isinstance(target, Drive):
                raise RomfsError("--romfs needs a serial link (mpremote or ampy), not a drive")
            rom = rom_partition_size(target)
            if rom is None:
                raise RomfsError("this board has no ROMFS partition: flash without --romfs")
        st = build(args, profile, out, info.get("mem_free"), rom)
        return write(target, args, st, out)


def main(argv=None):
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        flash(args)
    except USER_ERRORS as e:
        print("tinyml-flash: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tinyml-flash: interrupted: the board keeps its previous files unless the "
              "final switch had begun; run tinyml-flash again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
