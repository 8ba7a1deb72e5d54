"""How a command reports a user's config error: one line on stderr, exit code 2, no traceback.

``HYDRA_FULL_ERROR=1`` (the variable Hydra users already know) keeps the traceback instead.
"""

from __future__ import annotations

import contextlib
import os
import sys

from diffcomp.config.errors import ConfigError

EXIT_CONFIG_ERROR = 2


@contextlib.contextmanager
def config_errors_as_exit():
    """Turn a :class:`ConfigError` raised inside into ``error: <message>`` and exit status 2."""
    try:
        yield
    except ConfigError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_CONFIG_ERROR)
