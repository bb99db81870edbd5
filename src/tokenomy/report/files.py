"""Writing files safely: never over an existing file without ``force``, and a set of files all or nothing.

``write_files({path: content})`` checks every target first (folder exists, name is more than an
extension, no existing file unless ``force``), writes each content to a temporary file in the
target's own folder, then moves them into place with ``os.replace`` (atomic per file on POSIX and
Windows). If anything fails, the temporary files are removed and targets already moved are
rolled back (removed, or restored from their backup when ``force`` replaced an existing file), so
either every file of the set is written or none is.

A content is text (``str``), ``bytes``, or a callable ``render(path)`` that writes the file itself
(a chart library that only writes to a path); the path it gets keeps the target's extension.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import SpecError

Content = str | bytes | Callable[[Path], object]


def check_target(path: str | Path, *, flag: str, force: bool, suffixes: tuple[str, ...] = ()) -> Path:
    """``path`` as a Path after checking it can be written (see the module docstring); raises SpecError."""
    p = Path(path)
    if not p.name or p.name in (".", "..") or (p.name.startswith(".") and p.suffix == "" and
                                              p.name.lower() in {s.lower() for s in suffixes}):
        example = f"out{suffixes[0]}" if suffixes else "out.json"
        raise SpecError(f"{flag} needs a file name, got {str(path)!r}; e.g. {flag} {example}.")
    if suffixes and p.suffix.lower() not in suffixes:
        raise SpecError(f"{flag} must name a {' or '.join(suffixes)} file, got {str(path)!r}.")
    folder = p.parent
    if not folder.is_dir():
        raise SpecError(f"{flag}: the folder {str(folder)!r} does not exist; create it (mkdir -p {folder}) "
                        "or choose another path.")
    if p.is_dir():
        raise SpecError(f"{flag}: {str(p)!r} is a folder; give a file name inside it.")
    if p.exists() and not force:
        raise SpecError(f"{str(p)!r} already exists; pass --force to overwrite it or choose another name.")
    return p


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp_beside(p: Path, tag: str) -> Path:
    fd, name = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.", suffix=f".{tag}{p.suffix}")
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())     # mkstemp makes 0600; a written file gets the usual permissions
    return Path(name)


def _write_one(tmp: Path, content: Content) -> None:
    if callable(content):
        content(tmp)
    elif isinstance(content, bytes):
        tmp.write_bytes(content)
    else:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())


def write_files(contents: Mapping[Path, Content] | Mapping[str, Content], *, flag: str = "--out",
                force: bool = False) -> list[Path]:
    """Write every file of ``contents`` or none (see the module docstring); returns the paths written."""
    targets = [(check_target(p, flag=flag, force=force), c) for p, c in contents.items()]
    if len({t for t, _ in targets}) != len(targets):
        raise SpecError(f"{flag}: two outputs would share one file name; choose another name.")
    temps: list[Path] = []
    moved: list[tuple[Path, Path | None]] = []          # (target, backup of the file it replaced)
    try:
        for p, content in targets:
            tmp = _temp_beside(p, "tmp")
            temps.append(tmp)
            _write_one(tmp, content)
        for (p, _), tmp in zip(targets, temps, strict=True):
            backup = None
            if p.exists():
                backup = _temp_beside(p, "bak")
                os.replace(p, backup)
            moved.append((p, backup))
            os.replace(tmp, p)
    except BaseException:
        for p, backup in reversed(moved):
            if backup is not None:
                os.replace(backup, p)
            else:
                p.unlink(missing_ok=True)
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    for _, backup in moved:
        if backup is not None:
            backup.unlink(missing_ok=True)
    return [p for p, _ in targets]


PLOT_SUFFIXES = {".png": "matplotlib", ".html": "plotly"}


def render_plot(path: str | Path, plotly_fn, matplotlib_fn) -> Path:
    """Draw to ``path`` with plotly (.html) or matplotlib (anything else, .png) and return it. Writes in place:
    callers that must not overwrite go through ``write_files`` (the CLI does)."""
    p = Path(path)
    (plotly_fn if p.suffix.lower() == ".html" else matplotlib_fn)(p)
    return p


def check_plot_target(path: str | Path, *, force: bool, suffixes: tuple[str, ...] = (".png", ".html")) -> Path:
    """Check a ``--plot`` target and that the library for its format imports (SpecError with the fix)."""
    p = check_target(path, flag="--plot", force=force, suffixes=suffixes)
    lib = PLOT_SUFFIXES[p.suffix.lower()]
    try:
        __import__(lib)
    except ImportError:
        raise SpecError(f"--plot {p.suffix.lower()} needs {lib}: pip install 'tokenomy[plot]'.") from None
    return p
