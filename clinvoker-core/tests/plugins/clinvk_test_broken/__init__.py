"""A plugin whose dependency is not installed: importing it fails."""

from __future__ import annotations

import clinvk_missing_dependency  # type: ignore[import-not-found]  # noqa: F401
