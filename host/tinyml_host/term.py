"""Terminal output for the host tools: tables, sizes, a progress bar, one-line errors."""
import os
import sys
import time


class UserError(Exception):
    """A mistake the user can fix (missing file, bad option, model that does not fit).

    The CLI prints its message on one line and exits with status 2, no traceback.
    """


def fmt_int(n):
    """12345678 -> '12,345,678'."""
    return '{:,}'.format(int(n))


def fmt_bytes(n):
    """Bytes in the largest unit that keeps 1-4 digits: '812 B', '23.4 KiB', '2.49 MiB'."""
    n = int(n)
    if n < 1024:
        return '%d B' % n
    for unit in ('KiB', 'MiB', 'GiB'):
        n /= 1024.0
        if n < 1024 or unit == 'GiB':
            return ('%.1f %s' if n < 100 else '%.0f %s') % (n, unit)
    return '%d B' % n


def fmt_us(us):
    """Microseconds as '850 us', '12.3 ms' or '1.25 s'."""
    if us < 1000:
        return '%d us' % us
    if us < 1000000:
        return '%.1f ms' % (us / 1000.0)
    return '%.2f s' % (us / 1e6)


def _is_number(text):
    t = text.replace(',', '').replace('%', '').replace('x', '').strip()
    for suffix in (' B', ' KiB', ' MiB', ' GiB', ' us', ' ms', ' s'):
        if t.endswith(suffix):
            t = t[:-len(suffix)]
            break
    try:
        float(t)
        return True
    except ValueError:
        return False


def table(headers, rows, title=None):
    """Rows of cells as an aligned text table; numeric columns are right-aligned."""
    cells = [[str(c) for c in row] for row in rows]
    head = [str(h) for h in headers]
    widths = [len(h) for h in head]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_is_number(r[i]) or r[i] in ('', '-') for r in cells)
               and any(_is_number(r[i]) for r in cells) for i in range(len(head))]

    def line(row):
        out = []
        for i, c in enumerate(row):
            out.append(c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]))
        return '  '.join(out).rstrip()

    lines = [title] if title else []
    lines.append(line(head))
    lines.append('  '.join('-' * w for w in widths))
    lines.extend(line(r) for r in cells)
    return '\n'.join(lines)


def key_values(pairs):
    """[('arena', '12 KiB'), ...] as 'arena  12 KiB' lines with aligned values."""
    width = max((len(k) for k, _ in pairs), default=0)
    return '\n'.join('%s  %s' % (k.ljust(width), v) for k, v in pairs)


def progress_enabled(stream):
    if os.environ.get('TINYML_PROGRESS') == '1':
        return True
    if os.environ.get('TINYML_PROGRESS') == '0':
        return False
    return hasattr(stream, 'isatty') and stream.isatty()


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal (or TINYML_PROGRESS=1).

        with Progress(len(items), 'converting') as bar:
            for item in items:
                ...; bar.step(item_name)
    """

    WIDTH = 30

    def __init__(self, total, label, stream=None):
        self.total = max(1, total)
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = progress_enabled(self.stream)
        self.start = time.monotonic()
        self._drawn = False

    def step(self, what='', n=1):
        self.done = min(self.total, self.done + n)
        self.draw(what)

    def draw(self, what=''):
        if not self.enabled:
            return
        filled = self.WIDTH * self.done // self.total
        bar = '#' * filled + '.' * (self.WIDTH - filled)
        elapsed = time.monotonic() - self.start
        text = '\r%s [%s] %d/%d %4.1fs %s' % (self.label, bar, self.done, self.total,
                                               elapsed, what[:30])
        self.stream.write(text.ljust(100)[:100])
        self.stream.flush()
        self._drawn = True

    def close(self):
        if self._drawn:
            self.stream.write('\r' + ' ' * 100 + '\r')
            self.stream.flush()
            self._drawn = False

    def __enter__(self):
        self.draw()
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class Spinner(Progress):
    """Progress for work of unknown length (a subprocess): a bar that fills with time."""

    def __init__(self, label, expected_s=5.0, stream=None):
        Progress.__init__(self, 100, label, stream)
        self.expected_s = expected_s

    def tick(self):
        elapsed = time.monotonic() - self.start
        self.done = min(99, int(100 * elapsed / (elapsed + self.expected_s)))
        self.draw()
