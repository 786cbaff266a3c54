#!/usr/bin/env bats
# Half stars (ML-10M and later) through the database: ml-pgload's catalogue
# into ratings.rating (real, 0.5..5 in steps of 0.5), an older smallint
# column widened in place with its whole stars kept, and the database itself
# refusing a value off the scale.
load helpers
bats_require_minimum_version 1.5.0

[ -n "${LENSFLOW_PG_URL_BASE:-}" ] && export DATABASE_URL=$LENSFLOW_PG_URL_BASE/lf_test_halfstars

setup_file() {
	fresh_db lf_test_halfstars
	export DATABASE_URL
}

setup() {
	printf '1\tA (1995)\t\tDrama\n2\tB, The (1996)\t\tComedy\n' >"$TMP/movies.tsv"
	printf '1\t1\t3.5\t100\n1\t2\t0.5\t101\n2\t1\t5\t102\n' >"$TMP/ratings.tsv"
}

@test "an old smallint ratings column is widened in place; half stars load and read back" {
	# the schema before half stars, with a row in it
	sql "DROP TABLE IF EXISTS ratings, movies, catalogue_meta CASCADE"
	sql "CREATE TABLE ratings (user_id integer NOT NULL, movie_id integer NOT NULL,
		rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5), rated_at timestamptz NOT NULL,
		PRIMARY KEY (user_id, movie_id))"
	sql "INSERT INTO ratings VALUES (9, 9, 4, now())"
	"$BIN/ml-pgload" --catalogue --movies "$TMP/movies.tsv" --ratings "$TMP/ratings.tsv" >/dev/null
	assert_equal "$(sql "SELECT data_type FROM information_schema.columns
		WHERE table_name = 'ratings' AND column_name = 'rating'")" "real"
	run sql "SELECT user_id, movie_id, rating FROM ratings ORDER BY 1, 2"
	assert_output $'1|1|3.5\n1|2|0.5\n2|1|5'
}

@test "the database refuses a rating off the half-star scale" {
	"$BIN/ml-pgload" --catalogue --movies "$TMP/movies.tsv" --ratings "$TMP/ratings.tsv" >/dev/null
	for bad in 0 4.25 5.5; do
		run ! sql "INSERT INTO ratings VALUES (7, 1, $bad, now())"
		assert_output --partial "ratings_rating_check"
	done
	sql "INSERT INTO ratings VALUES (7, 1, 4.5, now())"
}

@test "ml-pgload refuses a ratings file off the scale, naming the line" {
	printf '1\t1\t3.5\t100\n1\t2\t2.25\t101\n' >"$TMP/bad.tsv"
	run -65 "$BIN/ml-pgload" --catalogue --movies "$TMP/movies.tsv" --ratings "$TMP/bad.tsv"
	assert_output --partial "bad.tsv:2: rating '2.25' is not on the scale 0.5..5 in steps of 0.5"
}
