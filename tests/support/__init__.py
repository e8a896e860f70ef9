"""Test support shared by the cross-package suites (``tests/e2e``, ``tests/cli``, ...).

* :mod:`support.fake_model_api` — a fake Anthropic/OpenAI/Gemini API on 127.0.0.1
  (modes, request log) that the real ``claude``, ``codex`` and ``gemini`` CLIs talk to.
* :mod:`support.clis` — finding the real CLIs, per-test environments that point them at the
  fake, and running ``clinvk`` or a CLI as a real subprocess.

``tests/conftest.py`` wraps these in fixtures (``fake_api``, ``cli_bin``, ``cli_env``, ``clinvk``).
"""
