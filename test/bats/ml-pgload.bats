#!/usr/bin/env bats
# ml-pgload against the real embedded Postgres + pgvector: catalogue, sets
# (bit-exact vectors, idempotence, conflicts, corrupt input, kill -9 in the
# middle), serving moves, connection failures, and pgvector's inner product
# against the model's own dot products.
load helpers
bats_require_minimum_version 1.5.0

# helpers.bash re-reads services.env (DATABASE_URL = .../lensflow) in every
# test: point it at this file's own database again.
[ -n "${LENSFLOW_PG_URL_BASE:-}" ] && export DATABASE_URL=$LENSFLOW_PG_URL_BASE/lf_test_pgload

LFEGEN=$REPO/${BUILD:-build/release}/test/lfe-gen

setup_file() {
	# Standalone runs (no scripts/services yet): start the embedded Postgres of
	# the test home ourselves and stop it afterwards.
	if [ ! -f "$LENSFLOW_TEST_HOME/services.env" ]; then
		LENSFLOW_HOME=$LENSFLOW_TEST_HOME "$REPO/scripts/pg-embedded" up >&2
		cp "$LENSFLOW_TEST_HOME/pg/pg.env" "$LENSFLOW_TEST_HOME/services.env"
		touch "$LENSFLOW_TEST_HOME/.pgload-started-pg"
		set -a
		. "$LENSFLOW_TEST_HOME/services.env"
		set +a
	fi
	[ -x "$LFEGEN" ] || make -C "$REPO" -s "${BUILD:-build/release}/test/lfe-gen" >&2
	fresh_db lf_test_pgload
	export DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	cp "$DATA/u.data" "$d/ratings.tsv"
	"$LFEGEN" --users 943 --items 1682 --dim 81 --seed 7 --foldin >"$d/a.lfe"
	"$LFEGEN" --users 943 --items 1682 --dim 81 --seed 8 --foldin >"$d/b.lfe"
	"$BIN/ml-pgload" --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
}

teardown_file() {
	if [ -f "$LENSFLOW_TEST_HOME/.pgload-started-pg" ]; then
		LENSFLOW_HOME=$LENSFLOW_TEST_HOME "$REPO/scripts/pg-embedded" down >&2
		rm -f "$LENSFLOW_TEST_HOME/.pgload-started-pg" "$LENSFLOW_TEST_HOME/services.env"
	fi
}

F=$BATS_FILE_TMPDIR

set_tables() { # lists the tables of version $1 (model lensflow)
	sql "SELECT tablename FROM pg_tables WHERE tablename LIKE 'lf\_lensflow\_v$1\_%' ORDER BY 1"
}

@test "--help shows an example pipe; --version the program's version" {
	run "$BIN/ml-pgload" --help
	assert_success
	assert_output --partial "example: ml-train"
	run "$BIN/ml-pgload" --version
	assert_success
	assert_output --regexp '^ml-pgload lensflow [0-9.]+ \('
	# with another mode it is still the version alone, never a silent --list
	run "$BIN/ml-pgload" --version --list
	assert_success
	assert_output --regexp '^ml-pgload lensflow [0-9.]+ \([^)]*\)$'
}

@test "the old spelling --version N is refused (64) naming --load N, and loads nothing" {
	for old in "--version 3" "--version=3"; do
		# shellcheck disable=SC2086
		run "$BIN/ml-pgload" $old <"$F/a.lfe"
		assert_failure 64
		assert_output --partial "load a model version with --load N"
	done
	assert_equal "$(sql "SELECT count(*) FROM embedding_sets WHERE version = 3")" 0
}

@test "usage errors exit 64 and say what was wrong" {
	run "$BIN/ml-pgload"
	assert_failure 64
	assert_output --partial "give exactly one of"
	run "$BIN/ml-pgload" --serving --list
	assert_failure 64
	run "$BIN/ml-pgload" --load 1 --index ivf </dev/null
	assert_failure 64
	assert_output --partial "--index: bad value 'ivf' (want auto, hnsw, norm or none)"
	run "$BIN/ml-pgload" --load 0 </dev/null
	assert_failure 64
	assert_output --partial "--load: bad value '0' (want an integer in 1..2147483647)"
	run "$BIN/ml-pgload" --catalogue --movies x
	assert_failure 64
	assert_output --partial "--catalogue needs --movies FILE and --ratings FILE"
	run "$BIN/ml-pgload" --serving --model-name Bad-Name
	assert_failure 64
	assert_output --partial "model name 'Bad-Name'"
	run "$BIN/ml-pgload" --load 3 --switch 4 </dev/null
	assert_failure 64
	assert_output --partial "--switch after a load switches to the loaded version"
	run "$BIN/ml-pgload" --keep 2 --list
	assert_failure 64
	DATABASE_URL= run "$BIN/ml-pgload" --serving
	assert_failure 64
	assert_output --partial "no database: give --db URL or set DATABASE_URL"
}

@test "catalogue: 1682 movies and 100000 ratings with years, genres and times" {
	assert_equal "$(sql 'SELECT count(*) FROM movies')" 1682
	assert_equal "$(sql 'SELECT count(*) FROM ratings')" 100000
	assert_equal "$(sql "SELECT title, year, genres FROM movies WHERE movie_id = 1")" \
		"Toy Story (1995)|1995|{Animation,Children's,Comedy}"
	# u.data: 196 242 3 881250949
	assert_equal "$(sql "SELECT rating, rated_at AT TIME ZONE 'UTC' FROM ratings WHERE user_id = 196 AND movie_id = 242")" \
		"3|1997-12-04 15:55:49"
	assert_equal "$(sql 'SELECT n_movies, n_ratings FROM catalogue_meta')" "1682|100000"
	assert_equal "$(sql 'SELECT checksum FROM catalogue_meta')" \
		"$(sha256sum <"$F/movies.tsv" | cut -c1-64):$(sha256sum <"$F/ratings.tsv" | cut -c1-64)"
}

@test "catalogue: the same files again are skipped" {
	before=$(sql 'SELECT loaded_at FROM catalogue_meta')
	run --separate-stderr "$BIN/ml-pgload" --catalogue --movies "$F/movies.tsv" --ratings "$F/ratings.tsv"
	assert_success
	assert_output unchanged
	assert_equal "$(sql 'SELECT loaded_at FROM catalogue_meta')" "$before"
}

@test "catalogue: a bad ratings line is 65 naming file and line; the catalogue is kept" {
	head -n 9 "$F/ratings.tsv" >"$TMP/r.tsv"
	printf '1\t2\t7\t881250949\n' >>"$TMP/r.tsv"
	run "$BIN/ml-pgload" --catalogue --movies "$F/movies.tsv" --ratings "$TMP/r.tsv"
	assert_failure 65
	assert_output --partial "r.tsv:10"
	assert_equal "$(sql 'SELECT count(*) FROM ratings')" 100000
	run "$BIN/ml-pgload" --catalogue --movies "$TMP/none.tsv" --ratings "$TMP/r.tsv"
	assert_failure 66
	assert_output --partial "none.tsv"
	printf '1\t99999\t3\t881250949\n' >"$TMP/r2.tsv"
	run "$BIN/ml-pgload" --catalogue --movies "$F/movies.tsv" --ratings "$TMP/r2.tsv"
	assert_failure 65
	assert_output --partial "movie 99999"
	assert_equal "$(sql 'SELECT count(*) FROM ratings')" 100000
}

@test "set: loaded once, registered, tables keyed and indexed" {
	run --separate-stderr "$BIN/ml-pgload" --load 1 --run-id run-a --index hnsw <"$F/a.lfe"
	assert_success
	assert_output loaded
	assert_equal "$(set_tables 1 | tr '\n' ' ')" \
		"lf_lensflow_v1_dirs lf_lensflow_v1_items lf_lensflow_v1_users "
	assert_equal "$(sql 'SELECT count(*) FROM lf_lensflow_v1_users')" 943
	assert_equal "$(sql 'SELECT count(*) FROM lf_lensflow_v1_items')" 1682
	assert_equal "$(sql 'SELECT count(*) FROM lf_lensflow_v1_dirs')" 1682
	assert_equal "$(sql "SELECT dim, n_users, n_items, index_kind, run_id, checksum FROM embedding_sets WHERE version = 1")" \
		"81|943|1682|hnsw|run-a|$(sha256sum <"$F/a.lfe" | cut -c1-64)"
	assert_equal "$(sql "SELECT foldin->>'bias_last', foldin->>'user_l2' FROM embedding_sets WHERE version = 1")" "1|2"
	assert_equal "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'lf_lensflow_v1_%' AND indexdef LIKE '%hnsw%vector_ip_ops%'")" 2
	assert_equal "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'lf_lensflow_v1_%' AND indexname LIKE '%pkey'")" 3
}

@test "set: --index auto (the default) builds no HNSW index under 20000 movies: exact scans by norm" {
	run --separate-stderr "$BIN/ml-pgload" --load 11 <"$F/a.lfe"
	assert_success
	assert_equal "$(sql "SELECT index_kind FROM embedding_sets WHERE version = 11")" norm
	assert_equal "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'lf_lensflow_v11_%' AND indexdef LIKE '%hnsw%'")" 0
	# the norm column is pgvector's norm, its btree clusters the rows
	assert_equal "$(sql "SELECT count(*) FROM lf_lensflow_v11_items WHERE norm = vector_norm(embedding)")" 1682
	assert_equal "$(sql "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'lf_lensflow_v11_items'::regclass AND x.indisclustered")" \
		lf_lensflow_v11_items_norm
	# none: neither
	"$BIN/ml-pgload" -q --load 12 --index none <"$F/a.lfe"
	assert_equal "$(sql "SELECT index_kind FROM embedding_sets WHERE version = 12")" none
	assert_equal "$(sql "SELECT count(*) FROM information_schema.columns WHERE table_name = 'lf_lensflow_v12_items' AND column_name = 'norm'")" 0
}

@test "set: every vector read back equals the .lfe bit for bit" {
	for t in users items; do
		"$LFEGEN" --dump "$t" <"$F/a.lfe" >"$TMP/$t.tsv"
		col=user_id
		[ "$t" = items ] && col=movie_id
		# the dump's 9 significant digits parse back to the same float32
		run "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$DATABASE_URL" \
			-c "CREATE TEMP TABLE d (id int, v vector(81))" \
			-c "\\copy d FROM '$TMP/$t.tsv'" \
			-c "SELECT count(*) FILTER (WHERE s.embedding = d.v), count(*) FROM d LEFT JOIN lf_lensflow_v1_$t s ON s.$col = d.id"
		assert_success
		n=$(wc -l <"$TMP/$t.tsv")
		assert_output "$n|$n"
	done
}

@test "set: directions are the unit-length movie factors without the bias" {
	assert_equal "$(sql "SELECT count(*) FROM lf_lensflow_v1_dirs WHERE vector_dims(direction) = 80 AND abs(vector_norm(direction) - 1) < 1e-6")" 1682
	# parallel to items[:80]: cosine 1
	assert_equal "$(sql "SELECT count(*) FROM lf_lensflow_v1_dirs d JOIN lf_lensflow_v1_items i USING (movie_id) WHERE abs(1 - (d.direction <#> subvector(i.embedding, 1, 80)) * -1 / vector_norm(subvector(i.embedding, 1, 80))) < 1e-5")" 1682
}

@test "set: the same .lfe again is unchanged; another under the same version is refused" {
	run --separate-stderr "$BIN/ml-pgload" --load 1 <"$F/a.lfe"
	assert_success
	assert_output unchanged
	before=$(sql "SELECT checksum, loaded_at FROM embedding_sets WHERE version = 1")
	probe=$(sql "SELECT embedding::text FROM lf_lensflow_v1_items WHERE movie_id = 50")
	run "$BIN/ml-pgload" --load 1 <"$F/b.lfe"
	assert_failure 65
	assert_output --partial "version 1 is already loaded with other embeddings"
	assert_equal "$(sql "SELECT checksum, loaded_at FROM embedding_sets WHERE version = 1")" "$before"
	assert_equal "$(sql "SELECT embedding::text FROM lf_lensflow_v1_items WHERE movie_id = 50")" "$probe"
}

@test "set: a corrupt, empty or incomplete .lfe is 65 and creates nothing" {
	cp "$F/a.lfe" "$TMP/bad.lfe"
	printf '\x55' | dd of="$TMP/bad.lfe" bs=1 seek=5000 conv=notrunc status=none
	run "$BIN/ml-pgload" --load 9 <"$TMP/bad.lfe"
	assert_failure 65
	assert_output --partial "stdin"
	run "$BIN/ml-pgload" --load 9 </dev/null
	assert_failure 65
	"$LFEGEN" --users 3 --items 1 --dim 4 --no-items >"$TMP/noitems.lfe"
	run "$BIN/ml-pgload" --load 9 <"$TMP/noitems.lfe"
	assert_failure 65
	assert_output --partial "no 'items' table"
	assert_equal "$(set_tables 9)" ""
	assert_equal "$(sql 'SELECT count(*) FROM embedding_sets WHERE version = 9')" 0
}

@test "set: dim over HNSW's 2000 is 65 with --index hnsw; auto leaves it unindexed" {
	"$LFEGEN" --users 3 --items 4 --dim 2001 >"$TMP/wide.lfe"
	run "$BIN/ml-pgload" --load 8 --index hnsw <"$TMP/wide.lfe"
	assert_failure 65
	assert_output --partial "over HNSW's limit of 2000; load with --index none"
	assert_equal "$(set_tables 8)" ""
	run "$BIN/ml-pgload" --load 8 <"$TMP/wide.lfe"
	assert_success
	assert_equal "$(sql "SELECT index_kind, dim FROM embedding_sets WHERE version = 8")" "norm|2001"
	assert_equal "$(sql "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'lf_lensflow_v8_%' AND indexdef LIKE '%hnsw%'")" 0
}

@test "set: metrics TSV is recorded as jsonb" {
	printf 'ndcg@10\t0.4925\nrmse\t0.91\n' >"$TMP/m.tsv"
	run --separate-stderr "$BIN/ml-pgload" --load 2 --metrics "$TMP/m.tsv" <"$F/b.lfe"
	assert_success
	assert_output loaded
	assert_equal "$(sql "SELECT metrics->>'ndcg@10', metrics->>'rmse' FROM embedding_sets WHERE version = 2")" "0.4925|0.91"
	run "$BIN/ml-pgload" --load 6 --metrics "$TMP/none.tsv" <"$F/b.lfe"
	assert_failure 66
	assert_output --partial "none.tsv"
	printf 'ndcg@10\tabc\n' >"$TMP/bad.tsv"
	run "$BIN/ml-pgload" --load 6 --metrics "$TMP/bad.tsv" <"$F/b.lfe"
	assert_failure 65
	assert_output --partial "bad.tsv:1"
	assert_equal "$(set_tables 6)" ""
}

@test "switch: serving and its history; an unknown version is 65" {
	fresh_db lf_test_pgload_sw
	run "$BIN/ml-pgload" --serving
	assert_failure 66
	assert_output --partial "no version of lensflow is serving"
	run --separate-stderr "$BIN/ml-pgload" --load 1 --switch <"$F/a.lfe"
	assert_success
	assert_output $'loaded\nserving 1'
	"$BIN/ml-pgload" --load 2 <"$F/b.lfe"
	run "$BIN/ml-pgload" --switch 2
	assert_success
	assert_output "serving 2"
	run "$BIN/ml-pgload" --serving
	assert_output 2
	run "$BIN/ml-pgload" --switch 7
	assert_failure 65
	assert_output --partial "lensflow version 7 is not loaded"
	assert_equal "$(sql 'SELECT version FROM serving')" 2
	assert_equal "$(sql "SELECT coalesce(from_version::text, '-'), to_version FROM serving_history ORDER BY id" | tr '\n' ' ')" \
		"-|1 1|2 "
	run "$BIN/ml-pgload" --list
	assert_success
	assert_line --index 0 --regexp $'^lensflow\t1\t81\t943\t1682\tnorm\tno\t[0-9T:Z-]+\t\t[0-9a-f]{64}$'
	assert_line --index 1 --regexp $'^lensflow\t2\t81\t943\t1682\tnorm\tyes\t'
}

@test "prune keeps the newest, the serving one and the one it replaced" {
	fresh_db lf_test_pgload_prune
	for v in 1 2 3 4 5; do
		"$LFEGEN" --users 5 --items 6 --dim 4 --seed "$v" | "$BIN/ml-pgload" --load "$v" >/dev/null
	done
	"$BIN/ml-pgload" --switch 1 >/dev/null
	"$BIN/ml-pgload" --switch 2 >/dev/null
	run "$BIN/ml-pgload" --prune --keep 1
	assert_success
	assert_output $'lensflow\t4\nlensflow\t3'
	assert_equal "$(sql 'SELECT version FROM embedding_sets ORDER BY 1' | tr '\n' ' ')" "1 2 5 "
	assert_equal "$(set_tables 3)$(set_tables 4)" ""
	assert_equal "$(set_tables 5 | wc -l)" 3
}

@test "two loaders of one version at once: one loads it, the other finds it unchanged" {
	fresh_db lf_test_pgload_conc
	"$BIN/ml-pgload" --load 1 <"$F/a.lfe" >"$TMP/o1" 2>/dev/null &
	p1=$!
	"$BIN/ml-pgload" --load 1 <"$F/a.lfe" >"$TMP/o2" 2>/dev/null &
	p2=$!
	wait "$p1"
	wait "$p2"
	assert_equal "$(sort "$TMP/o1" "$TMP/o2" | tr '\n' ' ')" "loaded unchanged "
	assert_equal "$(sql 'SELECT count(*) FROM embedding_sets')" 1
	assert_equal "$(sql 'SELECT count(*) FROM lf_lensflow_v1_items')" 1682
}

@test "kill -9 in the middle of a big load leaves nothing; the next load completes" {
	fresh_db lf_test_pgload_kill
	"$LFEGEN" --users 400000 --items 1682 --dim 64 >"$TMP/big.lfe"
	"$BIN/ml-pgload" --load 1 <"$TMP/big.lfe" 2>/dev/null &
	pid=$!
	# wait until its COPY runs, then kill it there
	for _ in $(seq 100); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ml-pgload' AND query LIKE 'COPY%'")" = 1 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	for _ in $(seq 100); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ml-pgload'")" = 0 ] && break
		sleep 0.1
	done
	assert_equal "$(sql 'SELECT count(*) FROM embedding_sets')" 0
	assert_equal "$(set_tables 1)" ""
	run "$BIN/ml-pgload" --load 1 <"$TMP/big.lfe"
	assert_success
	assert_output --partial loaded
	assert_equal "$(sql 'SELECT count(*) FROM lf_lensflow_v1_users')" 400000
}

@test "kill -9 during the index build: the server stops the build within seconds" {
	fresh_db lf_test_pgload_kill2
	# HNSW on 20,000 random vectors takes far longer than the 5 s allowed below
	"$LFEGEN" --users 10 --items 20000 --dim 16 >"$TMP/wide.lfe"
	"$BIN/ml-pgload" --load 1 <"$TMP/wide.lfe" 2>/dev/null &
	pid=$!
	for _ in $(seq 200); do
		[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ml-pgload' AND query LIKE 'CREATE INDEX%'")" = 1 ] && break
		sleep 0.05
	done
	kill -9 "$pid"
	wait "$pid" || true
	gone=no
	for _ in $(seq 50); do
		if [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ml-pgload'")" = 0 ]; then
			gone=yes
			break
		fi
		sleep 0.1
	done
	assert_equal "$gone" yes
	assert_equal "$(sql 'SELECT count(*) FROM embedding_sets')" 0
	assert_equal "$(set_tables 1)" ""
}

@test "Postgres down is 69 naming host:port and never the password" {
	run "$BIN/ml-pgload" --list --db "postgresql://lensflow:hunter2@127.0.0.1:1/lensflow"
	assert_failure 69
	assert_output --partial "cannot connect to Postgres at 127.0.0.1:1"
	refute_output --partial hunter2
}

@test "a bad database URL is 64 with the reason" {
	run "$BIN/ml-pgload" --list --db "postgresql://u:hunter2@127.0.0.1:5432/x?nosuchparam=1"
	assert_failure 64
	assert_output --partial "bad database URL"
	refute_output --partial hunter2
	run "$BIN/ml-pgload" --list --db "host=127.0.0.1 port"
	assert_failure 64
	assert_output --partial "bad database URL"
}

@test "the schema applies twice; ml-pgload re-applies it on every run" {
	run "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$REPO/sql/schema.sql"
	assert_success
	run "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f "$REPO/sql/schema.sql"
	assert_success
	run "$BIN/ml-pgload" --list
	assert_success
}

# For sampled users, the top-10 of the serving query equal a dot-product
# top-10 computed by awk over the .lfe itself (rated movies excluded).
dot_matches() { # VERSION LFE
	local v=$1 lfe=$2 u
	"$LFEGEN" --dump users <"$lfe" >"$TMP/u.tsv"
	"$LFEGEN" --dump items <"$lfe" >"$TMP/i.tsv"
	for u in 1 13 405 655 943; do
		# ml-serve's own statement ("known user"), from lib/store
		"$TEST_TOOLS/store-query" user_recs lensflow "$v" 10 "$u" >"$TMP/sql.$u"
		awk -F'\t' -v u="$u" '
			FILENAME == ARGV[1] { if ($1 == u) rated[$2] = 1; next }
			FILENAME == ARGV[2] { if ($1 == u) { gsub(/[][]/, "", $2); n = split($2, uv, ",") } next }
			!($1 in rated) { gsub(/[][]/, "", $2); split($2, iv, ","); s = 0
			                 for (k = 1; k <= n; k++) s += uv[k] * iv[k]
			                 printf "%d\t%.9f\n", $1, s }' \
			"$F/ratings.tsv" "$TMP/u.tsv" "$TMP/i.tsv" | sort -t$'\t' -k2,2gr | head -n 10 >"$TMP/awk.$u"
		assert_equal "$(wc -l <"$TMP/sql.$u")" 10
		run awk -F'\t' '$1 != $3 || ($2 - $4) > 1e-4 || ($4 - $2) > 1e-4 { print "user '"$u"' row " NR ": " $0; bad = 1 } END { exit bad }' \
			<(paste "$TMP/sql.$u" "$TMP/awk.$u")
		assert_success
	done
}

@test "pgvector's inner products equal the model's dot products (top-10, rated movies excluded)" {
	dot_matches 1 "$F/a.lfe"
}

@test "the same on a model trained by ml-train" {
	[ -x "$BIN/ml-train" ] || skip "no ml-train built"
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 3 --rating-sweeps 20 --rating-burn-in 5 --rating-samples 5 \
		--threads 1 <"$F/ratings.tsv" >"$TMP/real.lfe"
	run --separate-stderr "$BIN/ml-pgload" --load 40 <"$TMP/real.lfe"
	assert_success
	assert_output loaded
	assert_equal "$(sql 'SELECT dim FROM embedding_sets WHERE version = 40')" 17
	dot_matches 40 "$TMP/real.lfe"
}

# Every user's top-K by ml-serve's statement on set VERSION, in one psql session.
all_recs() { # VERSION K
	{
		echo "PREPARE q(int) AS $("$TEST_TOOLS/store-query" --print user_recs lensflow "$1" "$2");"
		echo "SELECT format('EXECUTE q(%s)', user_id) FROM lf_lensflow_v$1_users ORDER BY user_id \\gexec"
	} | "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$DATABASE_URL"
}

@test "--index norm: every user's answer is the full scan's (k 1, 10, 100), reading fewer movies" {
	[ -x "$BIN/ml-train" ] || skip "no ml-train built"
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 3 --rating-sweeps 20 --rating-burn-in 5 --rating-samples 5 \
		--threads 1 <"$F/ratings.tsv" >"$TMP/real.lfe"
	"$BIN/ml-pgload" -q --load 41 --index none <"$TMP/real.lfe"
	"$BIN/ml-pgload" -q --load 42 --index norm <"$TMP/real.lfe"
	assert_equal "$(sql "SELECT string_agg(index_kind, ' ' ORDER BY version) FROM embedding_sets WHERE version IN (41, 42)")" "none norm"
	for k in 1 10 100; do
		all_recs 41 "$k" >"$TMP/none.$k"
		all_recs 42 "$k" >"$TMP/norm.$k"
		assert_equal "$(wc -l <"$TMP/norm.$k")" "$((943 * k))"
		run diff "$TMP/none.$k" "$TMP/norm.$k"
		assert_success
	done
	# the bound does prune: over ten users the top-10's scans read under 60 % of the movies
	read -r n_items < <(sql "SELECT n_items FROM embedding_sets WHERE version = 42")
	q=$("$TEST_TOOLS/store-query" --print user_recs lensflow 42 10)
	for u in 1 100 200 300 400 500 600 700 800 900; do
		"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "PREPARE q(int) AS $q" \
			-c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q($u)"
	done | awk -v n="$n_items" '/Index Scan using lf_lensflow_v42_items_norm on lf_lensflow_v42_items v / {
			sub(/.*rows=/, ""); r = $1 + 0; print r; read += r; m++ }
		END { print read " of " m * n " movies read"; exit !(m == 10 && read < 0.6 * m * n) }' >"$TMP/rows" || {
		cat "$TMP/rows"
		false
	}
}
