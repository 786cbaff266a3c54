# test/bench/growth.sh — `make bench-scale` (sourced by test/bench/run, part
# "scale"): synthetic releases of BENCH_GROWTH sizes (default "100k 1m 10m
# 25m") through every stage of the pipeline — fetch (release files -> ratings
# TSV), split, train (ml-train with the pipeline's TRAIN_FLAGS, which the
# Makefile passes: --model auto --serve-dim 32, the model the pipeline serves),
# eval (ml-eval --users 20000), load (ml-pgload of the model's set, --index
# auto) — each under /usr/bin/time: wall seconds, CPU seconds (user + system of
# the tool) and peak RSS; for the load also the Postgres server's CPU seconds
# during it and its HNSW builds' seconds (statement durations from the
# server's log), since the server does most of that stage's work. Then growth
# (test/bench/growth.c) fits the exponents and writes
# results/scale-growth.{json,md,svg}. The stages run at normal priority (wall
# time is what a user waits for; BENCH_GROWTH_NICE=1 runs them under nice on
# a shared machine) and each stage's figure records the 1-minute load average
# before it.
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

# timed_stage SIZE RATINGS STAGE CMD...: runs CMD, appends a row to $GROWTH_TSV (with
# the Postgres server's CPU seconds and its HNSW builds' seconds for the load)
timed_stage() {
	local size=$1 n=$2 stage=$3 t=$WORK/growth-time load p0 p1 off srv=() steps
	shift 3
	local -a nice=()
	[ "${BENCH_GROWTH_NICE:-0}" = 1 ] && nice=(nice)
	read -r load _ </proc/loadavg
	if [ "$stage" = load ]; then
		off=$(stat -c %s "$(pg_log)")
		p0=$(pg_ticks)
	fi
	# the load's statements are logged with their durations (its HNSW builds)
	PGOPTIONS=${off:+-c log_min_duration_statement=0} \
		/usr/bin/time -f '%e %U %S %M' -o "$t" "${nice[@]}" "$@" || die "$stage at $size failed"
	read -r wall user sys rss <"$t"
	if [ "$stage" = load ]; then
		sleep 0.5 # the backend's exit (the postmaster's cutime) and its log lines
		p1=$(pg_ticks)
		steps=$(load_steps "$off")
		srv=("$(echo "scale=3; ($p1 - $p0) / $CLK_TCK" | bc)"
			"$(jq '[.hnsw_items_s // 0, .hnsw_dirs_s // 0] | add' <<<"$steps")")
	fi
	local cpu
	cpu=$(echo "$user + $sys" | bc)
	{
		printf '%s\t%s\t%s\t%s\t%s\t%s' "$size" "$n" "$stage" "$wall" "$cpu" "$rss"
		[ ${#srv[@]} -eq 0 ] || printf '\t%s\t%s' "${srv[@]}"
		printf '\n'
	} >>"$GROWTH_TSV"
	fig "$size: $stage" "$(jq -nc --argjson w "$wall" --argjson c "$cpu" --argjson kb "$rss" \
		--argjson l "$load" --argjson n "$n" --arg srv "${srv[*]}" --arg steps "${steps:-}" \
		'{ratings: $n, wall_s: $w, cpu_s: $c, peak_rss_mb: ($kb / 1024 | round),
		  loadavg_1m_before: $l}
		 + (if $srv == "" then {} else {server_cpu_s: ($srv | split(" ")[0] | tonumber),
		    hnsw_build_s: ($srv | split(" ")[1] | tonumber), server_steps: ($steps | fromjson)} end)')"
	say "$size $stage: $wall s wall, $cpu s CPU, $((rss / 1024)) MB${srv:+, server ${srv[0]} s CPU, HNSW ${srv[1]} s} (load $load)"
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
	# shellcheck disable=SC2086 # TRAIN_FLAGS is a list of options, as in the pipeline
	timed_stage "$size" "$n" train sh -c '"$1" -q '"$GROWTH_TRAIN_FLAGS"' --params "$2" <"$3" >"$4"' _ \
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
		--arg flags "$GROWTH_TRAIN_FLAGS" --argjson movies "$movies" \
		'{size: $size, ratings: $n, movies: $movies, train_flags: $flags,
		  ndcg_at_10_sample: $ndcg, popularity_ndcg_at_10: $pop, rmse: $rmse,
		  model_auto: $model}')"
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
	# the pipeline's model (the Makefile's TRAIN_FLAGS; its default when run by hand)
	GROWTH_TRAIN_FLAGS=${TRAIN_FLAGS:---model auto --serve-dim 32}
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
	"$HB/growth" --title "lensflow stage growth ($GROWTH_SYNTH releases, ml-train $GROWTH_TRAIN_FLAGS, $(nproc) cores, commit $(commit_id))" \
		--note "The load's server CPU and HNSW columns are the Postgres server's work during ml-pgload (its own CPU is the CPU column). ml-pgload --index auto builds HNSW indexes from 20,000 movies on: of these releases only those past that size (25M's shape: 62,423 movies; 10M's: 10,677) have them, so the load's exponent from 1M to 25M includes that switch. ml-eval ranks a sample of 20,000 test users (all of 1M's 6,040) against every movie: its cost follows users × movies, not the ratings." \
		--json "$RESULTS/scale-growth.json" --md "$RESULTS/scale-growth.md" \
		--svg "$RESULTS/scale-growth.svg" <"$GROWTH_TSV"
	cp "$GROWTH_TSV" "$RESULTS/scale-growth.tsv"
	"$BIN/ml-pgload" -q --model-name growth --prune --keep 0 >/dev/null 2>&1 || true
	finish_section
}
