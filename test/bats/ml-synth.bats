#!/usr/bin/env bats
# ml-synth (test/tools/ml-synth.c): the synthetic MovieLens that the dataset
# tests and the scale bench read. Same seed, same bytes; exactly --ratings
# ratings, every user at least 20, each release's own file layout.
load helpers

SYNTH=$TEST_TOOLS/ml-synth

setup() {
	[ -x "$SYNTH" ] || make -s -C "$REPO" "${BUILD:-build/release}/test-tools/ml-synth" >&2
}

@test "ml-synth: same seed, same bytes; another seed, other bytes" {
	"$SYNTH" --format 25m --out "$TMP/a" --users 300 --movies 800 --ratings 30000
	"$SYNTH" --format 25m --out "$TMP/b" --users 300 --movies 800 --ratings 30000
	"$SYNTH" --format 25m --out "$TMP/c" --users 300 --movies 800 --ratings 30000 --seed 7
	cmp "$TMP/a/ratings.csv" "$TMP/b/ratings.csv"
	cmp "$TMP/a/movies.csv" "$TMP/b/movies.csv"
	! cmp -s "$TMP/a/ratings.csv" "$TMP/c/ratings.csv"
}

@test "ml-synth: exactly --ratings ratings, >= 20 a user, no repeated pair, ids in movies.csv" {
	"$SYNTH" --format 20m --out "$TMP/d" --users 400 --movies 900 --ratings 50000
	run awk -F, 'NR == 1 { next } { n++; c[$1]++; if (p[$1 "," $2]++) dup++ }
		END { for (u in c) { users++; if (c[u] < 20) low++ }
		      print n, users, low + 0, dup + 0 }' "$TMP/d/ratings.csv"
	assert_output "50000 400 0 0"
	# every rated movie is in movies.csv
	run awk -F, 'FNR == 1 { next } NR == FNR { m[$1] = 1; next } !($2 in m) { bad++ }
		END { print bad + 0 }' "$TMP/d/movies.csv" "$TMP/d/ratings.csv"
	assert_output "0"
	head -1 "$TMP/d/ratings.csv" | grep -qx 'userId,movieId,rating,timestamp'
	head -1 "$TMP/d/movies.csv" | grep -qx 'movieId,title,genres'
}

@test "ml-synth: half stars in 10m and later, whole stars in 100k and 1m" {
	"$SYNTH" --format 10m --out "$TMP/t" --users 100 --movies 300 --ratings 10000
	"$SYNTH" --format 1m --out "$TMP/o" --users 100 --movies 300 --ratings 10000
	"$SYNTH" --format 100k --out "$TMP/h" --users 100 --movies 300 --ratings 10000
	grep -q '::[0-4]\.5::' "$TMP/t/ratings.dat"
	run grep -c -v -E '^[0-9]+::[0-9]+::[1-5]::[0-9]+$' "$TMP/o/ratings.dat"
	assert_output "0"
	run grep -c -v -P '^\d+\t\d+\t[1-5]\t\d+$' "$TMP/h/u.data"
	assert_output "0"
	# u.item and movies.dat of 1m in Latin-1 (an accented byte that is not UTF-8)
	! iconv -f UTF-8 -t UTF-8 "$TMP/o/movies.dat" >/dev/null 2>&1
	iconv -f UTF-8 -t UTF-8 "$TMP/t/movies.dat" >/dev/null
}

@test "ml-synth: CSV titles with commas and quotes are quoted, quotes doubled" {
	"$SYNTH" --format 25m --out "$TMP/q" --users 200 --movies 3000 --ratings 20000
	grep -q '^[0-9]*,"[^"]*, The ([0-9]*)",' "$TMP/q/movies.csv"
	grep -q '^[0-9]*,"[^,]*""[A-Za-z]*""' "$TMP/q/movies.csv"
	# Python's csv module reads every row as three fields
	python3 -c 'import csv,sys; rows=list(csv.reader(open(sys.argv[1], encoding="utf-8")))
assert all(len(r) == 3 for r in rows), "field count"' "$TMP/q/movies.csv"
}

@test "ml-synth: impossible sizes and unknown formats are usage errors (64)" {
	run "$SYNTH" --format 25m --out "$TMP/x" --users 100 --movies 100 --ratings 1000
	assert_failure 64
	run "$SYNTH" --format 7m --out "$TMP/x"
	assert_failure 64
	run "$SYNTH" --format 1m
	assert_failure 64
}
