#!/usr/bin/env bats
# ml-train: train ratings TSV on stdin -> .lfe model on stdout (or -o).
# Runs on a small fixture (321 ratings of u.data: users <= 40, movies <= 50)
# with few epochs, so the whole file takes seconds. FAST names the softmax MF
# (also the default); the blend and EASE have tests of their own below.

load helpers
bats_require_minimum_version 1.5.0

FIX=$FIXTURES/model-train.tsv
FAST=(-q --model softmax-mf --epochs 3 --dim 16 --rating-dim 5 --rating-sweeps 5 --rating-burn-in 1 --rating-samples 2)

# lfe_dump FILE: one line per table, "name rows dim id id ...", read with od
# straight from the bytes (magic, n_tables, then name[16] rows dim ids values).
lfe_dump() {
	local f=$1 off=12 n t name rows dim ids
	n=$(od -A n -t u4 -j 8 -N 4 "$f" | tr -d ' ')
	for ((t = 0; t < n; t++)); do
		name=$(dd if="$f" bs=1 skip="$off" count=16 status=none | tr -d '\0')
		read -r rows dim < <(od -A n -t u4 -j $((off + 16)) -N 8 "$f")
		ids=$(od -A n -v -t d4 -j $((off + 24)) -N $((4 * rows)) "$f" | tr -s ' \n' ' ')
		echo "$name $rows $dim${ids% }"
		off=$((off + 24 + 4 * rows + 4 * rows * dim))
	done
}

ml_blend_row() { lfe_values "$1" blend; }

# lfe_values FILE TABLE: the table's values, one row a line, %g
lfe_values() {
	local f=$1 want=$2 off=12 n t name rows dim
	n=$(od -A n -t u4 -j 8 -N 4 "$f" | tr -d ' ')
	for ((t = 0; t < n; t++)); do
		name=$(dd if="$f" bs=1 skip="$off" count=16 status=none | tr -d '\0')
		read -r rows dim < <(od -A n -t u4 -j $((off + 16)) -N 8 "$f")
		if [[ $name == "$want" ]]; then
			od -A n -v -t f4 -w$((4 * dim)) -j $((off + 24 + 4 * rows)) -N $((4 * rows * dim)) "$f" |
				awk '{ for (i = 1; i <= NF; i++) printf "%s%.9g", (i > 1 ? " " : ""), $i; print "" }'
			return 0
		fi
		off=$((off + 24 + 4 * rows + 4 * rows * dim))
	done
	return 1
}

ids_of() { # ids_of COLUMN FILE: sorted distinct ids, space-separated
	cut -f"$1" "$2" | sort -n -u | tr '\n' ' ' | sed 's/ $//'
}

@test "fixture: tables users/items/rating_*/foldin whose ids are the input's" {
	"$BIN/ml-train" "${FAST[@]}" <"$FIX" >"$TMP/m.lfe"
	run lfe_dump "$TMP/m.lfe"
	assert_success
	users=$(ids_of 1 "$FIX") items=$(ids_of 2 "$FIX")
	nu=$(wc -w <<<"$users") ni=$(wc -w <<<"$items")
	assert_line --index 0 "users $nu 17 $users"
	assert_line --index 1 "items $ni 17 $items"
	# rating head: 2 samples x 5 factors side by side, then [mean + b_u, 1] / [1, b_i]
	assert_line --index 2 "rating_users $nu 12 $users"
	assert_line --index 3 "rating_items $ni 12 $items"
	assert_line --index 4 "foldin 1 4 0"
	# and ml-eval reads it
	run --separate-stderr "$BIN/ml-eval" --train "$FIX" --test "$FIX" <"$TMP/m.lfe"
	assert_success
	assert_line --partial "rmse"
}

@test "the user rows end in 1 and foldin holds user_l2, alpha, norm, 1" {
	"$BIN/ml-train" "${FAST[@]}" --user-l2 1.5 --user-weight-alpha 0.25 <"$FIX" >"$TMP/m.lfe"
	nu=$(ids_of 1 "$FIX" | wc -w)
	# last float of the first user row: offset 12 + 24 + 4 nu + 4 * 16
	run od -A n -t f4 -j $((12 + 24 + 4 * nu + 64)) -N 4 "$TMP/m.lfe"
	assert_output --regexp '^ +1$'
	# foldin values: the 16 bytes before the CRC
	size=$(stat -c %s "$TMP/m.lfe")
	run od -A n -t f4 -j $((size - 20)) -N 16 "$TMP/m.lfe"
	assert_output --regexp '^ +1\.5 +0\.25 +[0-9.e+-]+ +1$'
}

@test "any ids: 0 and 2147483647 are kept as they are" {
	printf '0\t2147483647\t5\t1\n0\t7\t3\t2\n2147483647\t7\t4\t3\n5\t0\t1\t4\n' >"$TMP/ids.tsv"
	"$BIN/ml-train" "${FAST[@]}" <"$TMP/ids.tsv" >"$TMP/m.lfe"
	run lfe_dump "$TMP/m.lfe"
	assert_line --index 0 "users 3 17 0 5 2147483647"
	assert_line --index 1 "items 3 17 0 7 2147483647"
}

@test "one rating: nothing to hold out, so a fixed number of epochs; still a model" {
	printf '4\t9\t5\t0\n' >"$TMP/one.tsv"
	run --separate-stderr "$BIN/ml-train" --model softmax-mf --dim 4 --max-epochs 2 --rating-sweeps 2 \
		--rating-samples 1 -o "$TMP/m.lfe" <"$TMP/one.tsv"
	assert_success
	[[ $stderr == *"no rating can be held out for validation; training 2 epochs"* ]]
	run lfe_dump "$TMP/m.lfe"
	assert_line --index 0 "users 1 5 4"
	assert_line --index 1 "items 1 5 9"
}

@test "same seed: identical bytes (any thread count); another seed: different" {
	for t in 1 2; do
		"$BIN/ml-train" "${FAST[@]}" --threads $t --seed 7 <"$FIX" >"$TMP/a$t.lfe"
		"$BIN/ml-train" "${FAST[@]}" --threads $t --seed 7 <"$FIX" >"$TMP/b$t.lfe"
		cmp "$TMP/a$t.lfe" "$TMP/b$t.lfe"
	done
	# the threads only change who computes what, never the arithmetic
	cmp "$TMP/a1.lfe" "$TMP/a2.lfe"
	# early stopping with the refit beside the selection (threads 2) gives
	# the same model as the refit after it (threads 1)
	ES=(-q --model softmax-mf --dim 8 --max-epochs 8 --patience 2 --rating-sweeps 3 --rating-samples 1)
	"$BIN/ml-train" "${ES[@]}" --threads 1 <"$FIX" >"$TMP/e1.lfe"
	"$BIN/ml-train" "${ES[@]}" --threads 2 <"$FIX" >"$TMP/e2.lfe"
	cmp "$TMP/e1.lfe" "$TMP/e2.lfe"
	"$BIN/ml-train" "${FAST[@]}" --seed 8 <"$FIX" >"$TMP/c.lfe"
	run cmp -s "$TMP/a1.lfe" "$TMP/c.lfe"
	assert_failure
}

@test "-o writes the same model atomically, nothing else in the directory" {
	mkdir "$TMP/out"
	"$BIN/ml-train" "${FAST[@]}" -o "$TMP/out/m.lfe" <"$FIX"
	"$BIN/ml-train" "${FAST[@]}" <"$FIX" >"$TMP/stdout.lfe"
	cmp "$TMP/out/m.lfe" "$TMP/stdout.lfe"
	assert_equal "$(ls -A "$TMP/out")" "m.lfe"
}

@test "early stopping: --losses per epoch, --params with what was used" {
	run --separate-stderr "$BIN/ml-train" --model softmax-mf --dim 8 --max-epochs 6 --patience 2 --rating-sweeps 4 \
		--rating-burn-in 1 --rating-samples 2 --losses "$TMP/l.tsv" --params "$TMP/p.tsv" \
		<"$FIX" -o "$TMP/m.lfe"
	assert_success
	# progress on stderr, one line per epoch
	[[ $stderr == *"ranking select epoch 1/6 loss "*" val_ndcg@10 "* ]]
	# losses: step, name, value with known names and numbers
	run awk -F'\t' 'NF != 3 || $1 !~ /^[0-9]+$/ || $3 !~ /^-?[0-9.e+-]+$/ { bad++ } END { print NR, bad + 0 }' "$TMP/l.tsv"
	assert_output --regexp '^[0-9]+ 0$'
	assert [ "$(grep -c $'^1\tselect_ranking_loss\t' "$TMP/l.tsv")" = 1 ]
	assert [ "$(grep -c $'\tval_ndcg_at_10\t' "$TMP/l.tsv")" -ge 3 ]
	assert [ "$(grep -c $'\trating_train_rmse\t' "$TMP/l.tsv")" = 4 ]
	chosen=$(awk -F'\t' '$1 == "epochs_chosen" { print $2 }' "$TMP/p.tsv")
	assert [ "$chosen" -ge 1 ] && assert [ "$chosen" -le 6 ]
	assert [ "$(grep -c $'\tranking_loss\t' "$TMP/l.tsv")" = "$chosen" ]
	# params: every hyperparameter used, and the run's figures
	for kv in "model	softmax-mf" "dim	8" "patience	2" "seed	42" "n_ratings	321" \
		"n_users	$(ids_of 1 "$FIX" | wc -w)" "n_items	$(ids_of 2 "$FIX" | wc -w)" \
		"lr	0.0183" "user_l2	2.17" "item_l2	14.86" "user_weight_alpha	0.4" \
		"batch_users	256" "rating_sweeps	4" "rating_implicit	both"; do
		grep -qxF "$kv" "$TMP/p.tsv" || { echo "missing: $kv"; false; }
	done
	grep -qE $'^train_seconds\t[0-9.]+$' "$TMP/p.tsv"
	grep -qE $'^val_ndcg_at_10\t0\\.[0-9]+$' "$TMP/p.tsv"
}

# the blend: [a_e E_u, a_i P_u, p_u, 1] / [Q_i, Q'_i, q_i, b_i] (EASE, iALS,
# softmax MF), EASE's fold-in map, the blend's layout and the softmax MF's
# foldin table
BLEND=(-q --model blend --ease-dim 8 --ials-dim 4 --ials-iters 2 --epochs 3 --dim 16 --rating-dim 5 --rating-sweeps 5 --rating-burn-in 1
	--rating-samples 2)

@test "blend: EASE block then softmax-MF block; ease_foldin, blend, foldin tables" {
	"$BIN/ml-train" "${BLEND[@]}" --params "$TMP/p.tsv" <"$FIX" >"$TMP/m.lfe"
	run lfe_dump "$TMP/m.lfe"
	assert_success
	users=$(ids_of 1 "$FIX") items=$(ids_of 2 "$FIX")
	nu=$(wc -w <<<"$users") ni=$(wc -w <<<"$items")
	assert_line --index 0 "users $nu 29 $users"
	assert_line --index 1 "items $ni 29 $items"
	assert_line --index 2 "ease_foldin $ni 8 $items"
	assert_line --index 3 "blend 1 9 0"
	assert_line --index 4 "rating_users $nu 12 $users"
	assert_line --index 6 "foldin 1 4 0"
	for kv in "model	blend" "ease_dim	8" "ease_l2	500" "blend_weight	0.2" "ials_weight	0.5" "ials_dim	4" "item_l2	8"; do
		grep -qxF "$kv" "$TMP/p.tsv" || { echo "missing: $kv"; false; }
	done
	# blend table: 8 EASE, 4 iALS and 17 softmax-MF components, the scales,
	# the shares w_e and w_i, iALS's alpha and reg
	run ml_blend_row "$TMP/m.lfe"
	assert_output --regexp '^8 4 17 [0-9.e+]+ [0-9.e+]+ 0\.2[0-9]* 0\.5 20 100$'
	# the user rows still end in 1 (the softmax-MF bias column)
	run od -A n -t f4 -j $((12 + 24 + 4 * nu + 4 * 28)) -N 4 "$TMP/m.lfe"
	assert_output --regexp '^ +1$'
}

@test "ease: EASE's vectors alone, no softmax-MF foldin; same seed, same bytes; the default model is the blend" {
	for t in 1 2; do
		"$BIN/ml-train" "${BLEND[@]}" --model ease --threads $t <"$FIX" >"$TMP/e$t.lfe"
	done
	cmp "$TMP/e1.lfe" "$TMP/e2.lfe"
	"$BIN/ml-train" "${BLEND[@]}" --threads 1 <"$FIX" >"$TMP/b1.lfe"
	"$BIN/ml-train" "${BLEND[@]}" --threads 2 <"$FIX" >"$TMP/b2.lfe"
	cmp "$TMP/b1.lfe" "$TMP/b2.lfe"
	run lfe_dump "$TMP/e1.lfe"
	nu=$(ids_of 1 "$FIX" | wc -w)
	assert_line --index 0 --regexp "^users $nu 8 "
	assert_line --index 3 --regexp "^blend 1 9 0$"
	refute_line --regexp "^foldin "
	# without --model: the pipeline's blend, the same bytes as --model blend
	"$BIN/ml-train" -q "${BLEND[@]:3}" <"$FIX" >"$TMP/d.lfe"
	"$BIN/ml-train" "${BLEND[@]}" <"$FIX" >"$TMP/db.lfe"
	cmp "$TMP/d.lfe" "$TMP/db.lfe"
	run lfe_dump "$TMP/d.lfe"
	assert_line --regexp "^blend "
	# --model softmax-mf: the softmax MF alone
	"$BIN/ml-train" -q --model softmax-mf --epochs 2 --dim 4 --rating-sweeps 2 --rating-samples 1 \
		<"$FIX" >"$TMP/s.lfe"
	run lfe_dump "$TMP/s.lfe"
	assert_line --index 0 --regexp "^users $nu 5 "
	refute_line --regexp "^blend "
	# one rating: a one-by-one problem still gives a model
	printf '4\t9\t5\t0\n' >"$TMP/one.tsv"
	run "$BIN/ml-train" -q --model ease --rating-sweeps 2 --rating-samples 1 <"$TMP/one.tsv" \
		-o "$TMP/one.lfe"
	assert_success
	run lfe_dump "$TMP/one.lfe"
	assert_line --index 0 "users 1 1 4"
}

@test "iALS alone: its vectors, the blend table, same bytes for 1 and 2 threads" {
	for t in 1 2; do
		"$BIN/ml-train" -q --model ials --ials-dim 6 --ials-iters 3 --rating-sweeps 2 \
			--rating-samples 1 --threads $t <"$FIX" >"$TMP/i$t.lfe"
	done
	cmp "$TMP/i1.lfe" "$TMP/i2.lfe"
	run lfe_dump "$TMP/i1.lfe"
	nu=$(ids_of 1 "$FIX" | wc -w)
	assert_line --index 0 --regexp "^users $nu 6 "
	assert_line --index 2 "blend 1 9 0"
	refute_line --regexp "^(foldin|ease_foldin) "
	run ml_blend_row "$TMP/i1.lfe"
	assert_output '0 6 0 1 1 0 1 20 100'
}

@test "ease-ials: EASE and iALS blocks, no softmax MF, no foldin; 1 and 2 threads same bytes" {
	for t in 1 2; do
		"$BIN/ml-train" "${BLEND[@]}" --model ease-ials --blend-weight 0.3 --threads $t \
			--params "$TMP/p$t.tsv" <"$FIX" >"$TMP/x$t.lfe"
	done
	cmp "$TMP/x1.lfe" "$TMP/x2.lfe"
	run lfe_dump "$TMP/x1.lfe"
	nu=$(ids_of 1 "$FIX" | wc -w)
	assert_line --index 0 --regexp "^users $nu 12 "
	assert_line --index 3 "blend 1 9 0"
	refute_line --regexp "^foldin "
	# 8 EASE and 4 iALS components, no MF; EASE's block unscaled; shares 0.3, 0.7
	run ml_blend_row "$TMP/x1.lfe"
	assert_output --regexp '^8 4 0 1 [0-9.e+-]+ 0\.3[0-9]* 0\.7[0-9]* 20 100$'
	for kv in "blend_parts	ease+ials" "ials_solver	cg" "ials_cg_steps	3" "ease_path	dense"; do
		grep -qxF "$kv" "$TMP/p1.tsv" || { echo "missing: $kv"; false; }
	done
}

@test "sparse EASE (--ease-sparse) ranks a real split as the dense path does" {
	awk '$1 <= 200' "$DATA/u.data" >"$TMP/r.tsv"
	"$BIN/ml-split" --seed 42 --test "$TMP/te.tsv" <"$TMP/r.tsv" >"$TMP/tr.tsv" 2>/dev/null
	"$BIN/ml-train" -q --model ease --ease-dim 64 --rating-sweeps 2 --rating-samples 1 \
		<"$TMP/tr.tsv" >"$TMP/d.lfe"
	"$BIN/ml-train" -q --model ease --ease-dim 64 --ease-sparse --rating-sweeps 2 \
		--rating-samples 1 --params "$TMP/p.tsv" <"$TMP/tr.tsv" >"$TMP/s.lfe"
	grep -qxF "ease_path	sparse" "$TMP/p.tsv"
	! cmp -s "$TMP/d.lfe" "$TMP/s.lfe" # another computation...
	nd=$("$BIN/ml-eval" --train "$TMP/tr.tsv" --test "$TMP/te.tsv" <"$TMP/d.lfe" |
		awk -F'\t' '$1 == "ndcg@10" { print $2 }')
	ns=$("$BIN/ml-eval" --train "$TMP/tr.tsv" --test "$TMP/te.tsv" <"$TMP/s.lfe" |
		awk -F'\t' '$1 == "ndcg@10" { print $2 }')
	echo "dense $nd sparse $ns"
	# ...of the same eigenpairs: the same quality to within 0.005
	awk -v a="$nd" -v b="$ns" 'BEGIN { exit !(a > 0.3 && b - a < 0.005 && a - b < 0.005) }'
}

@test "--model auto on a small file: the blend's very bytes, and the params say why" {
	"$BIN/ml-train" "${BLEND[@]}" <"$FIX" >"$TMP/b.lfe"
	"$BIN/ml-train" "${BLEND[@]}" --model auto --params "$TMP/p.tsv" <"$FIX" >"$TMP/a.lfe"
	cmp "$TMP/a.lfe" "$TMP/b.lfe"
	grep -q "^model_auto	small: blend" "$TMP/p.tsv"
	grep -qxF "blend_parts	ease+ials+softmax-mf" "$TMP/p.tsv"
}

@test "EASE ranking on a real split (users <= 100): far above popularity" {
	awk '$1 <= 100' "$DATA/u.data" >"$TMP/r.tsv"
	"$BIN/ml-split" --seed 42 --test "$TMP/te.tsv" <"$TMP/r.tsv" >"$TMP/tr.tsv" 2>/dev/null
	"$BIN/ml-train" -q --model ease --rating-sweeps 2 --rating-samples 1 <"$TMP/tr.tsv" \
		>"$TMP/e.lfe"
	pop=$("$BIN/ml-eval" --train "$TMP/tr.tsv" --test "$TMP/te.tsv" --baseline popularity |
		awk -F'\t' '$1 == "ndcg@10" { print $2 }')
	ease=$("$BIN/ml-eval" --train "$TMP/tr.tsv" --test "$TMP/te.tsv" <"$TMP/e.lfe" |
		awk -F'\t' '$1 == "ndcg@10" { print $2 }')
	echo "popularity $pop ease $ease"
	# measured 0.37 against 0.24
	awk -v p="$pop" -v e="$ease" 'BEGIN { exit !(e > p + 0.08) }'
}

@test "malformed line: 65 naming stdin:line; no -o file, no stdout bytes" {
	{ head -2 "$FIX"; printf '3\t4\tfive\t0\n'; tail -3 "$FIX"; } >"$TMP/bad.tsv"
	run "$BIN/ml-train" "${FAST[@]}" -o "$TMP/m.lfe" <"$TMP/bad.tsv"
	assert_failure 65
	assert_output --partial "stdin:3"
	assert_file_not_exists "$TMP/m.lfe"
	assert_equal "$(ls -A "$TMP" | grep -c '^\.m\.lfe')" 0
	run bash -c "'$BIN/ml-train' ${FAST[*]} <'$TMP/bad.tsv' >'$TMP/out.lfe'"
	assert_failure 65
	assert_file_empty "$TMP/out.lfe"
}

@test "empty input: 65, nothing written" {
	run bash -c "'$BIN/ml-train' ${FAST[*]} </dev/null >'$TMP/out.lfe'"
	assert_failure 65
	assert_output --partial "ml-train:"
	assert_file_empty "$TMP/out.lfe"
	run "$BIN/ml-train" "${FAST[@]}" -o "$TMP/m.lfe" </dev/null
	assert_failure 65
	assert_file_not_exists "$TMP/m.lfe"
}

@test "a records file that cannot be created: failure and no model either" {
	run bash -c "'$BIN/ml-train' ${FAST[*]} --params '$TMP/no/such/dir/p.tsv' <'$FIX' >'$TMP/out.lfe'"
	assert_failure
	assert_output --partial "p.tsv"
	assert_file_empty "$TMP/out.lfe"
}

@test "usage errors: 64 with the reason" {
	run "$BIN/ml-train" --dim 0 <"$FIX"
	assert_failure 64
	assert_output --partial "--dim"
	run "$BIN/ml-train" --model nope <"$FIX"
	assert_failure 64
	assert_output --partial "--model: bad value 'nope' (want auto, blend, ease-ials, softmax-mf, ease or ials)"
	run "$BIN/ml-train" --lr abc <"$FIX"
	assert_failure 64
	run "$BIN/ml-train" --blend-weight 1 <"$FIX"
	assert_failure 64
	assert_output --partial "--blend-weight"
	run "$BIN/ml-train" --model blend --blend-weight 0.5 --ials-weight 0.5 <"$FIX"
	assert_failure 64
	assert_output --partial "must stay below 1"
	run "$BIN/ml-train" --ials-reg 0 <"$FIX"
	assert_failure 64
	assert_output --partial "--ials-reg"
	run "$BIN/ml-train" --ease-dim 0 <"$FIX"
	assert_failure 64
	assert_output --partial "--ease-dim"
	run "$BIN/ml-train" --ease-l2 -3 <"$FIX"
	assert_failure 64
	assert_output --partial "--ease-l2"
	run "$BIN/ml-train" --rating-implicit some <"$FIX"
	assert_failure 64
	assert_output --partial "--rating-implicit: bad value 'some' (want none, users, movies or both)"
	run "$BIN/ml-train" --bogus <"$FIX"
	assert_failure 64
	run "$BIN/ml-train" extra.tsv <"$FIX"
	assert_failure 64
	assert_output --partial "stdin"
}

@test "--help shows an example pipe; --version" {
	run "$BIN/ml-train" --help
	assert_success
	assert_output --partial "ml-train --losses losses.tsv --params params.tsv < train.tsv > model.lfe"
	run "$BIN/ml-train" --version
	assert_success
	assert_output --regexp '^ml-train lensflow [0-9]'
}

# the rating head on the official u1 split (issue 17's target RMSE <= 0.895);
# its implicit parts are what take it there (0.888; none at the same 60 sweeps: 0.909)
@test "SLOW rating head on u1: RMSE <= 0.895 with the implicit parts, worse without" {
	"$BIN/ml-train" -q --model ease <"$DATA/u1.base" >"$TMP/u1.lfe"
	"$BIN/ml-train" -q --model ease --rating-implicit none <"$DATA/u1.base" >"$TMP/u1n.lfe"
	rmse() { "$BIN/ml-eval" --train "$DATA/u1.base" --test "$DATA/u1.test" <"$1" |
		awk -F'\t' '$1 == "rmse" { print $2 }'; }
	local with without
	with=$(rmse "$TMP/u1.lfe") without=$(rmse "$TMP/u1n.lfe")
	echo "# u1 rmse: $with (implicit parts), $without (none)" >&3
	awk -v a="$with" -v b="$without" 'BEGIN { exit !(a <= 0.895 && a < b - 0.005) }'
}
