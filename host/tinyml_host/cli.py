"""`tinyml` command line: inspect, convert, run, boards, flash, emulate.

Each subcommand lives in its own module exposing add_arguments(parser) and main(args);
boards and flash belong to their own modules (boards.main(argv), flash.main(argv)).
"""
import argparse
import importlib
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_DEVICE = os.path.join(os.path.dirname(os.path.dirname(_HERE)), 'device')
if os.path.isdir(os.path.join(_DEVICE, 'tinyml')) and _DEVICE not in sys.path:
    sys.path.insert(0, _DEVICE)  # source checkout: the very same device package

from .term import UserError  # noqa: E402

# subcommand -> (module, one-line help)
COMMANDS = {
    'inspect': ('inspect_model', 'per-op table: shapes, quantization, MACs, weights, arena plan'),
    'convert': ('convert', 'write the compact board format (.tmdl) of a .tflite model'),
    'run': ('run', 'run a model on the unix port or a board; --check compares with TFLM'),
}
# subcommands whose module parses its own argv
FORWARDED = {
    'boards': ('boards', 'list supported boards and their RAM/flash'),
    'flash': ('flash', 'copy tinyml (and a model) onto a board'),
    'emulate': ('emulator', 'the MicroPython unix port as a board on a pty, for trying things out'),
}


def _import(module):
    try:
        return importlib.import_module('tinyml_host.' + module)
    except ImportError as e:
        if getattr(e, 'name', None) == 'tinyml_host.' + module:
            raise UserError('this tinyml install has no %s command (tinyml_host.%s missing)'
                            % (module, module))
        raise


def build_parser():
    parser = argparse.ArgumentParser(
        prog='tinyml', description='Run int8 TFLite models on MicroPython/CircuitPython boards.')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        _import(module).add_arguments(p)
    for name, (module, help_text) in FORWARDED.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def dispatch(argv):
    if argv and argv[0] in FORWARDED:
        return _import(FORWARDED[argv[0]][0]).main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    return _import(COMMANDS[args.command][0]).main(args)


def error_message(e):
    """One line for an exception the user caused, or None for a bug (show the traceback)."""
    from tinyml.errors import ModelError
    if isinstance(e, (UserError, ModelError)):
        return str(e)
    if isinstance(e, FileNotFoundError):
        return 'no such file: %s' % e.filename
    if isinstance(e, IsADirectoryError):
        return 'is a directory, expected a file: %s' % e.filename
    if isinstance(e, PermissionError):
        return 'permission denied: %s' % e.filename
    if isinstance(e, OSError) and e.filename:
        return '%s: %s' % (e.filename, e.strerror)
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        code = dispatch(argv)
    except KeyboardInterrupt:
        sys.stderr.write('tinyml: interrupted\n')
        return 130
    except BrokenPipeError:         # `tinyml inspect m.tflite | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:
        msg = error_message(e)
        if msg is None:
            raise
        sys.stderr.write('tinyml: error: %s\n' % msg.strip().splitlines()[0] if msg.strip()
                         else 'tinyml: error: %s\n' % type(e).__name__)
        return 2
    return code or 0


if __name__ == '__main__':
    sys.exit(main())
