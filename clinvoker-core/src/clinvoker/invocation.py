"""Turning a :class:`~clinvoker.request.Command` into the exact argv and environment to spawn.

* ``Command.files`` are written into a private temporary directory (mode 0700, files 0600).
* ``{file:NAME}`` in argv items and env values becomes the path of file ``NAME``.
* The environment is the current one plus ``Command.env`` and any extra variables; a value of
  ``""`` removes a variable.

Nothing is spawned here (that is :mod:`clinvoker.runner`'s job).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from clinvoker.errors import BackendCrashed, UsageError
from clinvoker.request import Command

__all__ = ["Invocation"]

_FILE_REF = re.compile(r"\{file:([^{}]+)\}")


class Invocation:
    """The argv, environment and temporary files of one spawn. Call :meth:`cleanup` afterwards."""

    def __init__(
        self, command: Command, executable: str, extra_env: Mapping[str, str] | None = None
    ) -> None:
        cwd = command.cwd
        if cwd is not None and not os.path.isdir(cwd):
            raise UsageError(
                f"working directory {cwd!r} does not exist",
                hint="pass an existing directory with --workdir",
            )
        self.tmpdir: str | None = None
        try:
            paths = self._write_files(command.files)
            self.argv = [_substitute(a, paths) for a in (executable, *command.argv[1:])]
            self.env = dict(os.environ)
            for key, value in (*command.env.items(), *(extra_env or {}).items()):
                if value == "":
                    self.env.pop(key, None)
                else:
                    self.env[key] = _substitute(value, paths)
        except BaseException:
            self.cleanup()
            raise

    def _write_files(self, files: Mapping[str, bytes]) -> dict[str, str]:
        paths: dict[str, str] = {}
        if not files:
            return paths
        import tempfile  # most commands have no files: spare every spawn the import

        self.tmpdir = tempfile.mkdtemp(prefix="clinvk-")
        for name, content in files.items():
            if not name or "/" in name or name in (".", ".."):
                raise BackendCrashed(f"the backend asked for a file with an invalid name {name!r}")
            path = os.path.join(self.tmpdir, name)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            paths[name] = path
        return paths

    def cleanup(self) -> None:
        """Remove the temporary files (idempotent)."""
        if self.tmpdir is not None:
            import shutil

            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


def _substitute(text: str, paths: Mapping[str, str]) -> str:
    if not paths or "{file:" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        # Only names the backend asked for are placeholders; anything else (e.g. a user's prompt
        # that happens to contain "{file:x}") is left exactly as written.
        return paths.get(m[1], m[0])

    return _FILE_REF.sub(repl, text)
