"""Entry point of ``clinvk`` (the console script ``clinvk = clinvoker.cli.main:main``).

Kept tiny: ``clinvk version`` is answered without importing click or any plugin, and so is
``clinvk --help`` once its text is cached (:mod:`clinvoker.cli.helpcache`). A plain prompt
(``clinvk -b codex "fix the test"``) takes :mod:`clinvoker.cli.fastrun`, which starts the CLI
before loading the rest; everything else builds the click application in :mod:`clinvoker.cli.app`.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not from typing: `clinvk version` should not pay for importing it
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run ``clinvk`` with ``argv`` (default: the process arguments) and exit."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["version"]:
        from clinvoker.cli.buildinfo import version_text

        sys.stdout.write(version_text())
        sys.stdout.flush()
        raise SystemExit(0)
    if args in (["--help"], ["-h"], ["help"]):
        from clinvoker.cli import helpcache

        if helpcache.help_cache_enabled():
            text = helpcache.cached_help()
            if text is not None:
                sys.stdout.write(text)
                sys.stdout.flush()
                raise SystemExit(0)
            raise SystemExit(helpcache.render_help(args))
    if args and args[0] not in ("help", "-h", "--help"):
        from clinvoker.cli import fastrun

        parsed = fastrun.parse(args)
        if parsed is not None:
            code = fastrun.run(parsed)
            if code is not None:
                _exit_now(code)
    from clinvoker.cli.app import cli

    cli.main(args, prog_name="clinvk")
    raise SystemExit(0)  # pragma: no cover - cli.main always exits


def _exit_now(code: int) -> NoReturn:
    """Flush the output and leave without the interpreter's tear-down (~20 ms of module and
    object clean-up that nothing here needs: files are closed, children reaped)."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            if stream is sys.stdout and code == 0:
                code = 1  # the output did not all reach its reader (a closed pipe)
    os._exit(code)


if __name__ == "__main__":
    main()
