"""Put a corpus into the download cache: from the mirror if it has it, else from its URL.

Every file is checked against its sha256 while it is written, and written atomically: a failed
check or an interrupted download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from treenets.data.registry import Corpus, DataFile, lookup
from treenets.errors import InputError
from treenets.files import atomic_write, sha256_file

MIRROR_ENV = "TREENETS_DATA_MIRROR"
DEFAULT_CACHE = "data/raw"
_CHUNK = 1 << 20


def fetch(name: str | Corpus, cache_dir: str | os.PathLike = DEFAULT_CACHE,
          mirror: str | os.PathLike | None = None) -> Path:
    """Fetch ``corpus`` (all its files) or ``corpus:role`` (one file) into ``cache_dir``.

    Returns the file's path when one file was asked for (or the corpus has only one), else the
    corpus's folder. ``mirror`` (default: ``$TREENETS_DATA_MIRROR``) is a folder laid out like
    ``../shared/data``; files it holds are copied from it instead of downloaded.
    """
    corpus, roles = (name, list(name.files)) if isinstance(name, Corpus) else lookup(name)
    cache = Path(cache_dir)
    mirror_root = _mirror_root(mirror)
    to_download: dict[str, list[DataFile]] = {}
    for role in roles:
        entry = corpus.files[role]
        dest = cache / entry.path
        if dest.exists():
            _check_cached(dest, _expected_sha256(entry, dest))
        elif mirror_root is not None and (mirror_root / entry.path).is_file():
            with open(mirror_root / entry.path, "rb") as source:
                _store(source, dest, entry, origin=mirror_root / entry.path)
        else:
            to_download.setdefault(entry.url, []).append(entry)
    for url, entries in to_download.items():
        _download(url, entries, cache)
    if len(roles) == 1:
        return cache / corpus.files[roles[0]].path
    return cache / corpus.folder


def _mirror_root(mirror) -> Path | None:
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    if mirror is None:
        return None
    if not Path(mirror).is_dir():
        raise InputError(f"data mirror {os.fspath(mirror)} is not a folder")
    return Path(mirror)


def _recorded_sha256_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".sha256")


def _expected_sha256(entry: DataFile, dest: Path) -> str | None:
    """The registry's checksum, or for an unpinned file the one recorded at its first fetch."""
    if entry.sha256 is not None:
        return entry.sha256
    recorded = _recorded_sha256_path(dest)
    return recorded.read_text().split()[0] if recorded.exists() else None


def _check_cached(dest: Path, expected: str | None) -> None:
    actual = sha256_file(dest)
    if expected is None:
        _record_sha256(dest, actual)
    elif actual != expected:
        raise InputError(f"cached file has sha256 {actual}, expected {expected}; delete it to fetch again", dest)


def _record_sha256(dest: Path, digest: str) -> None:
    with atomic_write(_recorded_sha256_path(dest)) as handle:
        handle.write(f"{digest}  {dest.name}\n")


def _store(source: BinaryIO, dest: Path, entry: DataFile, origin) -> None:
    """Copy ``source`` to ``dest``, hashing on the way; a mismatch leaves ``dest`` untouched."""
    digest = hashlib.sha256()
    with atomic_write(dest, "wb") as out:
        while block := source.read(_CHUNK):
            digest.update(block)
            out.write(block)
        actual = digest.hexdigest()
        if entry.sha256 is not None and actual != entry.sha256:
            raise InputError(
                f"sha256 mismatch for {entry.path}: expected {entry.sha256}, got {actual}; nothing was kept",
                origin,
            )
    if entry.sha256 is None:
        _record_sha256(dest, actual)


def _download(url: str, entries: list[DataFile], cache: Path) -> None:
    """Download ``url`` once: the file itself, or an archive whose members are ``entries``."""
    try:
        response = urllib.request.urlopen(url, timeout=60)
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise InputError(f"cannot download {url}: {reason}") from None
    size = int(response.headers.get("Content-Length") or 0) or None
    with response, tqdm.wrapattr(response, "read", total=size, desc=url.rsplit("/", 1)[-1],
                                 disable=None) as stream:
        try:
            if entries[0].member is None:
                _store(stream, cache / entries[0].path, entries[0], origin=url)
                return
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=cache) as archive:
                shutil.copyfileobj(stream, archive, _CHUNK)
                _extract(archive, url, entries, cache)
        except OSError as err:  # a connection that drops mid-transfer
            raise InputError(f"download of {url} failed: {err}") from None


def _extract(archive: BinaryIO, url: str, entries: list[DataFile], cache: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for entry in entries:
                try:
                    member = zipped.open(entry.member)
                except KeyError:
                    raise InputError(f"the archive has no member {entry.member!r}", url) from None
                with member:
                    _store(member, cache / entry.path, entry, origin=f"{url}!{entry.member}")
    except zipfile.BadZipFile as err:
        raise InputError(f"not a zip archive: {err}", url) from None
