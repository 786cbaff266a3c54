#!/usr/bin/env bats
# ml-split on u.data: sizes per protocol, disjoint and complete outputs in
# input order, temporal ordering, determinism, and bad input leaving nothing.
load helpers

# ml-split with stdin from $1, train to $TMP/train.tsv, stderr to $TMP/err
split() {
	local input=$1
	shift
	set +e
	"$BIN/ml-split" "$@" <"$input" >"$TMP/train.tsv" 2>"$TMP/err"
	status=$?
	set -e
}

# per user: n, and the expected test count n - round(ratio*n), round half to even
expected_test_counts() {
	awk -F'\t' -v r="$1" '{ n[$1]++ } END {
		for (u in n) { k = r * n[u]; t = int(k); f = k - t
			if (f > 0.5 || (f == 0.5 && t % 2 == 1)) t++
			print u "\t" n[u] - t } }' "$2" | sort -n
}

test_counts() {
	{ cut -f1 "$1"; cut -f1 "$2" | sed 's/$/ +/'; } | awk '{ if ($2 == "+") t[$1]++; else all[$1]++ }
		END { for (u in all) print u "\t" (t[u] + 0) }' | sort -n
}

@test "stratified, seed 42: per user exactly n - round(0.75 n) ratings in test, every user in train" {
	split "$DATA/u.data" --test "$TMP/test.tsv"
	[ "$status" -eq 0 ]
	[ $(($(wc -l <"$TMP/train.tsv") + $(wc -l <"$TMP/test.tsv"))) -eq 100000 ]
	# train+test of each user = all of the user's ratings; test share per user as rounded
	cat "$TMP/train.tsv" "$TMP/test.tsv" >"$TMP/both.tsv"
	expected_test_counts 0.75 "$DATA/u.data" >"$TMP/want"
	test_counts "$TMP/both.tsv" "$TMP/test.tsv" >"$TMP/got"
	cmp "$TMP/want" "$TMP/got"
	cmp <(cut -f1 "$DATA/u.data" | sort -u) <(cut -f1 "$TMP/train.tsv" | sort -u)
	# 25 % within rounding overall: 943 users, at most half a rating each
	n=$(wc -l <"$TMP/test.tsv")
	[ "$n" -ge $((25000 - 472)) ]
	[ "$n" -le $((25000 + 472)) ]
	grep -q "train, .* test ratings" "$TMP/err"
}

@test "train and test are disjoint, their union is the input, each keeps the input order" {
	for p in stratified temporal random; do
		split "$DATA/u.data" --protocol "$p" --test "$TMP/test.tsv"
		[ "$status" -eq 0 ]
		[ -z "$(comm -12 <(sort "$TMP/train.tsv") <(sort "$TMP/test.tsv"))" ]
		cmp <(sort "$TMP/train.tsv" "$TMP/test.tsv") <(sort "$DATA/u.data")
		# input order: line numbers of the input rows, in output order, increase
		for f in train test; do
			awk -F'\t' 'NR == FNR { pos[$0] = FNR; next }
				{ if (pos[$0] <= last) { print "out of order: " $0; exit 1 } last = pos[$0] }' \
				"$DATA/u.data" "$TMP/$f.tsv"
		done
	done
}

@test "temporal: each user's test ratings are no older than any of their train ratings" {
	split "$DATA/u.data" --protocol temporal --test "$TMP/test.tsv"
	[ "$status" -eq 0 ]
	run awk -F'\t' 'NR == FNR { if (!($1 in mx) || $4 > mx[$1]) mx[$1] = $4; next }
		$4 < mx[$1] { bad++ } END { print bad + 0 }' "$TMP/train.tsv" "$TMP/test.tsv"
	assert_output "0"
	cat "$TMP/train.tsv" "$TMP/test.tsv" >"$TMP/both.tsv"
	expected_test_counts 0.75 "$DATA/u.data" >"$TMP/want"
	test_counts "$TMP/both.tsv" "$TMP/test.tsv" >"$TMP/got"
	cmp "$TMP/want" "$TMP/got"
}

@test "temporal: ties in time are broken by movie id, the larger to test" {
	printf '1\t30\t5\t100\n1\t10\t4\t100\n1\t20\t3\t100\n1\t40\t2\t100\n' >"$TMP/ties.tsv"
	split "$TMP/ties.tsv" --protocol temporal --ratio 0.5 --test "$TMP/test.tsv"
	[ "$status" -eq 0 ]
	[ "$(cat "$TMP/test.tsv")" = $'1\t30\t5\t100\n1\t40\t2\t100' ]
	[ "$(cat "$TMP/train.tsv")" = $'1\t10\t4\t100\n1\t20\t3\t100' ]
}

@test "random: exactly round(ratio n) rows in train; ratio 0.8 gives 80000" {
	split "$DATA/u.data" --protocol random --test "$TMP/test.tsv"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$TMP/train.tsv")" -eq 75000 ]
	[ "$(wc -l <"$TMP/test.tsv")" -eq 25000 ]
	split "$DATA/u.data" --protocol random --ratio 0.8 --test "$TMP/test.tsv"
	[ "$(wc -l <"$TMP/train.tsv")" -eq 80000 ]
}

@test "same input and seed: byte-identical outputs; another seed: a different split" {
	for p in stratified random; do
		split "$DATA/u.data" --protocol "$p" --seed 7 --test "$TMP/test1.tsv"
		mv "$TMP/train.tsv" "$TMP/train1.tsv"
		split "$DATA/u.data" --protocol "$p" --seed 7 --test "$TMP/test2.tsv"
		cmp "$TMP/train.tsv" "$TMP/train1.tsv"
		cmp "$TMP/test1.tsv" "$TMP/test2.tsv"
		split "$DATA/u.data" --protocol "$p" --seed 8 --test "$TMP/test3.tsv"
		run cmp -s "$TMP/test1.tsv" "$TMP/test3.tsv"
		[ "$status" -ne 0 ]
	done
	# the default seed is 42
	split "$DATA/u.data" --test "$TMP/a.tsv"
	split "$DATA/u.data" --seed 42 --test "$TMP/b.tsv"
	cmp "$TMP/a.tsv" "$TMP/b.tsv"
}

@test "-o writes train atomically, the same bytes as stdout; INPUT may be named" {
	split "$DATA/u.data" --test "$TMP/t1.tsv"
	mv "$TMP/train.tsv" "$TMP/stdout-train.tsv"
	run "$BIN/ml-split" -q --test "$TMP/t2.tsv" -o "$TMP/o-train.tsv" "$DATA/u.data"
	assert_success
	assert_output ""
	cmp "$TMP/stdout-train.tsv" "$TMP/o-train.tsv"
	cmp "$TMP/t1.tsv" "$TMP/t2.tsv"
	[ -z "$(ls -A "$TMP" | grep '^\.')" ] # no temporary files left
}

@test "a malformed line is exit 65 naming stdin:line, and no output is left" {
	{ head -2 "$DATA/u.data"; printf '5\t6\tx\t7\n'; } >"$TMP/bad.tsv"
	split "$TMP/bad.tsv" --test "$TMP/test.tsv"
	[ "$status" -eq 65 ]
	run cat "$TMP/err"
	assert_output "ml-split: stdin:3: rating 'x' is not on the scale 0.5..5 in steps of 0.5"
	[ ! -e "$TMP/test.tsv" ]
	[ ! -s "$TMP/train.tsv" ]
	run "$BIN/ml-split" --test "$TMP/test.tsv" -o "$TMP/o.tsv" "$TMP/bad.tsv"
	[ "$status" -eq 65 ]
	assert_output --partial "bad.tsv:3:"
	[ ! -e "$TMP/test.tsv" ]
	[ ! -e "$TMP/o.tsv" ]
	printf '1\t2\t3\t4\n1\t2\t4\t5\n' >"$TMP/dup.tsv"
	split "$TMP/dup.tsv" --test "$TMP/test.tsv"
	[ "$status" -eq 65 ]
	grep -q "stdin:2: user 1 rated movie 2 again" "$TMP/err"
	: >"$TMP/empty.tsv"
	split "$TMP/empty.tsv" --test "$TMP/test.tsv"
	[ "$status" -eq 65 ]
	grep -q "empty input" "$TMP/err"
	[ ! -e "$TMP/test.tsv" ]
}

@test "usage errors are exit 64 and leave no output: protocol, ratio, seed, missing --test" {
	for args in "--protocol nope" "--ratio 1.5" "--ratio 0" "--ratio 1" "--ratio abc" \
		"--ratio nan" "--seed -1" "--seed 1x" "--bogus"; do
		# shellcheck disable=SC2086
		split "$DATA/u.data" $args --test "$TMP/test.tsv"
		[ "$status" -eq 64 ] || { echo "$args: $status"; false; }
		[ ! -e "$TMP/test.tsv" ]
		[ ! -s "$TMP/train.tsv" ]
	done
	split "$DATA/u.data" --protocol nope --test "$TMP/test.tsv"
	grep -q -- "--protocol: bad value 'nope' (want stratified, temporal or random)" "$TMP/err"
	split "$DATA/u.data" --ratio 1.5 --test "$TMP/test.tsv"
	grep -q -- "--ratio: bad value '1.5' (want a number strictly between 0 and 1)" "$TMP/err"
	split "$DATA/u.data"
	[ "$status" -eq 64 ]
	grep -q -- "--test FILE is required" "$TMP/err"
	split "$DATA/u.data" --test "$TMP/x.tsv" -o "$TMP/x.tsv"
	[ "$status" -eq 64 ]
	run "$BIN/ml-split" --test "$TMP/t.tsv" "$TMP/no-such-input.tsv"
	[ "$status" -eq 66 ]
}

@test "an unwritable test path is exit 73, a full stdout 74: neither output is left" {
	split "$DATA/u.data" --test "$TMP/no/such/dir/test.tsv" -o "$TMP/o.tsv"
	[ "$status" -eq 73 ]
	grep -q "no/such/dir/test.tsv" "$TMP/err"
	[ ! -e "$TMP/o.tsv" ]
	split "$DATA/u.data" --test "$TMP/no/such/dir/test.tsv"
	[ "$status" -eq 73 ]
	[ ! -s "$TMP/train.tsv" ]
	if [ -w /dev/full ]; then
		set +e
		"$BIN/ml-split" --test "$TMP/test.tsv" <"$DATA/u.data" >/dev/full 2>"$TMP/err"
		status=$?
		set -e
		[ "$status" -eq 74 ]
		[ ! -e "$TMP/test.tsv" ]
	fi
	split "$DATA/u.data" --test "$TMP/test.tsv" -o "$TMP/no/dir/train.tsv"
	[ "$status" -eq 73 ]
	[ ! -e "$TMP/test.tsv" ]
}

@test "--help shows an example pipe; --version names the tool" {
	run "$BIN/ml-split" --help
	assert_success
	assert_output --partial "usage: ml-split"
	assert_output --partial "ml-fetch ratings | ml-split"
	run "$BIN/ml-split" --version
	assert_success
	assert_output --regexp '^ml-split lensflow [0-9]+\.[0-9]+\.[0-9]+ \(.+\)$'
}

@test "a FIFO as --test is written in place, never replaced by a regular file" {
	mkfifo "$TMP/fifo"
	cat "$TMP/fifo" >"$TMP/from-fifo" &
	reader=$!
	split "$DATA/u.data" --test "$TMP/fifo"
	wait "$reader"
	[ "$status" -eq 0 ]
	[ -p "$TMP/fifo" ]
	[ "$(wc -l <"$TMP/from-fifo")" -eq $((100000 - $(wc -l <"$TMP/train.tsv"))) ]
}

@test "user ids spread over a wide range split as dense ones do (the order of the ids is what counts)" {
	# the same users renumbered id * 1000003: past the counting sort's range, the
	# comparison sort's path; each protocol must send the same rows to test
	awk -F'\t' -v OFS='\t' '{ $1 = $1 * 1000003; print }' "$DATA/u.data" >"$TMP/wide.tsv"
	for p in stratified temporal; do
		"$BIN/ml-split" -q --protocol "$p" --test "$TMP/dense.test" <"$DATA/u.data" >/dev/null
		"$BIN/ml-split" -q --protocol "$p" --test "$TMP/wide.test" <"$TMP/wide.tsv" >/dev/null
		run cmp <(cut -f2- "$TMP/dense.test") <(cut -f2- "$TMP/wide.test")
		assert_success
		run cmp <(cut -f1 "$TMP/dense.test" | awk '{ print $1 * 1000003 }') <(cut -f1 "$TMP/wide.test")
		assert_success
	done
}
