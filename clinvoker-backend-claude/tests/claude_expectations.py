"""What a user should see for every recorded ``claude`` run in ``transcripts/``.

One :class:`Expect` per transcript: the events (summarised by ``test_claude_replay.summary``),
the answer, the session id, this turn's usage and cost, and the error with its code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HELLO = "Hello from fake model"
ONE_CALL = (16, 7, 3, 2)  # 11 fresh + 3 cache read + 2 cache write in, 7 out
TWO_CALLS = (27, 14, 3, 2)  # a tool call: two requests
NOTHING = (0, 0, 0, 0)
COST_ONE = 0.0001464  # the CLI's own price for ONE_CALL on claude-sonnet-4-5
COST_TWO = 0.0002844


@dataclass(frozen=True)
class Expect:
    events: list[tuple[Any, ...]]
    content: str
    session_id: str | None
    usage: tuple[int, int, int, int] | None = None
    cost: float | None = None
    error: str | None = None
    """Start of the error message (the CLI's own words, then our hint)."""
    code: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    """Other Result fields to check (num_turns, stop_reason, permission_denials, model)."""


def ok_json(sid: str, cost: float = COST_ONE) -> Expect:
    return Expect(
        [("session", sid), ("delta", HELLO), ("usage", *ONE_CALL)],
        HELLO,
        sid,
        ONE_CALL,
        cost,
        details={"num_turns": 1, "stop_reason": "end_turn"},
    )


def ok_stream(sid: str) -> Expect:
    return Expect(
        [("session", sid), ("delta", HELLO), ("message", HELLO), ("usage", *ONE_CALL)],
        HELLO,
        sid,
        ONE_CALL,
        COST_ONE,
        details={"num_turns": 1, "stop_reason": "end_turn"},
    )


def ok_text(session_id: str | None = None) -> Expect:
    return Expect([("delta", HELLO)], HELLO, session_id)


def api_error(sid: str, message: str, code: str) -> Expect:
    return Expect(
        [("session", sid), ("usage", *NOTHING), ("error", code, True)],
        "",
        sid,
        NOTHING,
        0.0,
        message,
        code,
    )


def text_error(message: str, code: str) -> Expect:
    # text mode prints the error where the answer would go: it streams, then the result says so
    return Expect([("delta", message)], "", None, error=message, code=code)


def startup_error(message: str, code: str) -> Expect:
    return Expect([], "", None, error=message, code=code)


AUTH = "Invalid API key · Fix external API key"
RATE = (
    "API Error: Request rejected (429) · Number of request tokens has exceeded your "
    "per-minute rate limit (fake)"
)
E500 = "API Error: 500 Internal server error (fake). This is a server-side issue"
E529 = "API Error: 529 Overloaded (fake). This is a server-side issue"
BAD_MODEL = "There's an issue with the selected model (claude-nonexistent-9)."
EMPTY = "API Error: API returned an empty or malformed response (HTTP 200)"
MALFORMED = "API Error: Failed to parse JSON"
NO_CONVERSATION = "No conversation found with session ID: "
ROOT_BYPASS = (
    "--dangerously-skip-permissions cannot be used with root/sudo privileges for security "
    "reasons. Claude Code refuses to bypass permissions (approval mode 'none') when run as root."
)
DENIED_TOUCH = ("Bash(touch tool-marker.txt)",)
TOOL_TEXT = "Let me run it."

EXPECTED: dict[str, Expect] = {
    # -- claude 2.1.330 (cumulative cost on resume) --------------------------------------------
    "claude-2.1.330__err_401_json": api_error(
        "91dad898-9c04-47e8-af9c-96a405817443", AUTH, "authentication_failed"
    ),
    "claude-2.1.330__json_ok": ok_json("52dba658-c10a-4edd-afca-544a773aadd0"),
    # the CLI reports total_cost_usd 0.0002928 for the whole session; this turn cost half
    "claude-2.1.330__resume_by_id_stream_json": ok_stream("52dba658-c10a-4edd-afca-544a773aadd0"),
    "claude-2.1.330__timing_text_0": ok_text(),
    "claude-2.1.330__timing_text_1": ok_text(),
    "claude-2.1.330__timing_text_2": ok_text(),
    "claude-2.1.330__local_stdin_system_prompt_file_json": ok_json(
        "58c1c4b9-1337-43b2-91c8-3ba8de1b5eae"
    ),
    # 2.1.330 marks the broken-off deltas "abandoned" and bills both attempts
    "claude-2.1.330__local_truncated_partial_stream_json": Expect(
        [
            ("session", "bbb95d1c-a380-4dc3-8051-9840afd7d843"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake model"),
            ("message", HELLO),
            ("usage", 32, 8, 6, 4),
        ],
        HELLO,
        "bbb95d1c-a380-4dc3-8051-9840afd7d843",
        (32, 8, 6, 4),
        0.0002328,
    ),
    "claude-2.1.330__local_tool_partial_stream_json": Expect(
        [
            ("session", "6d35ebbe-eae5-47c3-bb2e-d8b34be51871"),
            ("delta", TOOL_TEXT),
            ("message", TOOL_TEXT),
            ("tool_use", "Bash", "echo tool-ran"),
            ("tool_result", "Bash", False, "tool-ran"),
            ("delta", "\n\n"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        f"{TOOL_TEXT}\n\n{HELLO}",
        "6d35ebbe-eae5-47c3-bb2e-d8b34be51871",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2},
    ),
    "claude-2.1.330__local_toolw_plan_stream_json": Expect(
        [
            ("session", "1a21190e-7dd9-4028-a462-8256bc9c4f16"),
            ("delta", TOOL_TEXT),
            ("message", TOOL_TEXT),
            ("tool_use", "Bash", "touch tool-marker.txt"),
            ("tool_result", "Bash", True, "touch in '$T/project/tool-marker.txt' needs approval."),
            ("delta", "\n\n"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        f"{TOOL_TEXT}\n\n{HELLO}",
        "1a21190e-7dd9-4028-a462-8256bc9c4f16",
        TWO_CALLS,
        COST_TWO,
        details={"permission_denials": ("Bash(touch tool-marker.txt)",)},
    ),
    "claude-2.1.330__local_resume_unknown_id_stream_json": Expect(
        [
            ("session", "00000000-0000-4000-8000-000000000000"),
            ("usage", 0, 0, 0, 0),
            ("error", "session_not_found", True),
        ],
        "",
        "00000000-0000-4000-8000-000000000000",
        (0, 0, 0, 0),
        0.0,
        "No conversation found with session ID: 00000000-0000-4000-8000-000000000000",
        "session_not_found",
    ),
    "claude-2.1.330__local_root_bypass_refused_stream_json": Expect(
        [],
        "",
        None,
        error="--dangerously-skip-permissions cannot be used with root/sudo privileges",
        code="permission_denied",
    ),
    # -- successful runs, json ------------------------------------------------------------------
    "claude__append_system_prompt_json": ok_json("fd0a8835-e889-41c4-b816-8bfdf21c20f7"),
    "claude__bare_json": ok_json("366e8198-e763-4202-9195-f1b4e04d5959"),
    "claude__continue_last_json": ok_json("81ed8e26-b076-45af-9b0b-ab28e32e78a7"),
    "claude__default_model_json": Expect(
        [
            ("session", "d88a6e52-9b5b-483b-8da0-84fd3498176f"),
            ("delta", HELLO),
            ("usage", *ONE_CALL),
        ],
        HELLO,
        "d88a6e52-9b5b-483b-8da0-84fd3498176f",
        ONE_CALL,
        0.000244,
        details={"model": "claude-opus-4-8[1m]"},
    ),
    "claude__err_429x2_then_ok_default_retries_json": ok_json(
        "c3e730b0-50f8-48b0-8d61-a9c0e94a4bab"
    ),
    # the stream broke off; the CLI refetched without streaming: usage only in modelUsage
    "claude__err_truncated_json": ok_json("eecd79c3-25ca-47bb-83dd-386c9a324981"),
    "claude__flags_json": ok_json("b51b6c57-3726-48ca-a3a0-fe3e7253fa9f"),
    "claude__json_ok": ok_json("8813f7c3-67f9-48fd-a2a1-e3813f21bd5a"),
    "claude__resume_by_id_json": ok_json("8813f7c3-67f9-48fd-a2a1-e3813f21bd5a"),
    "claude__resume_fork_session_json": ok_json("81ed8e26-b076-45af-9b0b-ab28e32e78a7"),
    "claude__session_id_preset_json": ok_json("11111111-2222-4333-8444-555555555555"),
    "claude__side_traffic_defaults_json": ok_json("6cc51a07-666c-4ee4-9f57-042f0a860156"),
    "claude__side_traffic_only_CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC_json": ok_json(
        "3e691496-34ef-44eb-941a-d31553ff0615"
    ),
    "claude__side_traffic_only_DISABLE_TELEMETRY_json": ok_json(
        "9f10732c-1a09-4232-88de-d8031ed1b128"
    ),
    "claude__stdin_open_pipe_json": ok_json("7cd1a55d-2ca8-40ed-babc-7d134b6ed200"),
    "claude__stdin_prompt_json": ok_json("b30e3319-489c-42e5-810e-7dfa3971eb81"),
    "claude__tmpdir_json": ok_json("c0224fa1-5f0a-4d6f-833f-d659c18c20da"),
    "claude__local_json_verbose_list": Expect(
        [
            ("session", "ab3f8d76-f760-418f-85c4-5bb0de2b81fb"),
            ("delta", HELLO),
            ("message", HELLO),
            ("usage", *ONE_CALL),
        ],
        HELLO,
        "ab3f8d76-f760-418f-85c4-5bb0de2b81fb",
        ONE_CALL,
        COST_ONE,
    ),
    # -- successful runs, stream-json -----------------------------------------------------------
    "claude__err_truncated_stream_json": ok_stream("652591ff-f71c-47f2-b78b-a667051abc4e"),
    "claude__resume_by_id_stream_json": ok_stream("8813f7c3-67f9-48fd-a2a1-e3813f21bd5a"),
    "claude__stream_json_ok": ok_stream("b668f2e6-8fa5-4c93-877e-14d754270134"),
    "claude__timing2_stream_json_0": ok_stream("e6df7b8f-1ce3-4298-9888-f34152f3696d"),
    "claude__timing2_stream_json_1": ok_stream("0f616610-52c3-4117-8076-3d4d194b17d9"),
    "claude__timing2_stream_json_2": ok_stream("a495af31-0b50-4366-8224-d521278d26eb"),
    "claude__stream_json_partial_ok": Expect(
        [
            ("session", "ad6167ba-0608-4e4a-bb54-d9b0a2a8debe"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *ONE_CALL),
        ],
        HELLO,
        "ad6167ba-0608-4e4a-bb54-d9b0a2a8debe",
        ONE_CALL,
        COST_ONE,
    ),
    "claude__local_stdin_leading_dash_stream_json": Expect(
        [
            ("session", "5e3f8d51-9ca1-4f40-8d88-3a8a6b4cad43"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *ONE_CALL),
        ],
        HELLO,
        "5e3f8d51-9ca1-4f40-8d88-3a8a6b4cad43",
        ONE_CALL,
        COST_ONE,
    ),
    # two deltas streamed, then the refetched message (new id) completes them: no repeat
    "claude__local_truncated_partial_stream_json": Expect(
        [
            ("session", "735c0e9d-37cc-466a-8835-b2dd55e5064a"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake model"),
            ("message", HELLO),
            ("usage", *ONE_CALL),
        ],
        HELLO,
        "735c0e9d-37cc-466a-8835-b2dd55e5064a",
        ONE_CALL,
        COST_ONE,
    ),
    # -- tools and permissions ------------------------------------------------------------------
    "claude__toolw_acceptedits_json": Expect(
        [
            ("session", "f4ed503b-9140-49e3-9d69-be82eb3d7532"),
            ("delta", HELLO),
            ("usage", *TWO_CALLS),
        ],
        HELLO,
        "f4ed503b-9140-49e3-9d69-be82eb3d7532",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "permission_denials": ()},
    ),
    "claude__toolw_allowed_json": Expect(
        [
            ("session", "c8492588-f7fb-4d97-be92-f565e16a53be"),
            ("delta", HELLO),
            ("usage", *TWO_CALLS),
        ],
        HELLO,
        "c8492588-f7fb-4d97-be92-f565e16a53be",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "permission_denials": ()},
    ),
    "claude__toolw_default_perms_json": Expect(
        [
            ("session", "8bd4afac-12a4-4cbc-b651-7d0ea85f600c"),
            ("delta", HELLO),
            ("usage", *TWO_CALLS),
        ],
        HELLO,
        "8bd4afac-12a4-4cbc-b651-7d0ea85f600c",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "permission_denials": DENIED_TOUCH},
    ),
    "claude__toolw_bypass_stream_json": Expect(
        [
            ("session", "640ed8a6-a73e-4cc8-8c89-6525aa33c594"),
            ("tool_use", "Bash", "touch tool-marker.txt"),
            ("tool_result", "Bash", False, "(Bash completed with no output)"),
            ("delta", HELLO),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        HELLO,
        "640ed8a6-a73e-4cc8-8c89-6525aa33c594",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "permission_denials": ()},
    ),
    "claude__toolw_default_perms_stream_json": Expect(
        [
            ("session", "91d922c0-a053-42fd-a07f-afaa9244570b"),
            ("tool_use", "Bash", "touch tool-marker.txt"),
            (
                "tool_result",
                "Bash",
                True,
                "touch in '$CLIS/homes/claude/project/tool-marker.txt' was blocked.",
            ),
            ("delta", HELLO),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        HELLO,
        "91d922c0-a053-42fd-a07f-afaa9244570b",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "permission_denials": DENIED_TOUCH},
    ),
    # narration before the tool call and the final answer are separate messages: a blank line
    "claude__local_tool_partial_stream_json": Expect(
        [
            ("session", "7a6c0c69-8cd8-470b-8cbb-4a29c0d78e43"),
            ("delta", TOOL_TEXT),
            ("message", TOOL_TEXT),
            ("tool_use", "Bash", "echo tool-ran"),
            ("tool_result", "Bash", False, "tool-ran"),
            ("delta", "\n\n"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        f"{TOOL_TEXT}\n\n{HELLO}",
        "7a6c0c69-8cd8-470b-8cbb-4a29c0d78e43",
        TWO_CALLS,
        COST_TWO,
        details={"num_turns": 2, "stop_reason": "end_turn"},
    ),
    "claude__local_toolw_plan_stream_json": Expect(
        [
            ("session", "967a6d7f-7fb5-468c-b50d-a4f698f586e0"),
            ("delta", TOOL_TEXT),
            ("message", TOOL_TEXT),
            ("tool_use", "Bash", "touch tool-marker.txt"),
            ("tool_result", "Bash", True, "touch in '$T/project/tool-marker.txt' was blocked."),
            ("delta", "\n\n"),
            ("delta", "Hello"),
            ("delta", " from"),
            ("delta", " fake"),
            ("delta", " model"),
            ("message", HELLO),
            ("usage", *TWO_CALLS),
        ],
        f"{TOOL_TEXT}\n\n{HELLO}",
        "967a6d7f-7fb5-468c-b50d-a4f698f586e0",
        TWO_CALLS,
        COST_TWO,
        details={"permission_denials": DENIED_TOUCH},
    ),
    "claude__max_turns_1_tool_json": Expect(
        [
            ("session", "8267ed16-4a30-4d05-9858-db3f16f4df76"),
            ("usage", 11, 7, 0, 0),
            ("error", "max_turns", True),
        ],
        "",
        "8267ed16-4a30-4d05-9858-db3f16f4df76",
        (11, 7, 0, 0),
        0.000138,
        "Reached maximum number of turns (1)",
        "max_turns",
        details={"num_turns": 2, "stop_reason": "max_turns"},
    ),
    "claude__local_max_turns_stream_json": Expect(
        [
            ("session", "b5796740-3f8f-4a41-9f77-197eb649594f"),
            ("delta", TOOL_TEXT),
            ("message", TOOL_TEXT),
            ("tool_use", "Bash", "echo tool-ran"),
            ("tool_result", "Bash", False, "tool-ran"),
            ("usage", 11, 7, 0, 0),
            ("error", "max_turns", True),
        ],
        TOOL_TEXT,
        "b5796740-3f8f-4a41-9f77-197eb649594f",
        (11, 7, 0, 0),
        0.000138,
        "Reached maximum number of turns (1)",
        "max_turns",
        details={"stop_reason": "max_turns"},
    ),
    # -- API errors (CLAUDE_CODE_MAX_RETRIES=0) -------------------------------------------------
    "claude__err_401_json": api_error(
        "d744fb37-bde1-4e99-8732-7bdb8cb1b855", AUTH, "authentication_failed"
    ),
    "claude__err_401_stream_json": api_error(
        "f7f2a0b8-534a-4eb8-abca-5f8b756dda32", AUTH, "authentication_failed"
    ),
    "claude__err_401_text": text_error(AUTH, "authentication_failed"),
    "claude__err_no_api_key_json": api_error(
        "52209ee1-5ba7-4747-9779-35f9b4cdef5b",
        "Not logged in · Please run /login",
        "authentication_failed",
    ),
    "claude__err_429_json": api_error("a2924e30-06f0-46e3-bd4f-653c0372dfa5", RATE, "rate_limited"),
    "claude__err_429_stream_json": api_error(
        "d8a1e3e9-afb2-4c0f-8f17-3b61e0ad80d0", RATE, "rate_limited"
    ),
    "claude__err_429_text": text_error(RATE, "rate_limited"),
    "claude__err_500_json": api_error("edc906da-ffa8-4663-b021-7e2a90a86423", E500, "server_error"),
    "claude__err_500_stream_json": api_error(
        "dfe82a28-d868-4fe7-b962-775caa02c93f", E500, "server_error"
    ),
    "claude__err_529_json": api_error("159082e1-26e0-4be6-a2c4-f7e192a03d4d", E529, "server_error"),
    "claude__err_529_stream_json": api_error(
        "1ef362bc-e4f4-4600-9c70-3acfccbdb33e", E529, "server_error"
    ),
    "claude__err_bad_model_json": api_error(
        "4d048220-9bcd-4380-85b5-db771fdd55a5", BAD_MODEL, "model_not_found"
    ),
    "claude__err_bad_model_stream_json": api_error(
        "55bbd534-9256-4a17-843a-5b7594f74a32", BAD_MODEL, "model_not_found"
    ),
    "claude__err_empty_json": api_error(
        "4c145324-1063-4fda-8dfe-3014d2e56ac3", EMPTY, "server_error"
    ),
    "claude__err_empty_stream_json": api_error(
        "fe981048-d039-4185-9fda-5427086bb7a3", EMPTY, "server_error"
    ),
    "claude__err_malformed_json": api_error(
        "33c517f1-c56b-4a30-a531-2134b6a57e12", MALFORMED, "server_error"
    ),
    "claude__err_malformed_stream_json": api_error(
        "b196576d-06f3-4507-b19e-8aef6c09d98c", MALFORMED, "server_error"
    ),
    "claude__err_server_down_json": api_error(
        "e207899c-75e3-48c3-9822-339a2308c671",
        "API Error: Unable to connect to API (ConnectionRefused)",
        "connection_failed",
    ),
    # -- text mode ------------------------------------------------------------------------------
    "claude__err_500_text": text_error(
        "API Error: 500 Internal server error (fake). This is a server-side issue, usually "
        "temporary — try again in a moment. If it persists, check your inference gateway "
        "(127.0.0.1:8765).",
        "server_error",
    ),
    "claude__err_529_text": text_error(
        "API Error: 529 Overloaded (fake). This is a server-side issue, usually temporary — try "
        "again in a moment. If it persists, check your inference gateway (127.0.0.1:8765).",
        "server_error",
    ),
    "claude__err_empty_text": text_error(
        "API Error: API returned an empty or malformed response (HTTP 200) — check for a proxy "
        "or gateway intercepting the request",
        "server_error",
    ),
    "claude__err_malformed_text": text_error(MALFORMED, "server_error"),
    "claude__err_truncated_text": ok_text(),
    "claude__stdin_prompt_text": ok_text(),
    "claude__text_ok": ok_text(),
    "claude__timing2_text_0": ok_text(),
    "claude__timing2_text_1": ok_text(),
    "claude__timing2_text_2": ok_text(),
    "claude__timing_text_0": ok_text(),
    "claude__timing_text_1": ok_text(),
    "claude__timing_text_2": ok_text(),
    # text mode never prints the session id: the preset one is the answer
    "claude__local_ephemeral_text": ok_text("6f4a9e62-adb2-4a51-9e99-4b9b7c5dbe54"),
    # -- failures before any result (stderr only) -----------------------------------------------
    "claude__err_bad_flag": startup_error(
        "error: option '--output-format <format>' argument 'yaml' is invalid.", "invalid_request"
    ),
    "claude__stream_json_no_verbose": startup_error(
        "Error: When using --print, --output-format=stream-json requires --verbose",
        "invalid_request",
    ),
    "claude__resume_unknown_id": startup_error(
        NO_CONVERSATION + "00000000-0000-4000-8000-000000000000", "session_not_found"
    ),
    "claude__local_resume_ephemeral_json": startup_error(
        NO_CONVERSATION + "6f4a9e62-adb2-4a51-9e99-4b9b7c5dbe54", "session_not_found"
    ),
    # stream-json reports the unknown id in a result (error_during_execution) as well
    "claude__local_resume_unknown_id_stream_json": Expect(
        [
            ("session", "00000000-0000-4000-8000-000000000000"),
            ("usage", *NOTHING),
            ("error", "session_not_found", True),
        ],
        "",
        "00000000-0000-4000-8000-000000000000",
        NOTHING,
        0.0,
        NO_CONVERSATION + "00000000-0000-4000-8000-000000000000",
        "session_not_found",
        details={"num_turns": 0},
    ),
    "claude__local_session_in_use_json": startup_error(
        "Error: Session ID 5e3f8d51-9ca1-4f40-8d88-3a8a6b4cad43 is already in use.",
        "session_in_use",
    ),
    "claude__root_bypass_refused": startup_error(ROOT_BYPASS, "permission_denied"),
    "claude__local_root_bypass_refused_stream_json": startup_error(
        ROOT_BYPASS, "permission_denied"
    ),
    # killed by the harness after 90 s of retries: nothing printed
    "claude__err_500_default_retries_json": startup_error(
        "claude was killed by signal 9", "crashed"
    ),
}
