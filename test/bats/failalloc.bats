#!/usr/bin/env bats
# Allocation failures, SQLite's way: the FAILALLOC=1 build (test/failalloc/
# failalloc.c, ASan + UBSan) fails the Nth allocation of lensflow's own code
# when LENSFLOW_FAIL_ALLOC=N. For each tool's main path N is swept over the
# run's allocations (counted first with LENSFLOW_ALLOC_COUNT): every run
# either succeeds with the very output of a run without failures, or exits 71
# (the one out-of-memory code, README's exit-code table) saying "out of
# memory"; never another code, a sanitizer report or a leak (detect_leaks=1),
# and never a partial output (-o files absent, stdout empty, no temporary
# file left, no table set in Postgres).
#
# A sample of N by default (FAILALLOC_SAMPLES, 24 a tool: the first 8, then
# spread to the last); FAILALLOC_FULL=1 sweeps every N.
bats_require_minimum_version 1.5.0
load helpers

FA=$REPO/build/failalloc/bin
FIX=$FIXTURES/model-train.tsv
TINY=(-q --ease-dim 4 --ials-dim 2 --ials-iters 1 --epochs 1 --dim 4 --rating-dim 2
	--rating-sweeps 2 --rating-burn-in 1 --rating-samples 1 --threads 2)

setup_file() {
	make -C "$REPO" -s --no-print-directory -j"$(nproc)" FAILALLOC=1 failalloc-tools >&2
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export R=$BATS_FILE_TMPDIR/ref
	mkdir -p "$R"
	# the references: the same runs with no failure
	"$FA/ml-split" -q --test "$R/test.tsv" -o "$R/train.tsv" <"$FIX"
	"$FA/ml-train" "${TINY[@]}" --losses "$R/l.tsv" --params "$R/p.tsv" -o "$R/m.lfe" <"$FIX"
	"$FA/ml-eval" --train "$R/train.tsv" --test "$R/test.tsv" <"$R/m.lfe" >"$R/metrics.tsv"
	mkdir -p "$R/data"
	head -300 "$DATA/u.data" >"$R/data/u.data"
	cp "$DATA/u.item" "$DATA/u.genre" "$R/data/"
	"$FA/ml-fetch" --source "$R/data" -o "$R/ratings.tsv" ratings 2>/dev/null
	"$FA/ml-fetch" --source "$R/data" -o "$R/movies.tsv" movies 2>/dev/null
}

# The N to try for a run of t allocations.
points() {
	awk -v t="$1" -v full="${FAILALLOC_FULL:-0}" -v m="${FAILALLOC_SAMPLES:-24}" 'BEGIN {
		if (full == 1 || t <= m) { for (i = 1; i <= t; i++) print i; exit }
		for (i = 1; i <= 8; i++) print i
		for (j = 1; j <= m - 8; j++) print int(8 + j * (t - 8) / (m - 8)) }' | uniq
}

# sweep CMD: CMD (bash) runs in a fresh empty $O with LENSFLOW_FAIL_ALLOC set;
# its outputs go to $O (files) and $O/stdout. check_ok N and check_failed N
# (functions of the test) judge the outputs after a success and after 71
# (given N + 1000: the model version a sweep of ml-pgload --load uses).
sweep() {
	local cmd=$1 n t st tried=0 failed=0
	O=$BATS_TEST_TMPDIR/count
	mkdir -p "$O"
	(cd "$O" && LENSFLOW_ALLOC_COUNT=$BATS_TEST_TMPDIR/count.txt N=0 bash -c "$cmd") >"$O/stdout" 2>"$O/err" ||
		{ cat "$O/err"; echo "the run without failures failed"; return 1; }
	t=$(cat "$BATS_TEST_TMPDIR/count.txt")
	[ "$t" -gt 0 ]
	for n in $(points "$t"); do
		O=$BATS_TEST_TMPDIR/n$n
		mkdir -p "$O"
		st=0
		(cd "$O" && LENSFLOW_FAIL_ALLOC=$n N=$n bash -c "$cmd") >"$O/stdout" 2>"$O/err" || st=$?
		tried=$((tried + 1))
		if grep -qE 'Sanitizer|runtime error' "$O/err"; then
			cat "$O/err"
			echo "N=$n: a sanitizer report"
			return 1
		fi
		case $st in
		0) check_ok "$((n + 1000))" || { echo "N=$n: exit 0 with another output"; return 1; } ;;
		71)
			failed=$((failed + 1))
			grep -q "out of memory" "$O/err" || { cat "$O/err"; echo "N=$n: 71 without 'out of memory'"; return 1; }
			[ ! -s "$O/stdout" ] || { echo "N=$n: output on stdout after 71"; return 1; }
			[ -z "$(find "$O" -name '.*' -type f)" ] || { ls -la "$O"; echo "N=$n: a temporary file left"; return 1; }
			check_failed "$((n + 1000))" || { ls -la "$O"; echo "N=$n: a partial output left"; return 1; }
			;;
		*) cat "$O/err"; echo "N=$n: exit $st (want 0 or 71)"; return 1 ;;
		esac
	done
	echo "# $t allocations, $tried runs, $failed exited 71" >&3
	[ "$failed" -gt 0 ] # the failures were really injected
}

@test "ml-split: every failed allocation is exit 71 and leaves neither output" {
	check_ok() { cmp "$O/train.tsv" "$R/train.tsv" && cmp "$O/test.tsv" "$R/test.tsv"; }
	check_failed() { [ ! -e "$O/train.tsv" ] && [ ! -e "$O/test.tsv" ]; }
	sweep "'$FA/ml-split' -q --test test.tsv -o train.tsv <'$FIX'"
}

@test "ml-train (the blend, small): exit 71 or the very model; no model, losses or params left" {
	check_ok() { cmp "$O/m.lfe" "$R/m.lfe" && cmp "$O/p.tsv" "$R/p.tsv" && cmp "$O/l.tsv" "$R/l.tsv"; }
	check_failed() { [ ! -e "$O/m.lfe" ] && [ ! -e "$O/p.tsv" ] && [ ! -e "$O/l.tsv" ]; }
	sweep "'$FA/ml-train' ${TINY[*]} --losses l.tsv --params p.tsv -o m.lfe <'$FIX'"
}

@test "ml-eval: exit 71 or the very metrics; stdout empty after 71" {
	check_ok() { cmp "$O/stdout" "$R/metrics.tsv"; }
	check_failed() { true; } # stdout is checked by sweep
	sweep "'$FA/ml-eval' --train '$R/train.tsv' --test '$R/test.tsv' <'$R/m.lfe'"
}

@test "ml-eval --json (jansson) and the popularity baseline: exit 71 or the same object" {
	"$FA/ml-eval" --train "$R/train.tsv" --test "$R/test.tsv" --baseline popularity --json >"$R/pop.json"
	check_ok() { cmp "$O/stdout" "$R/pop.json"; }
	check_failed() { true; }
	sweep "'$FA/ml-eval' --train '$R/train.tsv' --test '$R/test.tsv' --baseline popularity --json"
}

@test "ml-fetch from a local directory: ratings and movies, exit 71 or the same file, -o absent" {
	check_ok() { cmp "$O/r.tsv" "$R/ratings.tsv"; }
	check_failed() { [ ! -e "$O/r.tsv" ]; }
	sweep "'$FA/ml-fetch' --source '$R/data' -o r.tsv ratings"
	check_ok() { cmp "$O/m.tsv" "$R/movies.tsv"; }
	check_failed() { [ ! -e "$O/m.tsv" ]; }
	sweep "'$FA/ml-fetch' --source '$R/data' -o m.tsv movies"
}

@test "ml-pgload --catalogue and --load N against Postgres: exit 71 or loaded; no set of a failed load" {
	fresh_db lensflow_failalloc
	"$FA/ml-pgload" -q --catalogue --movies "$R/movies.tsv" --ratings "$R/ratings.tsv" >/dev/null
	check_ok() { grep -qxE 'loaded|unchanged' "$O/stdout"; }
	check_failed() { true; }
	sweep "'$FA/ml-pgload' -q --catalogue --movies '$R/movies.tsv' --ratings '$R/ratings.tsv'"
	# each run loads version N: a failed one leaves no row and no table of N
	check_ok() { grep -qx loaded "$O/stdout" &&
		[ "$(sql "SELECT count(*) FROM embedding_sets WHERE version = $1")" = 1 ]; }
	check_failed() {
		[ "$(sql "SELECT count(*) FROM embedding_sets WHERE version = $1")" = 0 ] &&
			[ "$(sql "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'lf\_lensflow\_v$1\_%'")" = 0 ]
	}
	sweep "'$FA/ml-pgload' -q --load \$((N + 1000)) <'$R/m.lfe'"
}

@test "ml-mlflow-log against MLflow: a run logged, or exit 71 (the run, if made, marked FAILED)" {
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || skip "no MLflow: run scripts/services up (make test does)"
	check_ok() { grep -q "^run_id	" "$O/stdout"; }
	check_failed() { true; }
	FAILALLOC_SAMPLES=${FAILALLOC_SAMPLES:-12} sweep "'$FA/ml-mlflow-log' -q --experiment failalloc \
		--no-register --param seed=42 --tag k=v --params '$R/p.tsv' --losses '$R/l.tsv' <'$R/metrics.tsv'"
}
