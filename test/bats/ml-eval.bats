#!/usr/bin/env bats
# ml-eval: metrics of a model (.lfe on stdin) or the popularity baseline.
# The hand-made model's figures are worked out in test/fixtures/model-hand.md.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	# the real ms-stratified-75-25-seed42 split, made once for the file
	"$BIN/ml-split" -q --test "$BATS_FILE_TMPDIR/test.tsv" <"$DATA/u.data" >"$BATS_FILE_TMPDIR/train.tsv"
}

hand() {
	"$BIN/ml-eval" --train "$FIXTURES/model-hand-train.tsv" --test "$FIXTURES/model-hand-test.tsv" "$@"
}

metric() { # metric NAME: its value in $output
	awk -F'\t' -v n="$1" '$1 == n { print $2 }' <<<"$output"
}

near() { # near VALUE EXPECTED TOL
	awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN { exit !(v != "" && v - e <= t && e - v <= t) }'
}

@test "hand-made model: every metric as computed by hand (k 2, ties by movie id)" {
	run hand --k 2 <"$FIXTURES/model-hand.lfe"
	assert_success
	near "$(metric ndcg@2)" 0.3333333333 1e-9
	near "$(metric precision@2)" 0.3333333333 1e-9
	near "$(metric recall@2)" 0.3333333333 1e-9
	near "$(metric map@2)" 0.25 1e-12
	near "$(metric coverage@2)" 0.8 1e-12
	# every movie counts one train user of three (20 and 50 none: counted as one)
	near "$(metric novelty@2)" 1.5849625007 1e-9
	near "$(metric rmse)" 0.5 1e-12
	assert_equal "$(metric users)" 3
	# the unknown user 9 is reported, not evaluated
	assert_output --partial "1 test users are unknown to the model"
}

@test "k longer than what is left to rank: precision is hits / k" {
	run --separate-stderr hand --k 10 <"$FIXTURES/model-hand.lfe"
	assert_success
	near "$(metric precision@10)" 0.1666666667 1e-9
	near "$(metric coverage@10)" 1 0
	assert_equal "$(cut -f1 <<<"$output" | tr '\n' ' ')" \
		"ndcg@10 precision@10 recall@10 map@10 coverage@10 novelty@10 rmse users "
}

@test "--json: one object with the same numbers" {
	run --separate-stderr hand --k 2 --json <"$FIXTURES/model-hand.lfe"
	assert_success
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^\{"ndcg@2": 0\.3333333333333333[0-9]*, "precision@2": 0\.33333.*"map@2": 0\.25, "coverage@2": 0\.80*[0-9]*, "novelty@2": 1\.58496[0-9]*, "rmse": 0\.5, "users": 3\}$'
}

@test "--lists: each test user's list (user, rank, movie, score), no metrics" {
	run --separate-stderr hand --k 2 --lists <"$FIXTURES/model-hand.lfe"
	assert_success
	assert_output "$(printf '%s\n' $'1\t1\t20\t4' $'1\t2\t30\t3' $'2\t1\t30\t3' \
		$'2\t2\t50\t2' $'3\t1\t10\t5' $'3\t2\t20\t5')"
}

@test "popularity baseline on the ms-stratified seed-42 split: ndcg@10 0.235..0.25" {
	run --separate-stderr "$BIN/ml-eval" --train "$BATS_FILE_TMPDIR/train.tsv" \
		--test "$BATS_FILE_TMPDIR/test.tsv" --baseline popularity
	assert_success
	awk -v v="$(metric ndcg@10)" 'BEGIN { exit !(v >= 0.235 && v <= 0.25) }'
	assert_equal "$(metric users)" 943
	refute_output --partial rmse
}

# slow: trains the pipeline's default model (the Makefile's TRAIN_FLAGS,
# --model blend) on the real split (a few seconds)
@test "SLOW the pipeline's default model on the ms-stratified seed-42 split: ndcg@10 >= 0.48" {
	"$BIN/ml-train" -q --model blend <"$BATS_FILE_TMPDIR/train.tsv" >"$TMP/model.lfe"
	run --separate-stderr "$BIN/ml-eval" --train "$BATS_FILE_TMPDIR/train.tsv" \
		--test "$BATS_FILE_TMPDIR/test.tsv" <"$TMP/model.lfe"
	assert_success
	echo "# $output" >&3
	awk -v v="$(metric ndcg@10)" 'BEGIN { exit !(v >= 0.48) }'
	awk -v v="$(metric rmse)" 'BEGIN { exit !(v > 0.5 && v < 0.93) }'
}

@test "--users N: N seeded test users, ranked exactly as on a test file holding only them" {
	tr=$BATS_FILE_TMPDIR/train.tsv te=$BATS_FILE_TMPDIR/test.tsv
	"$BIN/ml-train" -q --model ease --rating-sweeps 2 --rating-samples 1 <"$tr" >"$TMP/e.lfe"
	"$BIN/ml-eval" --train "$tr" --test "$te" --users 50 --lists <"$TMP/e.lfe" >"$TMP/l.tsv"
	cut -f1 "$TMP/l.tsv" | sort -u >"$TMP/u.txt"
	[ "$(wc -l <"$TMP/u.txt")" -eq 50 ]
	# the same users from the same seed; another seed draws others
	"$BIN/ml-eval" --train "$tr" --test "$te" --users 50 --lists <"$TMP/e.lfe" | cmp - "$TMP/l.tsv"
	"$BIN/ml-eval" --train "$tr" --test "$te" --users 50 --seed 7 --lists <"$TMP/e.lfe" |
		cut -f1 | sort -u | cmp -s - "$TMP/u.txt" && false
	# the sample's metrics are those of a test file that has only those users
	awk -F'\t' 'NR == FNR { keep[$1] = 1; next } $1 in keep' "$TMP/u.txt" "$te" >"$TMP/te50.tsv"
	run "$BIN/ml-eval" --train "$tr" --test "$te" --users 50 <"$TMP/e.lfe"
	assert_success
	sampled=$output
	run "$BIN/ml-eval" --train "$tr" --test "$TMP/te50.tsv" <"$TMP/e.lfe"
	for m in ndcg@10 precision@10 recall@10 map@10 coverage@10 users; do
		[ "$(metric $m)" = "$(output=$sampled metric $m)" ] || { echo "$m differs"; false; }
	done
	# more than there are: every user, as without --users
	run "$BIN/ml-eval" --train "$tr" --test "$te" --users 100000 <"$TMP/e.lfe"
	all=$output
	run "$BIN/ml-eval" --train "$tr" --test "$te" <"$TMP/e.lfe"
	[ "$output" = "$all" ]
	run "$BIN/ml-eval" --train "$tr" --test "$te" --users -1 <"$TMP/e.lfe"
	assert_failure 64
}

@test "a corrupted model is bad data (65) and prints nothing" {
	cp "$FIXTURES/model-hand.lfe" "$TMP/bad.lfe"
	printf '\x7f' | dd of="$TMP/bad.lfe" bs=1 seek=60 conv=notrunc status=none
	run --separate-stderr hand <"$TMP/bad.lfe"
	assert_failure 65
	assert_output ""
	assert [ -n "$stderr" ]
	[[ $stderr == ml-eval:* ]]
	head -c 50 "$FIXTURES/model-hand.lfe" >"$TMP/short.lfe"
	run hand <"$TMP/short.lfe"
	assert_failure 65
}

@test "a model without an items table is bad data (65)" {
	run hand </dev/null
	assert_failure 65
}

@test "missing --test file: 66 naming it, stdout file left empty" {
	run bash -c "'$BIN/ml-eval' --train '$FIXTURES/model-hand-train.tsv' --test '$TMP/nope.tsv' \
		<'$FIXTURES/model-hand.lfe' >'$TMP/out.tsv'"
	assert_failure 66
	assert_output --partial "nope.tsv"
	assert_file_empty "$TMP/out.tsv"
}

@test "a malformed test file: 65 naming file and line" {
	printf '1\t20\t4\t0\n1\t50\n' >"$TMP/t.tsv"
	run "$BIN/ml-eval" --train "$FIXTURES/model-hand-train.tsv" --test "$TMP/t.tsv" <"$FIXTURES/model-hand.lfe"
	assert_failure 65
	assert_output --partial "t.tsv:2"
}

@test "usage errors: 64" {
	run "$BIN/ml-eval" --test x.tsv
	assert_failure 64
	assert_output --partial "--train FILE is required"
	run hand --k 0
	assert_failure 64
	run hand --baseline nope
	assert_failure 64
	assert_output --partial "--baseline: bad value 'nope' (want popularity)"
	run hand --bogus
	assert_failure 64
}

@test "--help shows an example pipe; --version" {
	run "$BIN/ml-eval" --help
	assert_success
	assert_output --partial "ml-train < train.tsv | ml-eval"
	run "$BIN/ml-eval" --version
	assert_success
	assert_output --regexp '^ml-eval lensflow [0-9]'
}
