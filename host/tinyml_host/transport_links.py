"""Raw-REPL links to a board: one class per host library (mpremote, adafruit-ampy).

A link has `exec_raw(code_bytes, timeout) -> (stdout_bytes, stderr_bytes)`, `soft_reset()` and
`close()`. Every failure of the link itself (no such port, board silent, cable pulled) is
raised as LinkError; what the board's code raised comes back in stderr_bytes.
"""
import os


class LinkError(Exception):
    """The board could not be reached, or the link broke."""


def _check_port(port):
    if "://" not in port and not os.path.exists(port):
        raise LinkError("board not found: no such port %s" % port)


class MpremoteLink:
    """mpremote's SerialTransport (also takes socket://host:port and rfc2217:// URLs)."""

    def __init__(self, port, timeout=10, soft_reset=True):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        _check_port(port)
        self._errors = (TransportError, OSError, ValueError, IndexError)
        try:
            self.t = SerialTransport(port, baudrate=115200, timeout=timeout)
        except Exception as e:
            raise LinkError("board not found on %s (%s)" % (port, e))
        self._call(self.t.enter_raw_repl, soft_reset=soft_reset)

    def _call(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Exception as e:
            if isinstance(e, self._errors) or e.__class__.__name__ == "SerialException":
                raise LinkError("link to the board lost (%s)" % (str(e) or type(e).__name__))
            raise

    def exec_raw(self, code, timeout=30):
        return self._call(self.t.exec_raw, code, timeout=timeout)

    def soft_reset(self):
        self._call(self.t.enter_raw_repl, soft_reset=True)

    def close(self):
        try:
            self.t.exit_raw_repl()
            self.t.close()
        except Exception:
            pass


class AmpyLink:
    """adafruit-ampy's Pyboard (a serial device path; it soft-resets on entering raw REPL)."""

    def __init__(self, port, timeout=10, soft_reset=True):
        from ampy.pyboard import Pyboard, PyboardError
        _check_port(port)
        self._errors = (PyboardError, OSError, ValueError, IndexError)
        try:
            self.pyb = Pyboard(port)
        except Exception as e:
            raise LinkError("board not found on %s (%s)" % (port, e))
        self.pyb.serial.timeout = timeout  # ampy opens the port without one: reads could hang
        self._call(self.pyb.enter_raw_repl)

    def _call(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except Exception as e:
            if isinstance(e, self._errors) or e.__class__.__name__ == "SerialException":
                raise LinkError("link to the board lost (%s)" % (str(e) or type(e).__name__))
            raise

    def exec_raw(self, code, timeout=30):
        return self._call(self.pyb.exec_raw, code, timeout=timeout)

    def soft_reset(self):
        self._call(self.pyb.enter_raw_repl)

    def close(self):
        try:
            self.pyb.exit_raw_repl()
            self.pyb.close()
        except Exception:
            pass


LINKS = {"mpremote": MpremoteLink, "ampy": AmpyLink}
