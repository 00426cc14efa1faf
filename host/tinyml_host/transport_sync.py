"""Atomic, hash-skipping copy of a file list onto a board (transport.Board or transport_drive.Drive).

    sync(target, files, out=print, prune_below=None, root="/")
        -> {"copied": [...], "skipped": [...], "removed": [...], "bytes": n}
    root: the filesystem the files go to (its statvfs is checked)

1. ask the board for the sha256 of every destination (and of leftover temp files);
2. files whose hash already matches are skipped;
3. free space is checked (statvfs) against what the changed files need *while the old ones
   still exist*: nothing is written when it cannot fit;
4. every changed file is written to `<path>.tinyml-new`, and its board-side sha256 compared
   with the host's;
5. only when all are verified are they renamed over the old files, in one board command;
6. with prune_below (the package folder), files there that the new list lacks are removed.
A cut link before step 5 leaves the previous app untouched (the temp files are cleaned up by
the next run); SyncError says what happened.
"""
import hashlib
import sys

from .transport import BoardError
from .transport_links import LinkError

TMP = ".tinyml-new"


class SyncError(Exception):
    """Copying failed; the message says what is on the board now."""


def _kib(n):
    return "%.1f KiB" % (n / 1024.0)


def block_size(target, root="/"):
    if hasattr(target, "block_size"):
        return target.block_size()
    st = target.statvfs(root)
    return st[1] or st[0] or 4096


def space_needed(files, bsize):
    """Blocks the new copies occupy next to the old files, plus slack for the fs itself."""
    blocks = sum((len(d) + bsize - 1) // bsize + 1 for _, d in files)
    return (blocks + 2) * bsize


def plan(target, files):
    """-> (changed [(path, data)], skipped [path], stale temps [path])."""
    paths = [p for p, _ in files]
    hashes = target.sha256_many(paths + [p + TMP for p in paths])
    changed = [(p, d) for p, d in files if hashes[p] != hashlib.sha256(d).hexdigest()]
    skipped = [p for p, d in files if (p, d) not in changed]
    stale = [p + TMP for p in paths if hashes[p + TMP] is not None]
    return changed, skipped, stale


def check_space(target, changed, root="/"):
    free = target.free_bytes(root)
    need = space_needed(changed, block_size(target, root))
    if need > free:
        raise SyncError("board filesystem full: the new files need %s, %s free; nothing was "
                        "changed on the board" % (_kib(need), _kib(free)))


class Progress:
    """One line per file with the overall percentage; on a terminal also a live line while a
    file is being written (a 300 KB model takes half a minute at 115200 baud)."""

    def __init__(self, changed, out):
        self.total = sum(len(d) for _, d in changed) or 1
        self.before = 0
        self.out = out
        self.live = out is print and sys.stdout.isatty()

    def line(self, i, n, path, size, done):
        return "  [%d/%d] %-36s %9s  %3d%%" % (i, n, path, _kib(size),
                                              100 * (self.before + done) // self.total)

    def writing(self, i, n, path, size):
        if not self.live:
            return None
        return lambda done, total: sys.stdout.write("\r" + self.line(i, n, path, size, done))

    def file_done(self, i, n, path, size):
        text = self.line(i, n, path, size, size)
        self.before += size
        self.out(("\r" if self.live else "") + text)


def _is_full(err):
    text = str(err) + getattr(err, "traceback", "")
    return getattr(err, "errno", None) == 28 or "ENOSPC" in text or "Errno 28" in text \
        or "OSError: 28" in text


def _is_read_only(err):
    text = str(err) + getattr(err, "traceback", "")
    return getattr(err, "errno", None) == 30 or "EROFS" in text or "OSError: 30" in text \
        or "Errno 30" in text


def _remove_quietly(target, paths):
    for p in paths:
        try:
            target.remove(p)
        except (BoardError, OSError, LinkError):
            pass


def upload(target, changed, out):
    prog = Progress(changed, out)
    written = []
    try:
        for i, (path, data) in enumerate(changed, 1):
            written.append(path + TMP)
            target.put(data, path + TMP, prog.writing(i, len(changed), path, len(data)))
            if target.sha256(path + TMP) != hashlib.sha256(data).hexdigest():
                raise SyncError("verify failed for %s: the board's sha256 differs; nothing was "
                                "changed on the board" % path)
            prog.file_done(i, len(changed), path, len(data))
    except LinkError as e:
        raise SyncError("%s while copying %s: the board keeps the previous app (new files were "
                        "not activated); run tinyml-flash again" % (e, path))
    except (BoardError, OSError) as e:
        _remove_quietly(target, written)
        if _is_read_only(e):
            raise SyncError("the board's filesystem is read-only to the REPL (CircuitPython: "
                            "copy through its drive with --drive)")
        if _is_full(e):
            raise SyncError("board filesystem full while writing %s; nothing old was removed"
                            % path)
        raise SyncError("writing %s failed on the board: %s; nothing old was removed"
                        % (path, e))
    except SyncError:
        _remove_quietly(target, written)
        raise


def activate(target, changed):
    pairs = [(path + TMP, path) for path, _ in changed]
    try:
        target.rename_many(pairs)
    except LinkError as e:
        raise SyncError("%s while switching to the new files (all were copied and verified; "
                        "the board was told to switch): run tinyml-flash again to check" % e)
    except (BoardError, OSError) as e:
        raise SyncError("switching to the new files failed on the board: %s; run tinyml-flash "
                        "again" % e)


def prune(target, files, folder, out):
    """Remove files below `folder` that the new file list no longer has (old package modules);
    done after the switch, so the previous app stays whole until then."""
    keep = {p for p, _ in files}
    stale = [p for p in target.walk(folder) if p not in keep]
    _remove_quietly(target, stale)
    if stale:
        out("  removed %d old file(s) below %s" % (len(stale), folder))
    return stale


def sync(target, files, out=print, prune_below=None, root="/"):
    try:
        changed, skipped, stale = plan(target, files)
        _remove_quietly(target, stale)
    except LinkError as e:
        raise SyncError("%s before anything was copied" % e)
    if skipped:
        out("  %d file(s) already on the board (same sha256), skipped" % len(skipped))
    if changed:
        check_space(target, changed, root)
        upload(target, changed, out)
        activate(target, changed)
    removed = []
    if prune_below:
        try:
            removed = prune(target, files, prune_below, out)
        except LinkError as e:
            raise SyncError("%s after the new files were in place (old package files may be "
                            "left over)" % e)
    return {"copied": [p for p, _ in changed], "skipped": skipped, "removed": removed,
            "bytes": sum(len(d) for _, d in changed)}
