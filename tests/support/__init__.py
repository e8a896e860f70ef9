"""Test support shared by the cross-package suites (``tests/e2e``, ``tests/cli``, ...).

* :mod:`support.fake_model_api` — a fake Anthropic/OpenAI/Gemini API on 127.0.0.1 (modes such as
  ``401``, ``500x2``, ``tool``, ``echo``, ``slow2``; a request log) that the real ``claude``,
  ``codex`` and ``gemini`` CLIs talk to. Modes are listed in :mod:`support.fake_replies`.
* :mod:`support.clis` — finding the real CLIs, per-test environments that point them at the
  fake, and running ``clinvk`` or a CLI as a real subprocess (process group killed at the end).
* :mod:`support.netns` — bringing loopback up inside ``unshare -n``.

``tests/conftest.py`` wraps these in fixtures. A typical real-CLI test::

    pytestmark = pytest.mark.realcli

    def test_codex_answers(cli_env, clinvk, fake_api):
        env = cli_env("codex", "echo")             # own HOME/TMPDIR/CODEX_HOME/CLINVK_HOME
        rc, out, err = clinvk(["-b", "codex", "-o", "text", "ping"], env)
        assert (rc, out) == (0, "Echo: ping\\n"), err
        assert fake_api.model_calls()[-1].last_user_text == "ping"

For in-process library calls, ``use_env(env)`` makes that environment the process's own.
Several concurrent runs against one server can be told apart with ``cli_env(..., tag="t1")`` and
``fake_api.log(tag="t1")``.
"""
