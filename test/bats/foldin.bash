# foldin.bash — loaded by ml-serve-foldin.bats and compact.bats: a served set's fold-in
# (POST /recommendations) set beside the answer the same set gives a training user.
# Each set's ml-serve port is in $BATS_FILE_TMPDIR/<NAME>.port, the training ratings in
# $BATS_FILE_TMPDIR/train.tsv.

# same_user NAME USER K: POST the user's training movies; GET the user; both
# answers into $BATS_TEST_TMPDIR/new.json and known.json
same_user() {
	local url ratings
	url=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/$1.port")
	ratings=$(awk -v u="$2" '$1 == u {print $2}' "$BATS_FILE_TMPDIR/train.tsv" |
		jq -Rsc 'split("\n") | map(select(length > 0) | {movie_id: tonumber, rating: 4})')
	curl -sf -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"ratings\": $ratings, \"k\": $3}" "$url/recommendations" \
		>"$BATS_TEST_TMPDIR/new.json"
	curl -sf "$url/recommendations/$2?k=$3" >"$BATS_TEST_TMPDIR/known.json"
}

# foldin_gives_known_answer NAME: for users 1, 2, 13 and 405, the new user with their
# movies gets their top 20, the same movies in the same order, scores within 1e-4 (relative)
foldin_gives_known_answer() {
	local u
	for u in 1 2 13 405; do
		same_user "$1" "$u" 20
		jq -e --slurpfile k "$BATS_TEST_TMPDIR/known.json" '
			[.items[].movie_id] == [$k[0].items[].movie_id] and
			([.items, $k[0].items] | transpose | all(.[0].score as $a | .[1].score as $b
				| ($a - $b | fabs) < 1e-4 * (1 + ($b | fabs))))' \
			"$BATS_TEST_TMPDIR/new.json" || {
			echo "user $u:" >&2
			jq -c '[.items[] | [.movie_id, .score]]' "$BATS_TEST_TMPDIR"/{new,known}.json >&2
			return 1
		}
	done
}

# foldin_near_known_answer NAME: for the same users, the new user's top 10 and the user's
# share at least 32 of their 40 movies
foldin_near_known_answer() {
	local u common total=0
	for u in 1 2 13 405; do
		same_user "$1" "$u" 10
		common=$(jq -n --slurpfile a "$BATS_TEST_TMPDIR/new.json" \
			--slurpfile b "$BATS_TEST_TMPDIR/known.json" \
			'[$a[0].items[].movie_id] - ([$a[0].items[].movie_id] - [$b[0].items[].movie_id]) | length')
		echo "user $u: $common of 10 in common"
		total=$((total + common))
	done
	[ "$total" -ge 32 ]
}
