"""OmegaConf resolvers used by ``conf/`` (registered on import of :mod:`diffcomp.config`)."""

from __future__ import annotations

import hashlib

from omegaconf import OmegaConf

MAX_DIRNAME = 120  # file systems cap a path component at 255 bytes; leave room for readers' eyes


def job_dirname(override_dirname: str) -> str:
    """A job's directory name: its overrides (``data.sigma=0.5,lambda=0.3``) when short enough,
    else their head plus a digest of the whole, so that long override lists (many swept keys,
    list values) still give a valid, unique and stable directory."""
    name = override_dirname or "defaults"
    if len(name) <= MAX_DIRNAME:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_DIRNAME - 12]}-{digest}"


def register() -> None:
    if not OmegaConf.has_resolver("dc.job_dir"):
        OmegaConf.register_new_resolver("dc.job_dir", job_dirname)
