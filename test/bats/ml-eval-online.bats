#!/usr/bin/env bats
# ml-eval --online against a fixture worked by hand (test/fixtures/online/README.md),
# and the online gate of ml-mlflow-log against z statistics worked by hand.

load helpers

F=$FIXTURES/online

online() {
	"$BIN/ml-eval" --online --impressions "$F/impressions.tsv" --feedback "$F/feedback.tsv" "$@"
}

# value VERSION ARM METRIC: from $output
value() {
	awk -F'\t' -v v="$1" -v a="$2" -v m="$3" '$1 == v && $2 == a && $3 == m { print $4 }' <<<"$output"
}

@test "k 10, window 24 h: the hand-worked numbers per version and arm" {
	run online
	assert_success
	assert_equal "$(value 1 champion impressions)" 2
	assert_equal "$(value 1 champion users)" 2
	assert_equal "$(value 1 champion hits@10)" 1
	assert_equal "$(value 1 champion hit_rate@10)" 0.5
	assert_equal "$(value 1 champion precision@10)" 0.1
	assert_equal "$(value 1 champion mean_rating_of_hits)" 4.5
	assert_equal "$(value 2 challenger impressions)" 2
	assert_equal "$(value 2 challenger users)" 2
	assert_equal "$(value 2 challenger hit_rate@10)" 1
	assert_equal "$(value 2 challenger precision@10)" 0.1
	assert_equal "$(value 2 challenger mean_rating_of_hits)" 4.25
	# "all": each version over both arms (here each was served in one)
	assert_equal "$(value 2 all hit_rate@10)" 1
	assert_equal "$(value 1 all users)" 2
	assert_equal "$(value 1 challenger impressions)" ""
}

@test "--k 1 and --window 1000s change the hits as worked by hand" {
	run online --k 1
	assert_success
	assert_equal "$(value 1 champion hit_rate@1)" 0.5
	assert_equal "$(value 1 champion precision@1)" 0.5
	assert_equal "$(value 1 champion mean_rating_of_hits)" 5
	assert_equal "$(value 2 challenger hit_rate@1)" 0
	assert_equal "$(value 2 challenger mean_rating_of_hits)" ""
	run online --window 1000s
	assert_success
	assert_equal "$(value 1 champion hit_rate@10)" 0.5
	assert_equal "$(value 1 champion precision@10)" 0.05
	assert_equal "$(value 1 champion mean_rating_of_hits)" 4
	assert_equal "$(value 2 challenger hit_rate@10)" 1
	run online --window 24
	assert_success
	assert_equal "$(value 1 champion precision@10)" 0.05
}

@test "bad input: a malformed row names file and line (65); a missing file 66; bad usage 64" {
	printf 'r1\t1000\t1\tlensflow\t1\tchampion\t1\nr2\tsoon\t1\tlensflow\t1\tchampion\t1\n' >"$TMP/imp.tsv"
	run "$BIN/ml-eval" --online --impressions "$TMP/imp.tsv" --feedback "$F/feedback.tsv"
	assert_equal "$status" 65
	assert_output --partial "imp.tsv:2"
	printf '1\t1\t7\t5\t\n' >"$TMP/fb.tsv"
	run "$BIN/ml-eval" --online --impressions "$F/impressions.tsv" --feedback "$TMP/fb.tsv"
	assert_equal "$status" 65
	assert_output --partial "fb.tsv:1"
	run "$BIN/ml-eval" --online --impressions "$TMP/none.tsv" --feedback "$F/feedback.tsv"
	assert_equal "$status" 66
	run "$BIN/ml-eval" --online --impressions "$F/impressions.tsv"
	assert_equal "$status" 64
	run "$BIN/ml-eval" --online --impressions "$F/impressions.tsv" --feedback "$F/feedback.tsv" --window 0
	assert_equal "$status" 64
}

# gate X1 N1 X0 N0 [options]: the online gate on v2 (challenger) against v1 (champion)
gate() {
	printf '2\tchallenger\timpressions\t%s\n2\tchallenger\thits@10\t%s\n1\tchampion\timpressions\t%s\n1\tchampion\thits@10\t%s\n' \
		"$2" "$1" "$4" "$3" >"$TMP/online.tsv"
	shift 4
	run "$BIN/ml-mlflow-log" --gate 2 --online "$@" <"$TMP/online.tsv"
}

@test "the online gate: z worked by hand decides pass, fail and wait" {
	# 60/200 vs 40/200: p = 0.25, se = sqrt(0.25 * 0.75 * 0.01) = 0.0433, continuity
	# correction (1/200 + 1/200) / 2 = 0.005: z = (0.1 - 0.005) / 0.0433 = 2.194 > 1.645
	gate 60 200 40 200 --min-impressions 100
	assert_success
	assert_line pass
	assert_output --partial "z = 2.194"
	# 60/200 vs 50/200: p = 0.275, se = 0.04465, z = 0.045 / 0.04465 = 1.008
	gate 60 200 50 200 --min-impressions 100
	assert_line fail
	assert_output --partial "z = 1.008"
	# the same at alpha 0.2 (critical 0.8416): pass; at 0.15 (1.0364): fail
	gate 60 200 50 200 --min-impressions 100 --alpha 0.2
	assert_line pass
	gate 60 200 50 200 --min-impressions 100 --alpha 0.15
	assert_line fail
	# the challenger worse: fail
	gate 40 200 60 200 --min-impressions 100
	assert_line fail
	# too few answers in an arm: wait (default minimum 500)
	gate 60 200 40 200
	assert_line wait
	gate 600 2000 400 499
	assert_line wait
	# no challenger rows at all: wait
	run bash -c "printf '1\tchampion\timpressions\t900\n' | '$BIN/ml-mlflow-log' --gate 2 --online"
	assert_line wait
}

@test "the online gate: bad input and usage" {
	run bash -c "echo 'not a row' | '$BIN/ml-mlflow-log' --gate 2 --online"
	assert_equal "$status" 65
	run "$BIN/ml-mlflow-log" --gate 2 --online --alpha 0.7 </dev/null
	assert_equal "$status" 64
	run "$BIN/ml-mlflow-log" --promote 2 --online </dev/null
	assert_equal "$status" 64
}

@test "the gate on simulated experiments (gate-sim): A/A passes at most alpha, a large lift nearly always" {
	local sim=$REPO/${BUILD:-build/release}/bench/gate-sim
	# the sanitizer build's own when the suite runs against it
	make -s --no-print-directory -C "$REPO" $([ "${BUILD:-}" = build/asan ] && echo SAN=1) \
		"${BUILD:-build/release}/bench/gate-sim" >&2
	run "$sim" --trials 4000 --n 2000 --p0 0.2 --lift 0.25 --seed 5
	assert_success
	# the rates with their binomial standard errors: A/A at most 0.05 (by more than its noise
	# would allow to be above), A/B above 0.95
	awk -F'\t' '$1 == "aa" { if ($8 > 0.05) exit 1 } $1 == "ab" { if ($8 < 0.95) exit 1 }' <<<"$output"
	# and the gate really decides: with no lift the A/B row is the A/A row's rate again
	run "$sim" --trials 4000 --n 2000 --p0 0.2 --lift 0 --seed 5
	awk -F'\t' '$1 == "ab" { if ($8 > 0.07) exit 1 }' <<<"$output"
	run "$sim" --trials 4000 --n 2000 --p0 0.2 --lift 0.25 --alpha 0.3 --seed 5
	awk -F'\t' '$1 == "aa" { if ($8 < 0.2) exit 1 }' <<<"$output"
}
