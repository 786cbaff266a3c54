"""Downloading the dataset archive from a local HTTP server: verify, extract safely, reuse, refuse."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from lensflow.data import download_dataset, load_movielens, resolve_data_dir
from lensflow.errors import DataError
from lensflow.settings import ML100K_MD5, Settings

ARCHIVE_FILES = ("u.data", "u.item", "u.user", "u.genre")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class ShortBodyHandler(QuietHandler):
    """Promises more bytes than it sends, like a connection dropped mid-download."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"PK\x03\x04 and then the connection drops")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) of an HTTP server on 127.0.0.1, stopped after the test."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in members.items():
            bundle.writestr(zipfile.ZipInfo(name), content)
    return buffer.getvalue()


def dataset_zip(ml100k_dir: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """A zip laid out like the published one: every file under a top-level ml-100k/ folder."""
    members = {f"ml-100k/{name}": (ml100k_dir / name).read_bytes() for name in ARCHIVE_FILES}
    return zip_bytes(members | (extra or {}))


def md5_of(content: bytes) -> str:
    return hashlib.md5(content, usedforsecurity=False).hexdigest()


def assert_nothing_left(dest: Path) -> None:
    """No archive, no extracted data and no temporary files remain after a refused download."""
    assert sorted(path.name for path in dest.iterdir()) == []


def test_good_archive_is_extracted_and_loads(
    served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path
) -> None:
    url, folder = served
    content = dataset_zip(ml100k_dir)
    (folder / "ml-100k.zip").write_bytes(content)
    dest = tmp_path / "download"
    data_dir = download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(content))
    assert data_dir == dest / "ml-100k"
    assert len(load_movielens(data_dir).ratings) == 100_000
    assert (dest / "ml-100k.zip").read_bytes() == content
    assert not list(dest.glob("*.part")) and not list(dest.glob(".extract-*"))


def test_verified_extraction_is_reused_without_network(
    served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path
) -> None:
    url, folder = served
    content = dataset_zip(ml100k_dir)
    (folder / "ml-100k.zip").write_bytes(content)
    dest = tmp_path / "download"
    first = download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(content))
    # The server no longer has the file: a second call must not need it.
    (folder / "ml-100k.zip").unlink()
    assert download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(content)) == first
    # A different expected digest does not trust that extraction; it tries the (now missing) URL.
    with pytest.raises(DataError, match="404"):
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5="f" * 32)


def test_wrong_md5_is_refused_and_removed(served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path) -> None:
    url, folder = served
    content = dataset_zip(ml100k_dir)
    (folder / "ml-100k.zip").write_bytes(content)
    dest = tmp_path / "download"
    with pytest.raises(DataError) as caught:
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5="0" * 32)
    assert caught.value.file == str(dest / "ml-100k.zip")
    assert f"expected {'0' * 32}, got {md5_of(content)}" in caught.value.reason
    assert_nothing_left(dest)


def test_truncated_archive_is_refused(served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path) -> None:
    url, folder = served
    truncated = dataset_zip(ml100k_dir)[:300_000]
    (folder / "ml-100k.zip").write_bytes(truncated)
    dest = tmp_path / "download"
    # The digest matches the truncated bytes, so it is the zip check that must catch them.
    with pytest.raises(DataError, match="corrupt or truncated archive") as caught:
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(truncated))
    assert caught.value.file == str(dest / "ml-100k.zip")
    assert_nothing_left(dest)


def test_corrupted_member_fails_its_crc(served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path) -> None:
    url, folder = served
    content = bytearray(zip_bytes({"ml-100k/u.data": b"1\t1\t5\t881250949\n" * 5000}))
    content[100] ^= 0xFF  # inside the compressed u.data stream
    (folder / "ml-100k.zip").write_bytes(bytes(content))
    dest = tmp_path / "download"
    with pytest.raises(DataError, match="corrupt or truncated archive"):
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(bytes(content)))
    assert_nothing_left(dest)


@pytest.mark.parametrize("unsafe", ["../evil.txt", "ml-100k/../../evil.txt", "/tmp/evil.txt"])
def test_member_outside_the_folder_is_refused(
    served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path, unsafe: str
) -> None:
    url, folder = served
    content = dataset_zip(ml100k_dir, extra={unsafe: b"gotcha"})
    (folder / "ml-100k.zip").write_bytes(content)
    dest = tmp_path / "nested" / "download"
    with pytest.raises(DataError, match="unsafe member path") as caught:
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=dest, md5=md5_of(content))
    assert unsafe in caught.value.reason
    assert_nothing_left(dest)
    assert not list(tmp_path.rglob("evil.txt"))


def test_missing_url_is_a_data_error(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    with pytest.raises(DataError, match="download failed") as caught:
        download_dataset(url=f"{url}/nothing.zip", dest_dir=tmp_path / "download", md5="0" * 32)
    assert caught.value.file == f"{url}/nothing.zip"
    assert_nothing_left(tmp_path / "download")


def test_connection_dropped_mid_body_leaves_nothing(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ShortBodyHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ml-100k.zip"
        with pytest.raises(DataError, match="download failed"):
            download_dataset(url=url, dest_dir=tmp_path / "download", md5="0" * 32)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert_nothing_left(tmp_path / "download")


def test_archive_without_ratings_is_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    url, folder = served
    content = zip_bytes({"ml-100k/README": b"no data here"})
    (folder / "ml-100k.zip").write_bytes(content)
    with pytest.raises(DataError, match=r"holds no u\.data"):
        download_dataset(url=f"{url}/ml-100k.zip", dest_dir=tmp_path / "download", md5=md5_of(content))


# --- resolve_data_dir -----------------------------------------------------------------------------


def test_explicit_folder_wins_over_settings(ml100k_dir: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, data_dir=tmp_path / "elsewhere")
    assert resolve_data_dir(settings, ml100k_dir) == ml100k_dir
    assert resolve_data_dir(Settings(home=tmp_path, data_dir=ml100k_dir)) == ml100k_dir


def test_missing_folder_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder") as caught:
        resolve_data_dir(Settings(home=tmp_path, data_dir=tmp_path / "absent"))
    assert caught.value.file == str(tmp_path / "absent")


def test_without_a_folder_the_published_digest_is_required(
    served: tuple[str, Path], ml100k_dir: Path, tmp_path: Path
) -> None:
    url, folder = served
    (folder / "ml-100k.zip").write_bytes(dataset_zip(ml100k_dir))
    settings = Settings(home=tmp_path / "home", data_dir=None, dataset_url=f"{url}/ml-100k.zip")
    # Our home-made zip is not the published archive, so its digest cannot match ML100K_MD5.
    with pytest.raises(DataError, match=f"expected {ML100K_MD5}"):
        resolve_data_dir(settings)
    assert_nothing_left(settings.download_dir)
