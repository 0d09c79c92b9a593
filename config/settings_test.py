"""The settings `pytest` loads: the same settings module, with APP_ENV defaulting to `test`."""

from __future__ import annotations

import os

os.environ.setdefault("APP_ENV", "test")

from config.settings import *  # noqa: E402,F403
