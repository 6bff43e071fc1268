"""Fetch the official OCDS 1.1.5 release-package and release schemas for the tests.

The OCDS export test (tests/vipcases/test_exports.py) validates against the Open
Contracting Data Standard's own JSON Schemas. No package on PyPI or npm installs them as
data, and third-party files are not copied into this repository, so they are taken at
set-up from two source distributions on PyPI that carry the published files among their
test fixtures:

    release-package-schema.json  ocdskit 1.7.0 sdist, tests/fixtures/
    release-schema.json          ocdsextensionregistry 0.7.0 sdist, tests/fixtures/

Each archive's SHA-256 is pinned (the value PyPI publishes for it), and so is each
extracted file's, so what lands in the cache is byte for byte what was reviewed. Only
those two files are read from the archives; nothing is installed or run.

    python scripts/fetch_ocds_schema.py                     # into .cache/ocds/1__1__5/
    python scripts/fetch_ocds_schema.py --archives DIR      # use sdists already in DIR

Standard library only, so it runs before the virtual environment exists. Running it
again does nothing when the files are present with the pinned hashes. It prints one
line, and exits 1 with the reason on stderr when anything does not check out.
"""

import argparse
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_VERSION = "1__1__5"
CACHE_DIR = ROOT / ".cache" / "ocds" / SCHEMA_VERSION

ATTEMPTS = 3
TIMEOUT_SECONDS = 60
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024
USER_AGENT = "vipcases-fetch-ocds-schema/1 (+scripts/fetch_ocds_schema.py)"


@dataclass(frozen=True)
class Schema:
    filename: str  # in CACHE_DIR
    member: str  # path inside the archive
    sha256: str


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    url: str
    sha256: str
    schemas: tuple[Schema, ...]

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


# URLs and archive hashes as PyPI lists them (https://pypi.org/simple/<name>/).
SDISTS = (
    Sdist(
        name="ocdskit",
        version="1.7.0",
        url=(
            "https://files.pythonhosted.org/packages/f9/86/"
            "108e0f2dfcfbc3dc14e794389c8628cdce2d676ece8032f51cb0353e3e7b/ocdskit-1.7.0.tar.gz"
        ),
        sha256="02a7d6182bbd7672cfd26cdbcae9726fbacdb917203d2bd5a726caa30040ff76",
        schemas=(
            Schema(
                filename="release-package-schema.json",
                member="ocdskit-1.7.0/tests/fixtures/release-package-schema.json",
                sha256="44a9d8d66001af8e44112b45f5cc7923ee2f40f4790e816f90af1782c5885ee5",
            ),
        ),
    ),
    # Last, so that release-schema.json (the file `make` checks for) is written last.
    Sdist(
        name="ocdsextensionregistry",
        version="0.7.0",
        url=(
            "https://files.pythonhosted.org/packages/b2/32/"
            "c2f21f2541768ba3a1246e7b523d8d25b361b515c51e2ebbb6f7fbf00b91/"
            "ocdsextensionregistry-0.7.0.tar.gz"
        ),
        sha256="aae3b247712509f158e16f44747039cfd0a9ee847590aba4794933d6fa79341a",
        schemas=(
            Schema(
                filename="release-schema.json",
                member="ocdsextensionregistry-0.7.0/tests/fixtures/release-schema.json",
                sha256="bf18280598c08c9889051a61e1cd39af8e1aebbfb9c260c31be155604026a149",
            ),
        ),
    ),
)


class FetchError(Exception):
    pass


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_current(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path.read_bytes()) == sha256


def download(url: str) -> bytes:
    if not url.startswith("https://"):
        raise FetchError(f"refusing a URL that is not https: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    last_error: Exception | None = None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                data = response.read(MAX_ARCHIVE_BYTES + 1)
            if len(data) > MAX_ARCHIVE_BYTES:
                raise FetchError(f"{url} is larger than {MAX_ARCHIVE_BYTES} bytes")
            return data
        except urllib.error.HTTPError as exc:
            if exc.code < 500:  # not there, or refused: trying again will not help
                raise FetchError(f"could not download {url}: {exc}") from None
            last_error = exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            last_error = exc
        if attempt < ATTEMPTS:
            time.sleep(2 * attempt)
    raise FetchError(f"could not download {url} (tried {ATTEMPTS} times): {last_error}")


def archive_bytes(sdist: Sdist, archives: Path | None) -> bytes:
    local = archives / sdist.filename if archives else None
    if local is not None and local.is_file():
        data, origin = local.read_bytes(), str(local)
    else:
        data, origin = download(sdist.url), sdist.url
    found = sha256_of(data)
    if found != sdist.sha256:
        raise FetchError(
            f"{origin}: SHA-256 {found} is not the pinned {sdist.sha256} "
            f"for {sdist.name} {sdist.version}; nothing was written"
        )
    return data


def extract(sdist: Sdist, data: bytes, schema: Schema) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        try:
            info = archive.getmember(schema.member)
        except KeyError:
            raise FetchError(f"{sdist.filename} has no {schema.member}") from None
        if not info.isfile():
            raise FetchError(f"{schema.member} in {sdist.filename} is not a regular file")
        content = archive.extractfile(info).read()
    found = sha256_of(content)
    if found != schema.sha256:
        raise FetchError(
            f"{schema.member} in {sdist.filename}: SHA-256 {found} is not the pinned "
            f"{schema.sha256}; nothing was written"
        )
    return content


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def fetch(cache_dir: Path, archives: Path | None) -> list[str]:
    """Fetch what is missing or different; return what was written, as 'file (source)'."""
    # Everything is downloaded and checked before anything is written.
    pending: list[tuple[Path, bytes, str]] = []
    for sdist in SDISTS:
        stale = [s for s in sdist.schemas if not is_current(cache_dir / s.filename, s.sha256)]
        if not stale:
            continue
        data = archive_bytes(sdist, archives)
        for schema in stale:
            content = extract(sdist, data, schema)
            pending.append((cache_dir / schema.filename, content, f"{sdist.name} {sdist.version}"))
    for path, content, _source in pending:
        write_atomically(path, content)
    return [f"{path.name} ({source})" for path, _content, source in pending]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--archives",
        type=Path,
        help="a directory holding the pinned sdists already (checked by the same hashes)",
    )
    args = parser.parse_args(argv)
    try:
        root = CACHE_DIR.relative_to(ROOT)
    except ValueError:
        root = CACHE_DIR
    try:
        written = fetch(CACHE_DIR, args.archives)
    except (FetchError, OSError, tarfile.TarError) as exc:
        sys.stderr.write(f"fetch_ocds_schema: error: {exc}\n")
        return 1
    if written:
        print(f"fetch_ocds_schema: OCDS {SCHEMA_VERSION} schemas in {root}: {', '.join(written)}")
    else:
        print(f"fetch_ocds_schema: OCDS {SCHEMA_VERSION} schemas already in {root}, hashes match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
