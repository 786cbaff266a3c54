"""MovieLens 100k: strict loading of the published files, and a verified download of the archive.

Every problem is a DataError naming the file and line, raised before anything is returned.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx
import numpy as np
import pandas as pd

from lensflow.errors import DataError
from lensflow.settings import ML100K_MD5, Settings

RATINGS_FILE, MOVIES_FILE, USERS_FILE, GENRES_FILE = "u.data", "u.item", "u.user", "u.genre"
_HOW_TO_FIX = "point LENSFLOW_DATA_DIR (or --data-dir) at an unpacked ml-100k folder, or unset it to download"
# Digit limits keep every value inside int32 ids and int64 timestamps.
_RATING_LINE = rb"\d{1,9}\t\d{1,9}\t\d{1,9}\t\d{1,18}"
_RATINGS_FILE = re.compile(rb"(?:%s\r?\n)*(?:%s\r?)?" % (_RATING_LINE, _RATING_LINE))
_RATING_LINE_ALONE = re.compile(_RATING_LINE + rb"\r?")
_TITLE_YEAR = re.compile(r"\((\d{4})\)")
_RELEASE_DATE = re.compile(r"(\d{1,2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{4})")
_VERIFIED_MARKER = ".lensflow-md5"
_DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_RATING_COLUMNS = {"user_id": np.int32, "movie_id": np.int32, "rating": np.int32, "timestamp": np.int64}


@dataclass(frozen=True, eq=False)
class MovieLens:
    """The validated dataset; `fingerprint` (sha256 of u.data, u.item, u.user) identifies its content."""

    ratings: pd.DataFrame  # user_id int32, movie_id int32, rating float32, timestamp int64
    movies: pd.DataFrame  # movie_id int32, title str, year Int32 (nullable), genres list[str]
    users: pd.DataFrame  # user_id int32, age int16, gender str, occupation str, zip_code str
    genres: list[str]  # ordered by their index in u.genre, the order of u.item's flag columns
    data_dir: Path
    fingerprint: str


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, f"file is missing; {_HOW_TO_FIX}") from None
    except OSError as exc:
        raise DataError(path, f"cannot read the file: {exc.strerror}") from None


def _text_lines(path: Path, raw: bytes) -> list[str]:
    # Latin-1 is the published encoding of u.item and decodes every byte, so no line is lost to it.
    if not raw.isascii():
        _refuse_utf8_lines(path, raw)
    text = raw.decode("latin-1").replace("\r\n", "\n").removesuffix("\n")
    return text.split("\n") if text else []


def _refuse_utf8_lines(path: Path, raw: bytes) -> None:
    """A line re-saved as UTF-8 would decode as Latin-1 into mojibake ("MisÃ©rables") without an error."""
    for line_number, line in enumerate(raw.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not UTF-8: the Latin-1 the file should hold
        reason = "non-ASCII text is UTF-8 encoded; the file must be Latin-1 throughout: re-save it as Latin-1"
        raise DataError(path, reason, line_number)


def _fields(path: Path, line_number: int, line: str, count: int) -> list[str]:
    fields = line.split("|")
    if len(fields) != count:
        raise DataError(path, f"expected {count} '|'-separated fields, found {len(fields)}", line_number)
    return fields


def _positive_int(path: Path, line_number: int, text: str, what: str) -> int:
    # Nine digits at most keep every id inside int32.
    if not (text.isascii() and text.isdigit() and len(text) <= 9 and int(text) > 0):
        raise DataError(path, f"{what} must be a positive integer, found {text!r}", line_number)
    return int(text)


def _new_id(path: Path, line_number: int, text: str, what: str, first_line: dict[int, int]) -> int:
    value = _positive_int(path, line_number, text, what)
    if value in first_line:
        raise DataError(path, f"duplicate {what} {value} (first on line {first_line[value]})", line_number)
    first_line[value] = line_number
    return value


def _parse_genres(path: Path, raw: bytes) -> list[str]:
    by_index: dict[int, str] = {}
    for line_number, line in enumerate(_text_lines(path, raw), start=1):
        if not line.strip():
            continue  # the published file ends with a blank line
        name, index_text = _fields(path, line_number, line, 2)
        if not (index_text.isascii() and index_text.isdigit()) or int(index_text) in by_index or not name:
            raise DataError(path, f"expected a named genre with a new index, found {line!r}", line_number)
        by_index[int(index_text)] = name
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise DataError(path, f"genre indices must be 0..n-1, found {sorted(by_index)}")
    return [by_index[index] for index in range(len(by_index))]


def _movie_year(path: Path, line_number: int, title: str, release_date: str) -> int | None:
    date = _RELEASE_DATE.fullmatch(release_date)
    if release_date and date is None:
        raise DataError(path, f"release date {release_date!r} is not like 01-Jan-1995", line_number)
    # The title's year is the film's; the release date is sometimes a later re-release.
    years = _TITLE_YEAR.findall(title) or ([date.group(3)] if date is not None else [])
    return int(years[-1]) if years else None


def _parse_movies(path: Path, raw: bytes, genres: list[str]) -> pd.DataFrame:
    rows: list[tuple[int, str, int | None, list[str]]] = []
    first_line: dict[int, int] = {}
    for line_number, line in enumerate(_text_lines(path, raw), start=1):
        fields = _fields(path, line_number, line, 5 + len(genres))
        movie_id = _new_id(path, line_number, fields[0], "movie_id", first_line)
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            raise DataError(path, f"genre flags must be 0 or 1, found {'|'.join(flags)}", line_number)
        # Trailing spaces on a few published titles are typing slips, not part of the name.
        title = fields[1].strip()
        movie_genres = [genre for genre, flag in zip(genres, flags, strict=True) if flag == "1"]
        rows.append((movie_id, title, _movie_year(path, line_number, title, fields[2]), movie_genres))
    if not rows:
        raise DataError(path, "the file holds no movies")
    movies = pd.DataFrame(rows, columns=["movie_id", "title", "year", "genres"])
    return movies.astype({"movie_id": np.int32, "title": "str", "year": "Int32"})


def _parse_users(path: Path, raw: bytes) -> pd.DataFrame:
    rows: list[tuple[int, int, str, str, str]] = []
    first_line: dict[int, int] = {}
    for line_number, line in enumerate(_text_lines(path, raw), start=1):
        user_text, age_text, gender, occupation, zip_code = _fields(path, line_number, line, 5)
        user_id = _new_id(path, line_number, user_text, "user_id", first_line)
        age = _positive_int(path, line_number, age_text, "age")
        if age > 150 or gender not in ("M", "F") or not occupation or not zip_code:
            raise DataError(path, f"expected age 1..150, gender M/F, occupation, zip: {line!r}", line_number)
        rows.append((user_id, age, gender, occupation, zip_code))
    if not rows:
        raise DataError(path, "the file holds no users")
    users = pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip_code"])
    return users.astype({"user_id": np.int32, "age": np.int16})  # text columns infer pandas' str


def _first_malformed_line(path: Path, raw: bytes) -> DataError:
    """The error for the first line the fast whole-file match rejected (only run on bad files)."""
    lines = raw.split(b"\n")
    for line_number, line in enumerate(lines, start=1):
        if _RATING_LINE_ALONE.fullmatch(line) or (line == b"" and line_number == len(lines)):
            continue
        if not line.isascii():
            column = next(i for i, byte in enumerate(line, start=1) if byte > 0x7F)
            reason = f"non-ASCII byte 0x{line[column - 1]:02x} at column {column}; expected digits and tabs"
            return DataError(path, reason, line_number)
        n_fields = len(line.rstrip(b"\r").split(b"\t"))
        found = f"{n_fields} field(s)" if n_fields != 4 else "a field that is not a plain integer"
        reason = f"expected 4 tab-separated integers user_id, movie_id, rating, timestamp; found {found}"
        return DataError(path, f"{reason}: {line[:80].decode('ascii')!r}", line_number)
    return DataError(path, "the file does not match the ratings format")


def read_ratings_file(
    path: Path, *, known_users: set[int] | None = None, known_movies: set[int] | None = None
) -> pd.DataFrame:
    """Ratings in u.data format (u.data, u1.base, ...): user_id, movie_id, rating (float32 1..5), timestamp.

    Raises DataError at the earliest bad line: malformed, rating outside 1..5, an id missing from
    `known_users` / `known_movies`, or a second rating of the same movie by the same user.
    """
    return _parse_ratings(path, _read_bytes(path), known_users=known_users, known_movies=known_movies)


def _parse_ratings(
    path: Path, raw: bytes, *, known_users: set[int] | None, known_movies: set[int] | None
) -> pd.DataFrame:
    # One C-level regex over the whole file keeps the happy path fast; the slow scan only names the line.
    if not _RATINGS_FILE.fullmatch(raw):
        raise _first_malformed_line(path, raw)
    if not raw.strip():
        raise DataError(path, "the file holds no ratings")
    frame = pd.read_csv(
        io.BytesIO(raw), sep="\t", header=None, names=list(_RATING_COLUMNS), dtype=_RATING_COLUMNS, engine="c"
    )
    user_ids, movie_ids, ratings = (frame[c].to_numpy() for c in ("user_id", "movie_id", "rating"))
    problems: list[tuple[np.ndarray, str]] = [
        ((ratings < 1) | (ratings > 5), "rating {rating} is outside 1..5"),
        ((user_ids < 1) | (movie_ids < 1), "ids must be positive, found user {user} movie {movie}"),
    ]
    if known_users is not None:
        unknown = ~np.isin(user_ids, np.fromiter(known_users, dtype=np.int64))
        problems.append((unknown, f"user_id {{user}} is not in {USERS_FILE}"))
    if known_movies is not None:
        unknown = ~np.isin(movie_ids, np.fromiter(known_movies, dtype=np.int64))
        problems.append((unknown, f"movie_id {{movie}} is not in {MOVIES_FILE}"))
    duplicated = frame.duplicated(["user_id", "movie_id"]).to_numpy()
    problems.append((duplicated, "user {user} rated movie {movie} twice (first on line {first})"))
    bad_rows = [(int(np.argmax(mask)), reason) for mask, reason in problems if mask.any()]
    if bad_rows:
        row, reason = min(bad_rows, key=lambda bad: bad[0])  # earliest line; ties keep check order
        user, movie = int(user_ids[row]), int(movie_ids[row])
        first = int(np.argmax((user_ids == user) & (movie_ids == movie))) + 1
        message = reason.format(rating=ratings[row], user=user, movie=movie, first=first)
        raise DataError(path, message, row + 1)
    return frame.astype({"rating": np.float32})


def load_movielens(data_dir: Path) -> MovieLens:
    """Load and validate u.genre, u.item, u.user and u.data from an unpacked ml-100k folder."""
    # Each file is read once, so the fingerprint covers exactly the bytes that were validated.
    names = (GENRES_FILE, MOVIES_FILE, USERS_FILE, RATINGS_FILE)
    raw = {name: _read_bytes(data_dir / name) for name in names}
    genres = _parse_genres(data_dir / GENRES_FILE, raw[GENRES_FILE])
    movies = _parse_movies(data_dir / MOVIES_FILE, raw[MOVIES_FILE], genres)
    users = _parse_users(data_dir / USERS_FILE, raw[USERS_FILE])
    known_users, known_movies = set(users["user_id"].tolist()), set(movies["movie_id"].tolist())
    ratings = _parse_ratings(
        data_dir / RATINGS_FILE, raw[RATINGS_FILE], known_users=known_users, known_movies=known_movies
    )
    fingerprint = hashlib.sha256(raw[RATINGS_FILE] + raw[MOVIES_FILE] + raw[USERS_FILE]).hexdigest()
    return MovieLens(ratings, movies, users, genres, data_dir=data_dir, fingerprint=fingerprint)


def _md5_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def _fetch(url: str, destination: Path) -> None:
    """Stream `url` to a temporary file beside `destination`, then rename it into place atomically."""
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=destination.name, suffix=".part")
    try:
        with (
            os.fdopen(handle, "wb") as file,
            httpx.stream("GET", url, follow_redirects=True, timeout=_DOWNLOAD_TIMEOUT) as reply,
        ):
            reply.raise_for_status()
            for chunk in reply.iter_bytes():
                file.write(chunk)
        os.replace(temporary, destination)
    except httpx.HTTPError as exc:
        raise DataError(url, f"download failed ({exc}); check the network or {_HOW_TO_FIX}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def _extract(archive: Path, target: Path, md5: str) -> Path:
    """Unpack the folder holding u.data in `archive` to `target`, refusing members outside it."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DataError(archive, f"unsafe member path {member!r}; refusing to extract")
            bundle.extractall(staging)
        found = sorted(staging.rglob(RATINGS_FILE))
        if not found:
            raise DataError(archive, f"the archive holds no {RATINGS_FILE}")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(found[0].parent, target)
        (target / _VERIFIED_MARKER).write_text(md5)  # written last: marks a complete extraction
        return target
    except DataError:
        archive.unlink(missing_ok=True)  # an unusable archive must not be picked up by the next run
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        archive.unlink(missing_ok=True)
        raise DataError(archive, f"corrupt or truncated archive ({exc}); it was removed, run again") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def download_dataset(*, url: str, dest_dir: Path, md5: str) -> Path:
    """Download the ml-100k zip into dest_dir, check its MD5, extract it; returns the data folder.

    A previous verified extraction (its marker holds `md5`) is reused without any network access.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, archive = dest_dir / "ml-100k", dest_dir / "ml-100k.zip"
    marker = target / _VERIFIED_MARKER
    if marker.is_file() and marker.read_text().strip() == md5 and (target / RATINGS_FILE).is_file():
        return target
    if not archive.is_file() or _md5_of(archive) != md5:
        _fetch(url, archive)
        actual = _md5_of(archive)
        if actual != md5:
            archive.unlink()
            raise DataError(archive, f"MD5 mismatch: expected {md5}, got {actual}; the download was removed")
    return _extract(archive, target, md5)


def resolve_data_dir(settings: Settings, data_dir: Path | None = None) -> Path:
    """The explicit folder, else settings.data_dir (LENSFLOW_DATA_DIR), else a verified download."""
    chosen = data_dir if data_dir is not None else settings.data_dir
    if chosen is not None:
        if not chosen.is_dir():
            raise DataError(chosen, f"no such folder; {_HOW_TO_FIX}")
        return chosen
    return download_dataset(url=settings.dataset_url, dest_dir=settings.download_dir, md5=ML100K_MD5)
