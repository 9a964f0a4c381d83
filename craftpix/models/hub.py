"""Locating models in the Hugging Face cache or a local folder, and downloading them.

Everything a run needs is located *before* any weight is loaded: in the local folder, in the
Hugging Face cache, or — when downloads are allowed — fetched with ``snapshot_download``
(safetensors and configs only). A model that cannot be had ends the run with one
:class:`~craftpix.errors.ModelNotAvailable` line naming it and how to fetch it. Only
``huggingface_hub`` is imported (lazily): no torch, no diffusers.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from craftpix.errors import CraftpixError, InputError, ModelNotAvailable
from craftpix.models.ids import ModelRef, _flag_order

_PIPELINE_TOKENIZERS = ("tokenizer", "tokenizer_2")


_WEIGHT_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+?)(?:\.(?P<variant>[A-Za-z0-9_]+))?(?:-\d{5}-of-\d{5})?\.safetensors$")
_INDEX_RE = re.compile(
    r"^(?P<base>[A-Za-z0-9_]+?)\.safetensors\.index(?:\.(?P<variant>[A-Za-z0-9_]+))?\.json$")



# --- hub environment (read at call time, so tests and users can set it late) ---------------------
def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids downloads."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    return _truthy(env) if env is not None else bool(constants.HF_HUB_OFFLINE)


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, honoring ``HF_HUB_CACHE`` and ``HF_HOME``."""
    for var, sub in (("HF_HUB_CACHE", ""), ("HUGGINGFACE_HUB_CACHE", ""), ("HF_HOME", "hub")):
        if os.environ.get(var):
            return Path(os.path.expandvars(os.environ[var])).expanduser() / sub
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)



def _read_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object")
    return data



# --- which weight files ------------------------------------------------------------------------
def choose_weights(names: Iterable[str], prefer_fp16: bool) -> tuple[str | None, list[str]]:
    """Pick the safetensors weights of one model folder: the fp16 variant or the plain files.

    ``names`` are file names in that folder. Returns ``(variant, files)`` (variant ``"fp16"`` or
    ``None``); ``files`` is empty when the folder has no safetensors weights at all (pickles
    only: craftpix never loads those).
    """
    groups: dict[str | None, list[str]] = {}
    for name in names:
        m = _WEIGHT_RE.match(name) or _INDEX_RE.match(name)
        if m is None:
            continue
        variant = m.group("variant")
        if variant not in (None, "fp16"):
            continue  # non_ema, ema, ...
        groups.setdefault(variant, []).append(name)
    order = ["fp16", None] if prefer_fp16 else [None, "fp16"]
    for variant in order:
        files = [n for n in groups.get(variant, []) if n.endswith(".safetensors")]
        if files:
            return variant, sorted(groups[variant])
    return None, []


def _listing(folder: Path) -> set[str]:
    """Relative paths of all files under ``folder`` (posix separators)."""
    out = set()
    for root, _dirs, files in os.walk(folder):
        for f in files:
            out.add(Path(root, f).relative_to(folder).as_posix())
    return out


def _in_sub(files: set[str], sub: str) -> list[str]:
    prefix = f"{sub}/" if sub else ""
    return [f[len(prefix):] for f in files if f.startswith(prefix) and "/" not in f[len(prefix):]]


def _pipeline_parts(files: set[str], model_index: dict[str, Any] | None,
                    full_vae: bool) -> tuple[list[str], list[str]]:
    """(model subfolders, tokenizer subfolders) a pipeline folder must provide."""
    def listed(sub: str) -> bool:
        if model_index is not None and sub in model_index:
            entry = model_index[sub]
            return isinstance(entry, list) and entry[0] is not None
        return any(f.startswith(f"{sub}/") for f in files)

    models = [s for s in ("unet", "text_encoder", "text_encoder_2") if listed(s)]
    if full_vae:
        models.append("vae")
    tokenizers = [s for s in _PIPELINE_TOKENIZERS if listed(s)]
    return models, tokenizers


def required_patterns(ref: ModelRef, files: set[str], prefer_fp16: bool,
                      model_index: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """(allow_patterns for a download, problems) for ``ref`` given the repo's file list."""
    problems: list[str] = []
    patterns: list[str] = []

    def model_dir(sub: str, extra: Sequence[str] = ()) -> None:
        prefix = f"{sub}/" if sub else ""
        names = _in_sub(files, sub)
        if "config.json" not in names:
            problems.append(f"{prefix}config.json")
        for e in extra:
            if e not in names:
                problems.append(f"{prefix}{e}")
        _variant, weights = choose_weights(names, prefer_fp16)
        if not weights:
            problems.append(f"{prefix}*.safetensors")
        patterns.extend([f"{prefix}config.json", *(f"{prefix}{e}" for e in extra),
                         *(f"{prefix}{w}" for w in weights)])

    if ref.kind == "pipeline":
        patterns.append("model_index.json")
        models, tokenizers = _pipeline_parts(files, model_index, ref.full_vae)
        if "unet" not in models:
            problems.append("unet/")
        if not ({"text_encoder", "text_encoder_2"} & set(models)):
            problems.append("text_encoder/")
        for sub in models:
            model_dir(sub)
        for sub in tokenizers:
            if not _in_sub(files, sub):
                problems.append(f"{sub}/")
            patterns.append(f"{sub}/*")
        if "scheduler/scheduler_config.json" not in files:
            problems.append("scheduler/scheduler_config.json")
        patterns.append("scheduler/scheduler_config.json")
    elif ref.kind == "transformers":
        model_dir("", extra=("preprocessor_config.json",))
    else:
        model_dir("")
    return patterns, problems


# --- locating -------------------------------------------------------------------------------------
def _check_folder(ref: ModelRef, folder: Path, prefer_fp16: bool) -> list[str]:
    files = _listing(folder)
    index = folder / "model_index.json"
    model_index = _read_json(index) if ref.kind == "pipeline" and index.is_file() else None
    return required_patterns(ref, files, prefer_fp16, model_index)[1]


def _cached_folder(ref: ModelRef) -> Path | None:
    """The cached snapshot folder of ``ref`` (at its revision), or None; no network.

    Found through one small file of the model with ``try_to_load_from_cache`` rather than
    ``snapshot_download(local_files_only=True)``, which calls a snapshot incomplete when only
    the files craftpix needs (not the whole repository) were downloaded.
    """
    from huggingface_hub import try_to_load_from_cache

    probes = ["model_index.json", "unet/config.json"] if ref.kind == "pipeline" else ["config.json"]
    for probe in probes:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                hit = try_to_load_from_cache(ref.name, probe, cache_dir=hub_cache(),
                                             revision=ref.revision)
        except Exception:  # malformed id or revision
            return None
        if isinstance(hit, str):
            folder = Path(hit).parent
            return folder.parent if "/" in probe else folder
    return None


def _how_to_get(refs: Sequence[ModelRef]) -> str:
    """`craftpix models pull ...` for the defaults among ``refs``, `hf download` for each."""
    flags = sorted({f for r in refs for f in r.pull_flags.split()}, key=_flag_order)
    hints = [f"`craftpix models pull {' '.join(flags)}`"] if flags else []
    for r in refs:
        rev = f" --revision {r.revision}" if r.revision else ""
        hints.append(f"`hf download {r.name}{rev}`")
    return " or ".join(hints)



def locate(refs: Sequence[ModelRef], *, prefer_fp16: bool = False,
           allow_download: bool | None = None) -> list[ModelRef]:
    """Find every model of ``refs`` on disk, downloading what is missing when allowed.

    Sets ``ref.folder``. Raises one :class:`ModelNotAvailable` naming every missing model,
    or :class:`InputError` for a local folder that is not a usable model.
    """
    allow = (not hub_offline()) if allow_download is None else allow_download
    missing: list[ModelRef] = []
    for ref in refs:
        if ref.local:
            folder = Path(ref.name).expanduser()
            if not folder.is_dir():
                raise InputError(f"{ref.role} folder {ref.name} does not exist")
            problems = _check_folder(ref, folder, prefer_fp16)
            if problems:
                raise InputError(
                    f"{ref.name} is not a usable {ref.role} in diffusers format "
                    f"(missing {', '.join(problems[:3])})")
            ref.folder = folder
            continue
        folder = _cached_folder(ref)
        if folder is not None and not _check_folder(ref, folder, prefer_fp16):
            ref.folder = folder
        else:
            missing.append(ref)
    if missing and allow:
        for ref in missing:
            ref.folder = download(ref, prefer_fp16=prefer_fp16)
        missing = []
    if missing:
        names = ", ".join(f"{r.name} ({r.role})" for r in missing)
        subject = f"model {names} is" if len(missing) == 1 else f"models {names} are"
        raise ModelNotAvailable(
            f"{subject} not in the Hugging Face cache ({hub_cache()}) and downloads are off"
            f"{' (HF_HUB_OFFLINE)' if hub_offline() else ''}; fetch with {_how_to_get(missing)}")
    return list(refs)


def download(ref: ModelRef, *, prefer_fp16: bool = True, hint: str | None = None) -> Path:
    """Fetch exactly the files ``ref`` needs (configs + one set of safetensors weights).

    ``hint`` is what a failure message suggests instead (default: fetch it with
    ``craftpix models pull ...`` or ``hf download ...``). Raises :class:`ModelNotAvailable`
    saying why (offline, not found, gated, disk, connection) or :class:`InputError` for a
    repository that is not a usable diffusers model.
    """
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    if hub_offline():
        raise ModelNotAvailable(
            f"cannot download {ref.name} ({ref.role}): HF_HUB_OFFLINE is set; "
            f"unset it or copy the model into {hub_cache()}")
    how = hint or f"or fetch it with {_how_to_get([ref])}"
    with _downloading(f"{ref.name} ({ref.role})", how):
        files = set(HfApi().list_repo_files(ref.name, revision=ref.revision))
        model_index = None
        if ref.kind == "pipeline" and "model_index.json" in files:
            model_index = _read_json(Path(hf_hub_download(
                ref.name, "model_index.json", revision=ref.revision, cache_dir=hub_cache())))
        patterns, problems = required_patterns(ref, files, prefer_fp16, model_index)
        if problems:
            raise InputError(
                f"{ref.name} cannot be used as {ref.role}: the repository has no "
                f"{', '.join(problems[:3])} (craftpix loads diffusers-format safetensors only)")
        return Path(snapshot_download(ref.name, revision=ref.revision, cache_dir=hub_cache(),
                                      allow_patterns=patterns))


def _first_line(exc: Exception) -> str:
    """The first line of an exception's message, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def download_failure(exc: BaseException) -> str:
    """Why a Hub request failed, in a few words a user can act on.

    Distinguishes a repository, revision or file that does not exist, a gated repository, a
    full disk or an unwritable cache, and no connection; anything else gives its first line.
    """
    import errno

    from huggingface_hub import errors as hub_errors

    if isinstance(exc, hub_errors.GatedRepoError):
        return ("the repository is gated: accept its licence on huggingface.co and log in "
                "with `hf auth login`")
    if isinstance(exc, hub_errors.RepositoryNotFoundError):
        return "no such repository on the Hub (check the name; private ones need `hf auth login`)"
    if isinstance(exc, hub_errors.RevisionNotFoundError):
        return "the repository has no such revision"
    if isinstance(exc, hub_errors.EntryNotFoundError):
        return "a file is missing from the repository"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full (the cache is {hub_cache()}; set HF_HOME to a larger disk)"
    if isinstance(exc, PermissionError):
        return f"cannot write the cache {hub_cache()} (set HF_HOME to a writable folder)"
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or "connect" in type(
            exc).__name__.lower() or "timeout" in type(exc).__name__.lower():
        return f"no connection to the Hub ({_first_line(exc)[:120]})"
    return _first_line(exc)[:200]


_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
               "all_proxy")


def hub_unreachable(timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be reached, or None if a TCP connection to it opens.

    One name lookup and one connection to the endpoint (``HF_ENDPOINT``, default
    huggingface.co) within ``timeout`` seconds: without it, the hub client retries a dead
    connection with back-off for about 24 s before failing. Behind a proxy (``HTTPS_PROXY``
    and the like) the direct connection says nothing, so None is returned.
    """
    import socket
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    if any(os.environ.get(name) for name in _PROXY_VARS):
        return None
    url = urlsplit(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return _first_line(exc)[:120]


@contextlib.contextmanager
def _downloading(what: str, how: str) -> Iterator[None]:
    """Around Hub requests: quiet the client and turn its errors into one line.

    The hub client logs every retry of a failed request; the user gets one
    :class:`ModelNotAvailable` line instead, naming ``what``, why it failed
    (:func:`download_failure`) and ``how`` else to get it — at once when the Hub cannot be
    reached at all (:func:`hub_unreachable`).
    """
    from huggingface_hub.utils import logging as hub_logging

    reason = hub_unreachable()
    if reason is not None:
        raise ModelNotAvailable(f"cannot download {what}: no connection to the Hub ({reason}); "
                                f"{how}")
    verbosity = hub_logging.get_verbosity()
    hub_logging.set_verbosity_error()
    try:
        yield
    except CraftpixError:
        raise
    except Exception as exc:
        raise ModelNotAvailable(
            f"cannot download {what}: {download_failure(exc)}; {how}") from None
    finally:
        hub_logging.set_verbosity(verbosity)


