#!/usr/bin/env bats
# Behavioural tests of the ranking models (issue 17): invariance, direction,
# minimum function, no rated movie recommended. They train on MovieLens
# 100k itself with the rating head cut to two sweeps (it plays no part in the
# ranking) and fixed softmax-MF epochs, so each model takes about a second.
# Lists come from `ml-eval --lists` (user, rank, movie, score).

load helpers
bats_require_minimum_version 1.5.0

QUICK=(-q --rating-sweeps 2 --rating-burn-in 0 --rating-samples 1)
BLEND=(--model blend --serve-dim 32) # the pipeline's default (its served, compact form)

# lists MODEL TRAIN USERS K: top-K lists of USERS (space-separated) from MODEL
lists() {
	local u
	for u in $3; do printf '%s\t1\t1\t0\n' "$u"; done >"$TMP/who.tsv"
	"$BIN/ml-eval" --lists --k "$4" --train "$2" --test "$TMP/who.tsv" <"$1" 2>/dev/null
}

# genre_movies N: ids of the movies of genre column N of u.item (Latin-1, '|')
genre_movies() { LC_ALL=C awk -F'|' -v c="$1" '$c == 1 { print $1 }' "$DATA/u.item"; }

@test "invariance: renumbering users and movies changes no EASE ranking (users <= 300)" {
	awk '$1 <= 300' "$DATA/u.data" >"$TMP/a.tsv"
	# a bijection that reverses the users' order and scatters the movies'
	# (37 m mod 1693, 1693 prime > 1682), so every row index changes
	awk -F'\t' -v OFS='\t' '{ print 100000 - $1, ($2 * 37) % 1693, $3, $4 }' "$TMP/a.tsv" >"$TMP/b.tsv"
	# --ease-dim 400 >= 300 users: no truncation, EASE exactly
	"$BIN/ml-train" "${QUICK[@]}" --model ease --ease-dim 400 <"$TMP/a.tsv" >"$TMP/a.lfe"
	"$BIN/ml-train" "${QUICK[@]}" --model ease --ease-dim 400 <"$TMP/b.tsv" >"$TMP/b.lfe"
	users=$(cut -f1 "$TMP/a.tsv" | sort -n -u | tr '\n' ' ')
	lists "$TMP/a.lfe" "$TMP/a.tsv" "$users" 10 >"$TMP/la.tsv"
	lists "$TMP/b.lfe" "$TMP/b.tsv" "$(for u in $users; do echo $((100000 - u)); done)" 10 |
		awk -F'\t' -v OFS='\t' 'BEGIN { for (m = 1; m < 1693; m++) back[(m * 37) % 1693] = m }
			{ print 100000 - $1, $2, back[$3], $4 }' | sort -k1,1n -k2,2n >"$TMP/lb.tsv"
	assert_equal "$(wc -l <"$TMP/la.tsv")" 3000
	assert_equal "$(wc -l <"$TMP/lb.tsv")" 3000
	# same scores at every rank (1e-4 relative), and the same movies except
	# where equal scores are ordered by id (ties: their ids were renumbered)
	run awk -F'\t' 'NR == FNR { s[$1 " " $2] = $4; m[$1 " " $2] = $3; next }
		{ k = $1 " " $2; d = s[k] - $4; if (d < 0) d = -d; a = s[k] < 0 ? -s[k] : s[k];
		  if (d > 1e-4 * (a > 1 ? a : 1)) bad++; if (m[k] != $3) moved++ }
		END { print bad + 0, moved + 0 }' "$TMP/la.tsv" "$TMP/lb.tsv"
	read -r bad moved <<<"$output"
	echo "scores off: $bad, movies at another rank (ties): $moved"
	assert_equal "$bad" 0
	assert [ "$moved" -le 30 ]
}

@test "invariance: ids shifted by a constant give the same blend, byte for byte in the vectors" {
	awk '$1 <= 300' "$DATA/u.data" >"$TMP/a.tsv"
	awk -F'\t' -v OFS='\t' '{ print $1 + 5000, $2 + 70000, $3, $4 }' "$TMP/a.tsv" >"$TMP/b.tsv"
	"$BIN/ml-train" "${QUICK[@]}" "${BLEND[@]}" --epochs 10 --dim 16 <"$TMP/a.tsv" >"$TMP/a.lfe"
	"$BIN/ml-train" "${QUICK[@]}" "${BLEND[@]}" --epochs 10 --dim 16 <"$TMP/b.tsv" >"$TMP/b.lfe"
	lists "$TMP/a.lfe" "$TMP/a.tsv" "1 7 42 300" 10 >"$TMP/la.tsv"
	lists "$TMP/b.lfe" "$TMP/b.tsv" "5001 5007 5042 5300" 10 |
		awk -F'\t' -v OFS='\t' '{ print $1 - 5000, $2, $3 - 70000, $4 }' >"$TMP/lb.tsv"
	assert_equal "$(wc -l <"$TMP/la.tsv")" 40
	run diff "$TMP/la.tsv" "$TMP/lb.tsv"
	assert_success
}

# The eight most popular horror movies a user has not rated, added at 5 stars:
# the other horror movies climb in that user's ranking of every unrated movie
# (their mean rank; the top 20 itself moves little, as the most popular horror
# movies are the ones added and so excluded).
@test "direction: a user who adds eight 5-star horror movies ranks the other horror higher (blend)" {
	genre_movies 17 >"$TMP/horror"
	"$BIN/ml-train" "${QUICK[@]}" "${BLEND[@]}" --epochs 30 <"$DATA/u.data" >"$TMP/a.lfe"
	for u in 1 19; do
		awk -F'\t' -v u=$u 'NR == FNR { h[$1] = 1; next } $1 == u { seen[$2] = 1 } h[$2] { n[$2]++ }
			END { for (m in n) if (!seen[m]) print n[m], m }' "$TMP/horror" "$DATA/u.data" |
			sort -k1,1nr -k2,2n | head -8 |
			awk -v u=$u -v OFS='\t' '{ print u, $2, 5, 893000000 }' >"$TMP/extra.tsv"
		assert_equal "$(wc -l <"$TMP/extra.tsv")" 8
		cat "$DATA/u.data" "$TMP/extra.tsv" >"$TMP/more.tsv"
		"$BIN/ml-train" "${QUICK[@]}" "${BLEND[@]}" --epochs 30 <"$TMP/more.tsv" >"$TMP/b.lfe"
		lists "$TMP/a.lfe" "$DATA/u.data" $u 2000 >"$TMP/la.tsv"
		lists "$TMP/b.lfe" "$TMP/more.tsv" $u 2000 >"$TMP/lb.tsv"
		# mean rank of the horror movies unrated in both (the eight added left out)
		read -r before after < <(awk -F'\t' 'FILENAME ~ /horror/ { g[$1] = 1; next }
			FILENAME ~ /extra/ { x[$2] = 1; next }
			FILENAME ~ /la.tsv/ { if (g[$3] && !x[$3]) { ra += $2; na++ } next }
			g[$3] { rb += $2; nb++ }
			END { printf "%.0f %.0f\n", ra / na, rb / nb }' \
			"$TMP/horror" "$TMP/extra.tsv" "$TMP/la.tsv" "$TMP/lb.tsv")
		echo "user $u: other horror movies' mean rank $before -> $after"
		# measured 709 -> 671 (user 1, 272 ratings) and 887 -> 704 (user 19, 20 ratings)
		assert [ "$after" -le $((before - 20)) ]
	done
}

@test "minimum function: a new user with one 5-star movie gets its neighbours first" {
	# neighbours of The Empire Strikes Back (172) by the data alone: the movies
	# most often rated by the same users (co-rating count over the movie's own count)
	awk -F'\t' 'NR == FNR { if ($2 == 172) fan[$1] = 1; next } fan[$1] && $2 != 172 { n[$2]++ }
		END { for (m in n) print n[m], m }' "$DATA/u.data" "$DATA/u.data" |
		sort -k1,1nr -k2,2n | head -20 | cut -d' ' -f2 | sort >"$TMP/near"
	{ cat "$DATA/u.data"; printf '9999\t172\t5\t893000000\n'; } >"$TMP/new.tsv"
	for model in blend ease; do
		"$BIN/ml-train" "${QUICK[@]}" --epochs 20 --model $model <"$TMP/new.tsv" >"$TMP/m.lfe"
		lists "$TMP/m.lfe" "$TMP/new.tsv" 9999 10 >"$TMP/l.tsv"
		top=$(cut -f3 "$TMP/l.tsv" | tr '\n' ' ')
		hits=$(cut -f3 "$TMP/l.tsv" | sort | join - "$TMP/near" | wc -l)
		echo "$model: top 10 $top; $hits of them among the 20 most co-rated"
		# the three most co-rated first (Star Wars, Raiders, Return of the Jedi),
		# most of the rest neighbours too
		assert [ "$(head -3 "$TMP/l.tsv" | cut -f3 | sort -n | tr '\n' ' ')" = "50 174 181 " ]
		assert [ "$hits" -ge 6 ]
	done
}

@test "no list holds a movie the user rated in train (every user, k 50)" {
	"$BIN/ml-split" -q --seed 42 --test "$TMP/test.tsv" <"$DATA/u.data" >"$TMP/train.tsv"
	"$BIN/ml-train" "${QUICK[@]}" "${BLEND[@]}" --epochs 10 <"$TMP/train.tsv" >"$TMP/m.lfe"
	"$BIN/ml-eval" --lists --k 50 --train "$TMP/train.tsv" --test "$TMP/test.tsv" <"$TMP/m.lfe" \
		>"$TMP/l.tsv"
	assert_equal "$(wc -l <"$TMP/l.tsv")" $((943 * 50))
	run awk -F'\t' 'NR == FNR { r[$1 " " $2] = 1; next } r[$1 " " $3] { bad++ } END { print bad + 0 }' \
		"$TMP/train.tsv" "$TMP/l.tsv"
	assert_output 0
	# and the lists are made of movies with a score, best first
	run awk -F'\t' '$1 == p && $4 > s + 1e-6 { bad++ } { p = $1; s = $4 } END { print bad + 0 }' "$TMP/l.tsv"
	assert_output 0
}

@test "scripts/tune: validation only, best trial written, bad grid refused" {
	awk '$1 <= 150' "$DATA/u.data" >"$TMP/train.tsv"
	run --separate-stderr "$REPO/scripts/tune" --no-mlflow --bin "$BIN" --train "$TMP/train.tsv" \
		--grid ease-l2=50,5000 --fixed "${QUICK[*]} --model ease" --best "$TMP/best.tsv"
	assert_success
	assert_equal "${#lines[@]}" 3
	assert_line --index 1 --regexp $'^1\tease-l2=50\t0\\.[0-9]+\t'
	# a lighter L2 fits a small data set better: the tuner must say so
	assert_equal "$(awk -F'\t' '$1 == "ease-l2" { print $2 }' "$TMP/best.tsv")" 50
	run "$REPO/scripts/tune" --no-mlflow --train "$TMP/train.tsv" --grid 'ease-l2'
	assert_failure 64
	assert_output --partial "want OPT=V1,V2"
	run "$REPO/scripts/tune" --no-mlflow --train "$TMP/nope.tsv"
	assert_failure 66
	# --val-ratio: the share kept for fitting, strictly between 0 and 1
	run --separate-stderr "$REPO/scripts/tune" --no-mlflow --bin "$BIN" --train "$TMP/train.tsv" \
		--val-ratio 0.9 --grid ease-l2=50,5000 --fixed "${QUICK[*]} --model ease"
	assert_success
	assert_equal "${#lines[@]}" 3
	for r in 1 1.5 0 0.0 x; do
		run "$REPO/scripts/tune" --no-mlflow --train "$TMP/train.tsv" --val-ratio "$r"
		assert_failure 64
		assert_output --partial "--val-ratio"
	done
}
