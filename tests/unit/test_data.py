"""Loading the shipped MovieLens 100k, and the exact file and line reported for each kind of damage."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lensflow.data import MovieLens, load_movielens, read_ratings_file
from lensflow.errors import DataError


def replace_line(path: Path, line_number: int, new_line: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line_number - 1] = new_line
    path.write_bytes(b"\n".join(lines))


def with_field(line: bytes, index: int, value: bytes) -> bytes:
    fields = line.split(b"|")
    fields[index] = value
    return b"|".join(fields)


def line_of(path: Path, line_number: int) -> bytes:
    return path.read_bytes().split(b"\n")[line_number - 1]


def load_error(data_dir: Path) -> DataError:
    with pytest.raises(DataError) as caught:
        load_movielens(data_dir)
    return caught.value


def assert_names(error: DataError, path: Path, line: int | None) -> None:
    assert error.file == str(path)
    assert error.line == line
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(error).startswith(f"{where}: ")


# --- the shipped dataset -------------------------------------------------------------------------


def test_shipped_dataset_has_the_published_sizes(movielens: MovieLens) -> None:
    assert len(movielens.ratings) == 100_000
    assert len(movielens.users) == 943
    assert len(movielens.movies) == 1682
    assert len(movielens.genres) == 19
    assert movielens.genres[0] == "unknown" and movielens.genres[-1] == "Western"
    assert movielens.ratings["rating"].between(1, 5).all()


def test_columns_have_the_documented_dtypes(movielens: MovieLens) -> None:
    assert movielens.ratings.dtypes.astype(str).to_dict() == {
        "user_id": "int32",
        "movie_id": "int32",
        "rating": "float32",
        "timestamp": "int64",
    }
    assert movielens.movies["movie_id"].dtype == np.int32
    assert movielens.movies["year"].dtype == pd.Int32Dtype()
    assert movielens.users["user_id"].dtype == np.int32
    assert movielens.users["age"].dtype == np.int16


def test_titles_keep_the_year_and_decode_latin1(movielens: MovieLens) -> None:
    movies = movielens.movies.set_index("movie_id")
    assert movies.loc[1, "title"] == "Toy Story (1995)"
    assert movies.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    # u.item stores é as the single Latin-1 byte 0xE9.
    assert movies.loc[543, "title"] == "Misérables, Les (1995)"
    assert movies.loc[1633, "title"] == "Á köldum klaka (Cold Fever) (1994)"


def test_year_comes_from_the_title_then_the_release_date(movielens: MovieLens) -> None:
    movies = movielens.movies.set_index("movie_id")
    # Released 27-Jun-1997 in the US, but the film is from 1963.
    assert movies.loc[1252, "year"] == 1963
    # The year is followed by "(V)" in this title.
    assert movies.loc[1412, "year"] == 1995
    # Movie 267 has neither a title year nor a release date.
    assert pd.isna(movies.loc[267, "year"])
    assert movies.loc[267, "genres"] == ["unknown"]


def test_zip_codes_stay_text(movielens: MovieLens) -> None:
    users = movielens.users.set_index("user_id")
    assert users.loc[9, "zip_code"] == "01002"  # a leading zero survives
    assert users.loc[74, "zip_code"] == "T8H1N"  # a Canadian postal code
    assert users.loc[1].tolist() == [24, "M", "technician", "85711"]


def test_fingerprint_is_sha256_of_data_item_user(movielens: MovieLens, ml100k_dir: Path) -> None:
    expected = hashlib.sha256()
    for name in ("u.data", "u.item", "u.user"):
        expected.update((ml100k_dir / name).read_bytes())
    assert movielens.fingerprint == expected.hexdigest()


def test_full_dataset_loads_well_under_a_second(ml100k_dir: Path) -> None:
    started = time.perf_counter()
    load_movielens(ml100k_dir)
    assert time.perf_counter() - started < 1.0


def test_crlf_line_endings_load_the_same(dataset_copy: Path, movielens: MovieLens) -> None:
    for name in ("u.data", "u.item", "u.user"):
        path = dataset_copy / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    reloaded = load_movielens(dataset_copy)
    pd.testing.assert_frame_equal(reloaded.ratings, movielens.ratings)
    pd.testing.assert_frame_equal(reloaded.movies, movielens.movies)


def test_official_split_file_reads(ml100k_dir: Path, movielens: MovieLens) -> None:
    base = read_ratings_file(
        ml100k_dir / "u1.base",
        known_users=set(movielens.users["user_id"].tolist()),
        known_movies=set(movielens.movies["movie_id"].tolist()),
    )
    assert len(base) == 80_000


# --- damaged u.data: every check names u.data and the exact line ----------------------------------


@pytest.mark.parametrize(
    ("line_number", "bad_line", "reason"),
    [
        (500, b"196\t242\t3", "found 3 field(s)"),
        (501, b"196\t242\t3\t881250949\t7", "found 5 field(s)"),
        (502, b"196\t242\tx\t881250949", "not a plain integer"),
        (503, b"196\t242\t3.5\t881250949", "not a plain integer"),
        (504, b"196 242 3 881250949", "found 1 field(s)"),
        (505, b"", "found 1 field(s)"),
        (1234, b"8\t1\t6\t881250949", "rating 6 is outside 1..5"),
        (1235, b"8\t1\t0\t881250949", "rating 0 is outside 1..5"),
        (77, b"196\t1683\t3\t881250949", "movie_id 1683 is not in u.item"),
        (99_999, b"944\t242\t3\t881250949", "user_id 944 is not in u.user"),
        (42, b"0\t242\t3\t881250949", "ids must be positive"),
    ],
)
def test_bad_rating_line_is_reported(
    dataset_copy: Path, line_number: int, bad_line: bytes, reason: str
) -> None:
    replace_line(dataset_copy / "u.data", line_number, bad_line)
    error = load_error(dataset_copy)
    assert_names(error, dataset_copy / "u.data", line_number)
    assert reason in error.reason


def test_non_ascii_byte_in_ratings_is_reported(dataset_copy: Path) -> None:
    path = dataset_copy / "u.data"
    replace_line(path, 4242, line_of(path, 4242) + b"\xe9")
    error = load_error(dataset_copy)
    assert_names(error, path, 4242)
    assert "non-ASCII byte 0xe9" in error.reason


def test_second_rating_of_a_pair_is_reported_with_the_first(dataset_copy: Path) -> None:
    path = dataset_copy / "u.data"
    user, movie, _, timestamp = line_of(path, 3).split(b"\t")
    replace_line(path, 10, b"\t".join([user, movie, b"5", timestamp]))
    error = load_error(dataset_copy)
    assert_names(error, path, 10)
    assert f"user {int(user)} rated movie {int(movie)} twice (first on line 3)" == error.reason


def test_earliest_bad_line_wins_across_checks(dataset_copy: Path) -> None:
    path = dataset_copy / "u.data"
    replace_line(path, 900, b"8\t1\t6\t881250949")
    replace_line(path, 100, b"196\t1683\t3\t881250949")
    assert_names(load_error(dataset_copy), path, 100)


def test_empty_ratings_file_is_an_error(dataset_copy: Path) -> None:
    (dataset_copy / "u.data").write_bytes(b"")
    error = load_error(dataset_copy)
    assert_names(error, dataset_copy / "u.data", None)
    assert "no ratings" in error.reason


@pytest.mark.parametrize("name", ["u.data", "u.item", "u.user", "u.genre"])
def test_missing_file_is_named(dataset_copy: Path, name: str) -> None:
    (dataset_copy / name).unlink()
    error = load_error(dataset_copy)
    assert_names(error, dataset_copy / name, None)
    assert "missing" in error.reason and "LENSFLOW_DATA_DIR" in error.reason


def test_split_file_with_unknown_user_is_reported(ml100k_dir: Path) -> None:
    known_users = set(range(2, 944))  # user 1 is "unknown"
    path = ml100k_dir / "u1.base"
    with pytest.raises(DataError) as caught:
        read_ratings_file(path, known_users=known_users)
    # u1.base is sorted by user, so user 1's first rating is on line 1.
    assert_names(caught.value, path, 1)


# --- damaged u.item / u.user ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line_number", "edit", "reason"),
    [
        (42, lambda line: line + b"|0", "expected 24 '|'-separated fields, found 25"),
        (43, lambda line: b"1" + line[line.index(b"|") :], "duplicate movie_id 1 (first on line 1)"),
        (44, lambda line: line[:-1] + b"2", "genre flags must be 0 or 1"),
        (45, lambda line: with_field(line, 2, b"1994-01-01"), "is not like 01-Jan-1995"),
        (46, lambda line: b"x" + line, "movie_id must be a positive integer"),
    ],
)
def test_bad_movie_line_is_reported(dataset_copy: Path, line_number: int, edit: object, reason: str) -> None:
    path = dataset_copy / "u.item"
    assert callable(edit)
    damaged = edit(line_of(path, line_number))
    assert damaged != line_of(path, line_number)  # the edit must really damage the line
    replace_line(path, line_number, damaged)
    error = load_error(dataset_copy)
    assert_names(error, path, line_number)
    assert reason in error.reason


@pytest.mark.parametrize(
    ("line_number", "bad_line", "reason"),
    [
        (7, b"1|57|M|administrator|91344", "duplicate user_id 1 (first on line 1)"),
        (8, b"8|36|X|administrator|05201", "gender M/F"),
        (9, b"9|-29|M|student|01002", "age must be a positive integer"),
        (10, b"10|53|M|lawyer", "expected 5 '|'-separated fields, found 4"),
    ],
)
def test_bad_user_line_is_reported(
    dataset_copy: Path, line_number: int, bad_line: bytes, reason: str
) -> None:
    path = dataset_copy / "u.user"
    replace_line(path, line_number, bad_line)
    error = load_error(dataset_copy)
    assert_names(error, path, line_number)
    assert reason in error.reason
