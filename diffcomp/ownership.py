"""Who runs a job now: a job directory is owned by one process at a time.

The owner holds an OS file lock (``flock``) on ``<job dir>/owner.lock``. The kernel releases it when
the process ends, however it ends (``kill -9`` included), so a dead owner never leaves a job locked
and a job whose record says ``running`` while its lock is free has lost its owner. The lock file
also names the owner (host, pid, start time), for status and for the message of a second launch.
The lock is advisory: only diffcomp's own processes take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)

LOCK_NAME = "owner.lock"


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str = ""

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}"

    def gone(self) -> bool:
        """True when the owner ran on this host and its process no longer exists."""
        if self.host != platform.node() or self.pid <= 0:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # someone else's live process
            return False
        return False


def _read_owner(fd: int) -> Owner | None:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"null")
        return Owner(str(info["host"]), int(info["pid"]), str(info.get("started", "")))
    except (OSError, ValueError, TypeError, KeyError):
        return None  # not written yet, or written by hand


class JobLock:
    """The held lock on one job directory; :meth:`release` (or the process's end) frees it."""

    def __init__(self, fd: int | None, path: Path) -> None:
        self.fd, self.path = fd, path

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor releases the flock
            self.fd = None

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def claim(job_dir: str | Path, attempts: int = 5, pause_s: float = 0.1) -> JobLock | None:
    """Take ownership of ``job_dir``, or return None when another live process owns it.

    Tried ``attempts`` times ``pause_s`` apart, so a status probe that holds the lock for an instant
    never makes a launch skip a job. On a file system without ``flock`` (e.g. Lustre mounted without
    ``-o flock``) it warns and runs unguarded, as a job did before locks.
    """
    path = Path(job_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        for attempt in range(attempts):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt + 1 == attempts:
                    os.close(fd)
                    return None
                time.sleep(pause_s)
            except OSError as error:
                log.warning("cannot lock %s (%s): this job is not guarded against a second launch", path, error)
                break
        started = datetime.now(timezone.utc).isoformat(timespec="seconds")
        info = json.dumps({"host": platform.node(), "pid": os.getpid(), "started": started}).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, info, 0)
    except BaseException:
        os.close(fd)
        raise
    return JobLock(fd, path)


def owner_of(job_dir: str | Path) -> Owner | None:
    """The live process that owns ``job_dir``, or None: no lock file, the lock free, or its owner's
    pid dead on this host (a lock kept by an orphaned child process). An owner of unknown name reads
    ``?:0``; where ``flock`` is unsupported the named owner is trusted unless it is gone."""
    path = Path(job_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None  # free: nobody owns the job (closing the descriptor lets go at once)
        except BlockingIOError:
            held = True
        except OSError:
            held = False  # cannot tell: trust the name in the file
        owner = _read_owner(fd)
        if owner is None:
            return Owner("?", 0) if held else None
        return None if owner.gone() else owner
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
