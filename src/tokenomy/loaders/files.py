"""The one reader of files: text, JSON, JSONL, YAML and TOML, as plain checked data.

Every problem becomes one tokenomy error (the class the caller names) whose message names the file,
the line or field, and the fix: a missing file, a binary or non-UTF-8 file, a parse error, nesting
deeper than ``MAX_DEPTH``, NaN or infinite numbers (``NaN``, ``Infinity``, ``1e400``, ``.inf``) and
integers too large for a float. What the data means is checked by the caller's schema.
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ..errors import TokenomyError

MAX_DEPTH = 32              # nesting levels any tokenomy file needs (profiles use 3)
MAX_BYTES = 512 * 2**20     # larger files are refused before reading (100k case lines are ~10 MB)
MAX_NODES = 10_000_000      # values walked per file (stops YAML alias bombs)
MAX_NAME_CHARS = 4096       # longest name or path looked up (Linux PATH_MAX)
MAX_PART_CHARS = 255        # longest file or folder name in it (NAME_MAX)
FORMATS = {".json": "json", ".jsonl": "jsonl", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}


def check_name(name: str, what: str, error: type[TokenomyError]) -> str:
    """``name`` (a catalog name or a path) when the OS could look it up: not empty, no NUL byte, not longer
    than ``MAX_NAME_CHARS``."""
    too_long = len(name) > MAX_NAME_CHARS or any(len(part) > MAX_PART_CHARS for part in name.split("/"))
    if not name.strip() or "\x00" in name or too_long:
        shown = name if len(name) <= 60 else name[:60] + f"...({len(name)} characters)"
        raise error(f"{what} {shown!r} is not a usable name or path (empty, a NUL byte, over {MAX_NAME_CHARS} "
                    f"characters, or a part over {MAX_PART_CHARS}); pass a catalog name or an existing file.")
    return name


def read_text(path: str | Path, error: type[TokenomyError], what: str = "file") -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped)."""
    p = Path(check_name(str(path), what, error))
    if not p.exists():
        raise error(f"{what} not found: {str(p)!r}. Check the path.")
    if not p.is_file():
        raise error(f"{str(p)!r} is not a file; pass the path of a {what}.")
    try:
        if p.stat().st_size > MAX_BYTES:
            raise error(f"{p}: {p.stat().st_size / 2**20:.0f} MiB is larger than the {MAX_BYTES // 2**20} MiB "
                        f"a {what} may have; split it.")
        data = p.read_bytes()
    except OSError as e:
        raise error(f"Cannot read {p}: {e.strerror or e}.") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise error(f"{p}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); is it a binary file? "
                    f"Pass a UTF-8 {what}.") from None


def parse_text(text: str, label: str, fmt: str, error: type[TokenomyError]) -> Any:
    """``text`` parsed as ``fmt`` ('json', 'yaml' or 'toml') and checked by ``check_data``."""
    name = fmt.upper()
    try:
        if fmt == "json":
            data = json.loads(text)
        elif fmt == "toml":
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text)
    except RecursionError:
        raise error(f"{label}: nested deeper than {MAX_DEPTH} levels; no tokenomy file needs that.") from None
    except json.JSONDecodeError as e:
        raise error(f"{label}: not valid JSON ({e.msg} at line {e.lineno} column {e.colno}).") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise error(f"{label}: not valid YAML ({getattr(e, 'problem', None) or e}{where}).") from None
    except (tomllib.TOMLDecodeError, ValueError) as e:     # ValueError: e.g. an integer of 5,000 digits
        raise error(f"{label}: not valid {name} ({e}).") from None
    check_data(data, label, error)
    return data


def read_data(path: str | Path, error: type[TokenomyError], what: str = "file", fmt: str | None = None) -> Any:
    """A JSON, YAML or TOML file (format from ``fmt``, else the suffix, else YAML), parsed and checked."""
    p = Path(path)
    return parse_text(read_text(p, error, what), str(p), fmt or FORMATS.get(p.suffix.lower(), "yaml"), error)


def read_jsonl(path: str | Path, error: type[TokenomyError], what: str = "JSONL file") -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line of a JSONL file; each line must be a JSON object."""
    p = Path(path)
    out = []
    for i, line in enumerate(read_text(p, error, what).splitlines(), 1):
        if line.strip():
            out.append((i, require_mapping(parse_text(line, f"{p} line {i}", "json", error),
                                           f"{p} line {i}", error, "a JSON object")))
    return out


def require_mapping(data: Any, label: str, error: type[TokenomyError], what: str = "a mapping") -> dict:
    """``data`` if it is a dict with string keys, else ``error`` naming what was found."""
    if not isinstance(data, dict):
        got = "nothing (an empty file)" if data is None else f"a {type(data).__name__} ({_short(data)})"
        raise error(f"{label}: expected {what}, got {got}.")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise error(f"{label}: key {_short(bad[0])} is not text; keys are field names.")
    return data


def check_data(data: Any, label: str, error: type[TokenomyError]) -> None:
    """Every number finite and below 1e300, nesting at most ``MAX_DEPTH``, at most ``MAX_NODES`` values."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    seen = 0
    while stack:
        x, where, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise error(f"{label}: more than {MAX_NODES:,} values (YAML aliases expanding?); simplify the file.")
        if depth > MAX_DEPTH:
            raise error(f"{label}: field {where!r} is nested deeper than {MAX_DEPTH} levels; "
                        "no tokenomy file needs that.")
        if isinstance(x, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in x.items())
        elif isinstance(x, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(x))
        elif isinstance(x, float) and not math.isfinite(x):
            raise error(f"{label}: field {where or 'value'!r} is {x} (NaN, Infinity or out of float range); "
                        "write a finite number.")
        elif isinstance(x, int) and not isinstance(x, bool) and abs(x) > 1e300:
            digits = int(x.bit_length() * 0.30103)
            raise error(f"{label}: field {where or 'value'!r} is an integer of about {digits} digits; "
                        "write a physical value.")


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def validation_text(exc: Any) -> str:
    """A pydantic ValidationError as 'field: problem (got value)', one clause per error, '; '-joined."""
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = str(e["msg"]).removeprefix("Value error, ")
        got = "" if e["type"] == "value_error" or "input" not in e else f" (got {_short(e['input'])})"
        parts.append(f"field {loc!r}: {msg}{got}" if loc else msg)
    return "; ".join(parts)
