"""Walking the config schema: dotted keys, value checks, text coercion and their error messages.

Used by :mod:`clinvoker.config` for the file, the ``CLINVK_*`` environment and ``config set``.
Every problem becomes one :class:`~clinvoker.errors.ConfigError` line of the form
``<source>: <key>: <what is wrong>``, where ``<source>`` is the file or variable it came from.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

import msgspec

from clinvoker.config_schema import Config
from clinvoker.errors import ConfigError

__all__ = ["coerce_text", "normalize", "resolve_key", "show_value", "struct_fields"]

_FIELDS: dict[type, dict[str, Any]] = {}
_REQUIRED: dict[type, tuple[str, ...]] = {}


def struct_fields(cls: type[msgspec.Struct]) -> dict[str, Any]:
    """Field name -> type (``Annotated`` kept) of a config section, computed once per class."""
    found = _FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls, include_extras=True)
        found = {name: hints[name] for name in cls.__struct_fields__}
        _FIELDS[cls] = found
        _REQUIRED[cls] = tuple(f.name for f in msgspec.structs.fields(cls) if f.required)
    return found


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _unwrap(tp: Any) -> tuple[Any, msgspec.Meta | None, bool]:
    """``(base type, constraints, optional)`` of an annotation."""
    meta = None
    if typing.get_origin(tp) is typing.Annotated:
        tp, *extras = typing.get_args(tp)
        meta = next((e for e in extras if isinstance(e, msgspec.Meta)), None)
    optional = False
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        tp = args[0] if len(args) == 1 else tp
    return tp, meta, optional


def _printable(text: str) -> str:
    """``text`` with control characters escaped, so an error message stays on one line."""
    return text if text.isprintable() else repr(text)[1:-1]


def _dotted(segments: list[str] | tuple[str, ...]) -> str:
    return ".".join(_printable(s) for s in segments)


def show_value(value: Any) -> str:
    """A value as a user wrote it, short: ``'text'``, ``true``, ``42``, ``[a, b]``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(show_value(v) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = (
            "{"
            + ", ".join(f"{_printable(str(k))}: {show_value(v)}" for k, v in value.items())
            + "}"
        )
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _all_keys(cls: type = Config, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, tp in struct_fields(cls).items():
        base, _, _ = _unwrap(tp)
        key = prefix + name
        keys.append(key)
        if _is_struct(base):
            keys.extend(_all_keys(base, key + "."))
        elif typing.get_origin(base) is dict:
            value_type, _, _ = _unwrap(typing.get_args(base)[1])
            if _is_struct(value_type):
                keys.extend(_all_keys(value_type, key + ".<name>."))
    return keys


def _suggest(path: list[str], name: str, siblings: list[str]) -> str:
    """`` (did you mean 'x'?)`` or ``''``."""
    import difflib

    close = difflib.get_close_matches(name.lower(), siblings, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{_dotted([*path, close[0]])}'?)"
    elsewhere = [k for k in _all_keys() if k.rsplit(".", 1)[-1] == name.lower()]
    if elsewhere:
        return f" (did you mean '{elsewhere[0]}'?)"
    parent = _dotted(path) + "." if path else ""
    return f" (known keys here: {', '.join(parent + s for s in siblings)})"


def unknown_key_error(path: list[str], name: str, cls: type, source: str | None) -> ConfigError:
    """``unknown key 'server.prot' in config.yaml (did you mean 'server.port'?)``."""
    siblings = list(struct_fields(cls))
    name = name.lower() if name.isupper() else name  # CLINVK_SERVER__PROT
    where = (
        f"key '{_dotted([*path, name])}' in {source}"
        if source
        else f"config key '{_dotted([*path, name])}'"
    )
    return ConfigError(f"unknown {where}{_suggest(path, name, siblings)}")


def _field_name(cls: type, key: str) -> str | None:
    fields = struct_fields(cls)
    if key in fields:
        return key
    lowered = key.lower()  # the Go tool (viper) read keys case-insensitively
    return lowered if lowered in fields else None


def resolve_key(key: str | list[str], source: str | None = None) -> tuple[list[str], Any]:
    """Canonical segments and type of a dotted key; :class:`ConfigError` if there is no such key.

    Dict entries take any name (``backends.mytool.model``, ``server.model_aliases.fast``); a
    dict of plain values takes the rest of the key as the entry name, so names may contain dots.
    """
    segments = key.split(".") if isinstance(key, str) else list(key)
    prefix = f"{source}: " if source else ""
    if not segments or any(s == "" for s in segments):
        raise ConfigError(f"{prefix}'{key}' is not a config key (keys look like server.port)")
    tp: Any = Config
    done: list[str] = []
    i = 0
    while i < len(segments):
        base, _, _ = _unwrap(tp)
        seg = segments[i]
        if _is_struct(base):
            name = _field_name(base, seg)
            if name is None:
                raise unknown_key_error(done, seg, base, source)
            done.append(name)
            tp = struct_fields(base)[name]
        elif typing.get_origin(base) is dict:
            value_type = typing.get_args(base)[1]
            if _is_struct(_unwrap(value_type)[0]):
                done.append(seg.lower())
            else:
                done.append(".".join(segments[i:]))
                i = len(segments) - 1
            tp = value_type
        else:
            raise ConfigError(
                f"{prefix}'{_dotted(done)}' is a single value; '{_dotted(segments)}' does not exist"
            )
        i += 1
    return done, tp


def _expected(base: Any, meta: msgspec.Meta | None) -> str:
    noun = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        base, str(base)
    )
    if meta is not None and base in (int, float):
        lo, hi = meta.ge, meta.le
        if lo is not None and hi is not None:
            return f"{noun} between {lo:g} and {hi:g}"
        if lo is not None:
            return f"{noun} >= {lo:g}" if lo else f"a non-negative {noun.split()[-1]}"
    return noun


def _scalar(value: Any, tp: Any, where: str) -> Any:
    base, meta, optional = _unwrap(tp)
    if value is None and optional:
        return None
    if typing.get_origin(base) is Literal:
        allowed = typing.get_args(base)
        if value in allowed:
            return value
        shown = ", ".join(str(a) for a in allowed if a != "")
        tail = " (or empty)" if "" in allowed else ""
        raise ConfigError(f"{where}: {show_value(value)} is not one of {shown}{tail}")
    if base is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # `model: 4` in YAML is the string the user meant
    if isinstance(value, bool) and base in (int, float):
        raise ConfigError(f"{where}: {show_value(value)} is not {_expected(base, meta)}")
    try:
        return msgspec.convert(value, tp, strict=False)
    except msgspec.ValidationError:
        raise ConfigError(f"{where}: {show_value(value)} is not {_expected(base, meta)}") from None


def normalize(value: Any, tp: Any, path: list[str], source: str) -> Any:
    """Check ``value`` against type ``tp`` and return it in canonical form.

    Keys are matched case-insensitively, ``null`` entries are dropped (the default applies), a
    comma-separated string is accepted for a list of strings, and scalars are converted
    (``"8080"`` -> 8080, as the Go tool did). Raises :class:`ConfigError` naming ``source``.
    """
    base, _, _ = _unwrap(tp)
    where = ": ".join(filter(None, (source, _dotted(path))))
    if _is_struct(base):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a section of keys, got {show_value(value)}")
        fields = struct_fields(base)  # also fills _REQUIRED[base], even for an empty section
        out: dict[str, Any] = {}
        for raw_key, item in value.items():
            name = _field_name(base, str(raw_key))
            if name is None:
                raise unknown_key_error(path, str(raw_key), base, source)
            if item is not None:
                out[name] = normalize(item, fields[name], [*path, name], source)
        missing = [f for f in _REQUIRED[base] if f not in out]
        if missing:
            raise ConfigError(f"{where}: missing required key '{missing[0]}'")
        return out
    origin = typing.get_origin(base)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping of names, got {show_value(value)}")
        value_type = typing.get_args(base)[1]
        lower = _is_struct(_unwrap(value_type)[0])
        return {
            (str(k).lower() if lower else str(k)): normalize(v, value_type, [*path, str(k)], source)
            for k, v in value.items()
            if v is not None
        }
    if origin is list:
        item_type = typing.get_args(base)[0]
        if isinstance(value, str) and _unwrap(item_type)[0] is str:
            return [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {show_value(value)}")
        return [
            normalize(v, item_type, [*path[:-1], f"{path[-1]}[{i}]"], source)
            for i, v in enumerate(value)
        ]
    return _scalar(value, tp, where)


_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


def coerce_text(text: str, tp: Any, where: str) -> Any:
    """Parse a value typed by a person (env var, ``config set``) into ``tp``'s shape.

    Booleans accept true/false, yes/no, on/off, 1/0; lists accept ``a,b`` or a JSON list;
    sections, mappings and lists of sections take JSON.
    """
    base, _, optional = _unwrap(tp)
    text = text.strip()
    if optional and text.lower() in ("", "null", "none"):
        return None
    if base is bool:
        low = text.lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise ConfigError(f"{where}: {show_value(text)} is not true or false")
    origin = typing.get_origin(base)
    if origin is list and _unwrap(typing.get_args(base)[0])[0] is str and not text.startswith("["):
        return [part.strip() for part in text.split(",") if part.strip()]
    if origin in (list, dict) or _is_struct(base):
        try:
            return msgspec.json.decode(text)
        except msgspec.DecodeError:
            shape = "a JSON list" if origin is list else "a JSON object"
            raise ConfigError(f"{where}: {show_value(text)} is not {shape}") from None
    return text
