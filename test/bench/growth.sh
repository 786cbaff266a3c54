# test/bench/growth.sh — `make bench-scale` (sourced by test/bench/run, part
# "scale"): synthetic releases of BENCH_GROWTH sizes (default "100k 1m 10m
# 25m") through every stage of the pipeline — fetch (release files -> ratings
# TSV), split, train (ml-train --model auto), eval (ml-eval --users 20000),
# load (ml-pgload of the model's set, --index auto) — each under
# /usr/bin/time: wall seconds, CPU seconds (user + system of the tool; the
# load's Postgres server work is not in it) and peak RSS. Then growth
# (test/bench/growth.c) fits the exponents and writes
# results/scale-growth.{json,md,svg}.
#
# The releases come from test/bench/ratings-synth as a u.data directory
# (whole stars; the default, so that runs of different sizes compare), or
# with BENCH_GROWTH_SYNTH=ml-synth from test/tools/ml-synth in the release's
# own format (ml-fetch then converts CSV or '::' files). Which one ran is in
# the table's title. BENCH_GROWTH_KEEP=1 keeps the committed rows of
# the sizes not run this time. The serving measurements at synthetic catalogue
# sizes (HNSW, iterative scans, recall) are the part "catalogue" (scale.sh).

# growth_shape NAME: users movies ratings of the release's shape
growth_shape() {
	case $1 in
	100k) echo 943 1682 100000 ;;
	1m) echo 6040 3706 1000209 ;;
	10m) echo 69878 10677 10000054 ;;
	20m) echo 138493 26744 20000263 ;;
	25m) echo 162541 62423 25000095 ;;
	*) die "unknown size $1 (100k 1m 10m 20m 25m)" ;;
	esac
}

# timed_stage SIZE RATINGS STAGE CMD...: runs CMD, appends a row to $GROWTH_TSV
timed_stage() {
	local size=$1 n=$2 stage=$3 t=$WORK/growth-time
	shift 3
	/usr/bin/time -f '%e %U %S %M' -o "$t" nice "$@" || die "$stage at $size failed"
	read -r wall user sys rss <"$t"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$n" "$stage" "$wall" \
		"$(echo "$user + $sys" | bc)" "$rss" >>"$GROWTH_TSV"
	say "$size $stage: $wall s wall, $(echo "$user + $sys" | bc) s CPU, $((rss / 1024)) MB"
}

growth_one() {
	local size=$1 d=$WORK/growth-$1 users movies want n src
	read -r users movies want < <(growth_shape "$size")
	rm -rf "$d" && mkdir -p "$d/release"
	if [ "$GROWTH_SYNTH" = ml-synth ]; then
		"$SYNTH" --format "$size" --out "$d/release" --seed 42 >&2
		src=(--source "$d/release")
	else
		"$HB/ratings-synth" --users "$users" --movies "$movies" --ratings "$want" \
			--seed 42 >"$d/release/u.data"
		src=(--source "$d/release")
	fi
	timed_stage "$size" 0 fetch sh -c '"$1" "$2" "$3" ratings >"$4" 2>/dev/null' _ \
		"$BIN/ml-fetch" "${src[@]}" "$d/ratings.tsv"
	n=$(wc -l <"$d/ratings.tsv")
	sed -i "\$s/^$size\t0\t/$size\t$n\t/" "$GROWTH_TSV"
	timed_stage "$size" "$n" split sh -c '"$1" -q --test "$2" <"$3" >"$4"' _ \
		"$BIN/ml-split" "$d/test.tsv" "$d/ratings.tsv" "$d/train.tsv"
	rm -f "$d/ratings.tsv"
	timed_stage "$size" "$n" train sh -c '"$1" -q --model auto --params "$2" <"$3" >"$4"' _ \
		"$BIN/ml-train" "$d/params.tsv" "$d/train.tsv" "$d/model.lfe"
	timed_stage "$size" "$n" eval sh -c '"$1" --users 20000 --train "$2" --test "$3" <"$4" >"$5"' _ \
		"$BIN/ml-eval" "$d/train.tsv" "$d/test.tsv" "$d/model.lfe" "$d/metrics.tsv"
	"$BIN/ml-eval" --users 20000 --baseline popularity --train "$d/train.tsv" \
		--test "$d/test.tsv" >"$d/baseline.tsv"
	GROWTH_VERSION=$((GROWTH_VERSION + 1))
	timed_stage "$size" "$n" load sh -c '"$1" -q --model-name growth --load "$2" --index auto <"$3" >/dev/null' _ \
		"$BIN/ml-pgload" "$GROWTH_VERSION" "$d/model.lfe"
	fig "$size: pipeline stages" "$(jq -n --arg size "$size" --argjson n "$n" \
		--arg model "$(awk -F'\t' '$1 == "model_auto" { print $2 }' "$d/params.tsv")" \
		--argjson ndcg "$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$d/metrics.tsv")" \
		--argjson rmse "$(awk -F'\t' '$1 == "rmse" { print $2 }' "$d/metrics.tsv")" \
		--argjson pop "$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$d/baseline.tsv")" \
		'{size: $size, ratings: $n, ndcg_at_10_sample: $ndcg, popularity_ndcg_at_10: $pop,
		  rmse: $rmse, model_auto: $model}')"
	rm -rf "$d"
}

section_growth() {
	start_section scale-stages # the figures; the growth table is scale-growth.*
	SYNTH=$REPO/${BUILD:-build/release}/test-tools/ml-synth
	GROWTH_SYNTH=${BENCH_GROWTH_SYNTH:-ratings-synth}
	if [ "$GROWTH_SYNTH" = ml-synth ] && ! { [ -x "$SYNTH" ] &&
		"$BIN/ml-fetch" --help 2>&1 | grep -q -- '--dataset'; }; then
		die "BENCH_GROWTH_SYNTH=ml-synth needs test-tools/ml-synth and ml-fetch --dataset"
	fi
	GROWTH_TSV=$WORK/growth.tsv
	: >"$GROWTH_TSV"
	# BENCH_GROWTH_KEEP=1: keep the committed rows of sizes not run now (a long
	# size measured in a run of its own)
	if [ "${BENCH_GROWTH_KEEP:-0}" = 1 ] && [ -f "$RESULTS/scale-growth.tsv" ]; then
		awk -F'\t' -v run=" ${BENCH_GROWTH:-100k 1m 10m 25m} " \
			'index(run, " " $1 " ") == 0' "$RESULTS/scale-growth.tsv" >"$GROWTH_TSV"
	fi
	GROWTH_VERSION=$(($(date +%s) % 100000 * 10))
	local s
	for s in ${BENCH_GROWTH:-100k 1m 10m 25m}; do
		growth_one "$s"
	done
	"$HB/growth" --title "lensflow stage growth ($GROWTH_SYNTH releases, $(nproc) cores, commit $(commit_id))" \
		--json "$RESULTS/scale-growth.json" --md "$RESULTS/scale-growth.md" \
		--svg "$RESULTS/scale-growth.svg" <"$GROWTH_TSV"
	cp "$GROWTH_TSV" "$RESULTS/scale-growth.tsv"
	"$BIN/ml-pgload" -q --model-name growth --prune --keep 0 >/dev/null 2>&1 || true
	finish_section
}
