"""Write a feed file atomically, and only when its bytes changed.

A reader polling mid-write must never see half a file, and a rewrite with the same bytes
would still wake every cache and mirror that watches modification times. So: compare with
what is on disk, write to a temporary file in the same folder, fsync, rename over the old
one. The file's modification time is set to the feed's newest item change, so
``Last-Modified`` (H1) is truthful even when a plain static-file server serves the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from publisher.exceptions import FeedError


def write_if_changed(
    path: Path, data: bytes, modified: datetime | None = None, sync_folder: bool = True
) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that; True if written.

    ``sync_folder=False`` leaves the fsync of the folder (which makes the rename durable)
    to the caller, who may write many files into one folder and sync it once.
    """
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise FeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            if modified is not None:
                stamp = modified.timestamp()
                os.utime(tmp, (stamp, stamp))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if sync_folder:
            sync_dir(path.parent)
    except OSError as exc:
        raise FeedError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return True


def remove_if_present(path: Path) -> bool:
    """Delete a feed file that should no longer exist; True if one was there."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise FeedError(f"{path}: cannot remove: {exc.strerror or exc}") from exc
    return True


def sync_dir(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
