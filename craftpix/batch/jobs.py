"""Jobs files: one pattern request per row, read, checked, named and hashed before anything runs.

A jobs file is a CSV file (a header row, then one job a row) or a JSON Lines file (one JSON
object a line). Its columns are the options of ``craftpix beads|bricks|stitch`` without the
leading dashes (``size``, ``colors``, ``seed``, ``paper``, ``fabric-count`` or
``fabric_count``...), plus:

* ``craft`` (or ``medium``): ``beads``, ``bricks`` or ``stitch`` — required;
* ``name``: the job's folder under the output folder (default: the folder a single
  ``craftpix`` run would make, e.g. ``astronaut-beads-48x48``).

Each row goes through the craft command's own option parsing and
:func:`craftpix.cli.request_from_options`, so a row means exactly what the same options mean
on the command line. Empty cells (and JSON ``null``) leave an option at its default. Paths
(``image``, ``palette``, ``template``, and model or LoRA paths that exist) are relative to
the jobs file. ``out``, ``quiet``, ``resume`` and ``checkpoint-every`` cannot be set per job.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from craftpix.api import PatternRequest, resolve_palette
from craftpix.errors import CraftpixError, InputError
from craftpix.media import MEDIA, get_medium

__all__ = ["BadRow", "Job", "JobsFile", "read_jobs", "request_digest", "JOB_NAME"]

#: A job's folder name: one path component of letters, digits, ``-`` and ``_`` (no dots, so
#: it can never be ``..``, a hidden staging folder or the summary file), at most 100 long.
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: Columns a job may not set: the batch decides where and how jobs write.
RESERVED = {
    "force": "each batch job writes only its own folder under --out",
    "out": "the batch writes each job into its own folder under --out",
    "quiet": "batch jobs never draw their own progress bars",
    "resume": "a batch resumes by itself (rerun the batch)",
    "checkpoint_every": "a batch job's folder appears only when the job is complete",
}
_CRAFT_KEYS = ("craft", "medium")
_ERROR = "\0error"  # the key of a row that could not be read, with the reason
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


@dataclass(frozen=True)
class Job:
    """One valid row: where it came from, its folder name, its request and the request's hash.

    ``request`` is validated (:meth:`PatternRequest.validated`), with ``out=None`` and
    ``quiet=True``; the runner sets the folder. ``digest`` is :func:`request_digest` (64 hex
    characters), stored in the job's folder to tell an unchanged request on a rerun.
    """

    line: int
    name: str
    request: PatternRequest
    digest: str

    @property
    def needs_gpu(self) -> bool:
        """Prompt jobs (the diffusion engine) want a GPU; photo jobs run on a CPU."""
        return self.request.engine == "sds"


@dataclass(frozen=True)
class BadRow:
    """A row that cannot run: its line in the jobs file and one line saying why."""

    line: int
    message: str
    name: str | None = None


@dataclass
class JobsFile:
    """A read jobs file: the valid jobs and the bad rows, both in file order."""

    path: Path
    jobs: list[Job]
    bad: list[BadRow]

    def describe(self, row: BadRow) -> str:
        """``jobs.csv line 4: <why>`` — how a bad row is reported to the user."""
        return f"{self.path.name} line {row.line}: {row.message}"


# --- reading rows ------------------------------------------------------------------------------
def _iter_csv(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    # CSV rows end at CR/LF only (a form feed or other separator inside a cell is data)
    first = next((ln for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()), "")
    # Spreadsheets in many locales save CSV with semicolons (or tabs) between cells.
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    start = 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [_column(cell) for cell in row]
            _check_header(path, line, header)
            continue
        if len(row) > len(header) and any(cell.strip() for cell in row[len(header):]):
            yield line, {_ERROR: f"{len(row)} cells but the header names {len(header)} columns"}
            continue
        cells = dict(zip(header, row, strict=False))
        if cells.pop("", "").strip():
            yield line, {_ERROR: "a value in a column without a name"}
            continue
        yield line, cells
    if header is None:
        raise InputError(f"{path} has no header row (the first line names the columns)")


def _iter_json_lines(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield number, {_ERROR: f"not JSON ({exc.msg} at column {exc.colno})"}
            continue
        if not isinstance(value, dict):
            yield number, {_ERROR: "each line must be a JSON object of option: value"}
            continue
        yield number, {_column(str(k)): v for k, v in value.items()}


def _read_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line, {column: value})`` for every row; a row with key ``_ERROR`` is unreadable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"jobs file {path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"jobs file {path} is a folder") from None
    except UnicodeDecodeError:
        raise InputError(f"jobs file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read jobs file {path}: {exc.strerror or exc}") from None
    json_lines = (path.suffix.lower() in JSON_LINES_SUFFIXES
                  or (path.suffix.lower() != ".csv" and text.lstrip().startswith("{")))
    try:
        rows = list((_iter_json_lines if json_lines else _iter_csv)(path, text))
    except csv.Error as exc:
        raise InputError(f"{path.name} is not a CSV file craftpix can read: {exc}") from None
    if not rows:
        raise InputError(f"jobs file {path} holds no jobs")
    return rows


def _column(name: str) -> str:
    return name.strip().lstrip("-").lower().replace("-", "_")


def _check_header(path: Path, line: int, header: list[str]) -> None:
    known = set(_options()) | set(_CRAFT_KEYS) | {"name"}
    for key in header:
        if not key:  # a trailing separator; its cells must stay empty
            continue
        problem = _column_problem(key, known)
        if problem:
            raise InputError(f"{path.name} line {line}: {problem}")
    dup = next((k for k in header if k and header.count(k) > 1), None)
    if dup:
        raise InputError(f"{path.name} line {line}: column {dup!r} appears twice")


def _column_problem(key: str, known: set[str]) -> str | None:
    if key in RESERVED:
        return f"column {key!r} cannot be set per job ({RESERVED[key]})"
    if key not in known:
        return (f"unknown column {key!r}; columns are craft, name and the options of "
                "'craftpix beads|bricks|stitch' (size, image, prompt, colors, seed, ...)")
    return None


# --- a row through the craft command's options ------------------------------------------------
@functools.cache
def _options() -> dict[str, Any]:
    """``{column: click.Option}`` of the craft commands (each craft offers its own subset;
    a row's craft command checks its options when the row is parsed)."""
    import click

    from craftpix.cli import main
    from craftpix.media import MEDIA

    table: dict[str, Any] = {}
    for craft in MEDIA:
        for param in main.commands[craft].params:
            if not isinstance(param, click.Option) or param.is_eager:
                continue
            long = [o for o in param.opts if o.startswith("--")]
            if long and _column(long[0]) not in RESERVED:
                table.setdefault(_column(long[0]), param)
    return table


def _parse_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InputError(f"{key} must be true or false, got {value!r}")


def _as_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        raise InputError(f"{key} takes a value, not {str(value).lower()}")
    if isinstance(value, (list, tuple)):
        return ("x" if key in ("size", "hoop") else ",").join(str(v) for v in value)
    if isinstance(value, dict):
        raise InputError(f"{key} takes a value, not an object")
    return str(value).strip()


def _arguments(key: str, value: Any, base: Path) -> list[str]:
    """The command-line arguments that set option ``key`` to ``value``."""
    import click

    opt = _options()[key]
    long = next(o for o in opt.opts if o.startswith("--"))
    if opt.is_flag:
        on = _parse_bool(key, value)
        if opt.secondary_opts:
            return [long if on else next(o for o in opt.secondary_opts if o.startswith("--"))]
        return [long] if on else []
    text = _as_text(key, value)
    if isinstance(opt.type, click.Path) or "PATH" in (opt.metavar or ""):
        path = Path(text).expanduser()
        beside = base / path
        if not path.is_absolute() and (isinstance(opt.type, click.Path) or beside.exists()):
            text = str(beside)
    return [f"{long}={text}"]


def request_from_row(row: Mapping[str, Any], base: Path) -> tuple[str, PatternRequest]:
    """A row's folder name and its (not yet validated) request; raises :class:`InputError`.

    ``row`` maps column names (see the module docstring) to strings (CSV) or JSON values;
    ``base`` is the jobs file's folder, which relative paths start from.
    """
    import click

    from craftpix.cli import request_from_options

    values = {k: v for k, v in row.items() if v is not None and not (isinstance(v, str)
                                                                       and not v.strip())}
    crafts = {str(values.pop(k)).strip().lower() for k in _CRAFT_KEYS if k in values}
    if not crafts:
        raise InputError("give the craft (beads, bricks or stitch) in the craft column")
    if len(crafts) > 1:
        raise InputError("craft and medium name different crafts")
    craft = crafts.pop()
    if craft not in MEDIA:
        raise InputError(f"unknown craft {craft!r}; choose one of {', '.join(MEDIA)}")
    name = values.pop("name", None)
    known = set(_options())
    argv: list[str] = []
    for key, value in values.items():
        problem = _column_problem(key, known)
        if problem:
            raise InputError(problem)
        argv += _arguments(key, value, base)
    command = _craft_command(craft)
    try:
        with command.make_context(craft, argv) as ctx:
            opts = dict(ctx.params)
    except click.BadParameter as exc:
        raise InputError(_bad_value(exc, values)) from None
    except click.ClickException as exc:
        raise InputError(exc.format_message().replace("\n", " ")) from None
    request = request_from_options(craft, opts)
    folder = str(name).strip() if name is not None else Path(request.out or "pattern").name
    engine = request.engine if request.engine != "auto" else (
        "sds" if request.prompt and request.prompt.strip() else "photo")
    # The diffusion settings matter to prompt jobs only; without them a photo job's request
    # travels to its worker without pulling in the diffusion engine's modules.
    sds = request.sds if engine == "sds" else None
    return folder, dataclasses.replace(request, out=None, quiet=True, sds=sds)


def _bad_value(exc: Any, values: Mapping[str, Any]) -> str:
    """One line for a bad cell, named by its column as the jobs file has it:
    ``colors='abc': give a whole number from 1 to 500``."""
    import click

    param = exc.param
    long = next((o for o in getattr(param, "opts", ()) if o.startswith("--")), None)
    column = _column(long) if long else None
    if column is None or column not in values:
        return exc.format_message().replace("\n", " ")
    kind = param.type
    if isinstance(kind, click.IntRange) or kind is click.INT:
        lo, hi = getattr(kind, "min", None), getattr(kind, "max", None)
        span = (f" from {lo} to {hi}" if lo is not None and hi is not None
                else f" of at least {lo}" if lo is not None else "")
        return f"{column}={values[column]!r}: give a whole number{span}"
    return exc.format_message().replace("\n", " ")


def _craft_command(craft: str) -> Any:
    from craftpix.cli import main

    return main.commands[craft]


# --- checks that need more than the row ------------------------------------------------------
class _Files:
    """Content hashes and readability checks of the input files, each file read once."""

    def __init__(self) -> None:
        self._digests: dict[Path, str] = {}
        self._probed: dict[Path, str | None] = {}
        self._palettes: dict[tuple[Any, ...], str | None] = {}

    def digest(self, path: str | os.PathLike[str]) -> str:
        key = Path(path).resolve()
        if key not in self._digests:
            h = hashlib.sha256()
            with open(key, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            self._digests[key] = h.hexdigest()
        return self._digests[key]

    def describe(self, path: str | os.PathLike[str] | None) -> dict[str, str] | None:
        """An input file as it matters to the result: its name and its content's SHA-256."""
        if path is None:
            return None
        p = Path(path)
        return {"name": p.name, "sha256": self.digest(p) if p.is_file() else ""}

    def probe_image(self, path: str | os.PathLike[str]) -> None:
        """Raise :class:`InputError` unless ``path`` opens as an image (header only)."""
        key = Path(path).resolve()
        if key not in self._probed:
            self._probed[key] = _image_problem(Path(path))
        if self._probed[key]:
            raise InputError(self._probed[key])

    def check_palette(self, request: PatternRequest) -> None:
        """Raise :class:`InputError` for an unknown catalog or a malformed palette file."""
        part = request.export.get("part") if request.medium == "bricks" else None
        key = (request.medium, request.brand, str(request.palette), request.all_finishes, part)
        if key not in self._palettes:
            try:
                resolve_palette(get_medium(request.medium), request.brand, request.palette,
                                request.all_finishes, part)
                self._palettes[key] = None
            except CraftpixError as exc:
                self._palettes[key] = str(exc)
        if self._palettes[key]:
            raise InputError(self._palettes[key])


def _image_problem(path: Path) -> str | None:
    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        return f"{path} is a folder, not an image"
    if not path.is_file():
        return f"image {path} does not exist"
    try:
        with Image.open(path):
            pass
    except UnidentifiedImageError:
        return f"{path} is not an image craftpix can read (PNG, JPEG, WebP, ...)"
    except (OSError, Image.DecompressionBombError) as exc:
        return f"cannot read image {path}: {exc}"
    return None


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses and mappings as sorted dicts, paths as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def request_digest(request: PatternRequest, files: _Files | None = None) -> str:
    """SHA-256 (hex) of everything in a validated request that decides its result.

    Input files count by content (name and SHA-256 of the bytes), not by where they are, so a
    moved jobs folder keeps its hashes and an edited photo makes its jobs run again. ``out``
    and ``quiet`` do not count; the diffusion settings count only for prompt jobs.
    """
    files = files or _Files()
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)
              if f.name not in ("out", "quiet", "sds", "image", "palette")}
    fields["image"] = files.describe(request.image)
    fields["palette"] = files.describe(request.palette)
    if request.engine == "sds" and request.sds is not None:
        sds = _plain(request.sds)
        template = getattr(request.sds, "template", None)
        if template is not None:
            sds["template"] = files.describe(template)
        fields["sds"] = sds
    text = json.dumps(_plain(fields), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_jobs(path: str | os.PathLike[str]) -> JobsFile:
    """Read and check every row of a jobs file (see the module docstring for its columns).

    Nothing runs here: each row is turned into a validated :class:`PatternRequest`, its
    image opened (header only), its catalog or palette file read, its export options checked
    against its craft and size, its folder name checked (one safe path component, unique in
    the file, case-insensitively) and its request hashed. Returns the good jobs and the bad
    rows (one line each). Raises :class:`InputError` when the file itself is unreadable, has
    no jobs, or names an unknown column in its CSV header.
    """
    jobs_path = Path(path)
    base = jobs_path.resolve().parent
    files = _Files()
    jobs: list[Job] = []
    bad: list[BadRow] = []
    taken: dict[str, int] = {}
    for line, row in _read_rows(jobs_path):
        if _ERROR in row:
            bad.append(BadRow(line, str(row[_ERROR])))
            continue
        name: str | None = None
        try:
            name, request = request_from_row(row, base)
            if not JOB_NAME.fullmatch(name):
                raise InputError(f"job name {name!r} must be 1 to 100 letters, digits, - or _ "
                                 "(it names the job's folder)")
            request = request.validated()
            from craftpix.export.options import export_settings

            export_settings({**request.export, "size": request.size}, medium=request.medium)
            if request.image is not None:
                files.probe_image(request.image)
            files.check_palette(request)
            if name.lower() in taken:
                raise InputError(f"job folder {name!r} is already line {taken[name.lower()]}'s; "
                                 "give one of them a different name (name column)")
            digest = request_digest(request, files)
        except CraftpixError as exc:
            bad.append(BadRow(line, str(exc), name))
            continue
        taken[name.lower()] = line
        jobs.append(Job(line, name, request, digest))
    return JobsFile(jobs_path, jobs, bad)
