#!/usr/bin/env bats
# The whole living-data loop, as a user runs it: make pipeline -> ml-serve -> feedback for 50 new
# users -> make retrain (trains on the database's ratings, loads the new version as the
# challenger for 50 %) -> simulated clicks that favour the challenger -> make promote (the online
# gate passes) -> promoted and served to all. The gauges and MLflow's online metrics are checked
# against numbers computed here from the tables (psql rows, awk).
load helpers
load ../reliability/lib
load online

FTOKEN=loop-feedback-7d1e

# until_model JQ: until GET /model satisfies JQ (10 s at most)
until_model() {
	local i
	for i in $(seq 100); do
		curl -s "$URL/model" | jq -e "$1" >/dev/null && return 0
		sleep 0.1
	done
	echo "GET /model never satisfied $1: $(curl -s "$URL/model")" >&2
	return 1
}

feedback() {
	curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $FTOKEN" \
		-H 'Content-Type: application/json' --data-binary "$1" "$URL/feedback"
}

setup_file() {
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || { echo "no MLflow: scripts/services up" >&2; return 1; }
	fresh_db living_loop
	export LOOP_DB_URL=$DATABASE_URL
	export MODEL_NAME=loop_$RANDOM$RANDOM EXPERIMENT=loop-$RANDOM$RANDOM
	export LENSFLOW_HOME=$BATS_FILE_TMPDIR/home LENSFLOW_DATA_URL=$DATA
	# v1: a deliberately weak model, so that the retrain's passes the offline gate
	TRAIN_FLAGS="--model softmax-mf --dim 2 --epochs 1" make -s --no-print-directory -C "$REPO" \
		pipeline BIN="$BIN" >"$BATS_FILE_TMPDIR/pipeline.json" 2>"$BATS_FILE_TMPDIR/pipeline.err"
	PORT=$(free_port)
	export PORT URL=http://127.0.0.1:$PORT
	LENSFLOW_FEEDBACK_TOKEN=$FTOKEN MLFLOW_TRACKING_URI='' start_serve serve --listen "127.0.0.1:$PORT" \
		--threads 3 --poll 0.5 --model-name "$MODEL_NAME"
	wait_for "$URL" /readyz 200
}

setup() {
	export DATABASE_URL=$LOOP_DB_URL
}

teardown_file() {
	stop_serve serve
}

@test "the loop: pipeline, feedback of 50 new users, retrain as challenger, clicks, online gate, promotion" {
	jq -e '.model_version == "1" and .promoted == true' "$BATS_FILE_TMPDIR/pipeline.json"
	until_model '.version == "1" and .challenger == null'

	# ---- feedback for 50 new users (ids no dataset has), 20 ratings each, half stars among them
	local u m body
	for u in $(seq 5001 5050); do
		body=$(jq -nc --argjson u "$u" '{events: [range(20) | {user_id: $u,
			movie_id: (($u * 7 + . * 13) % 400 + 1), rating: (((. % 9) + 2) / 2), timestamp: (1700000000 + .)}]}')
		[ "$(feedback "$body")" = 202 ]
	done
	assert_equal "$(sql "SELECT count(DISTINCT user_id) FROM feedback")" 50
	run curl -s -o /dev/null -w '%{http_code}' "$URL/recommendations/5001"
	assert_output 404 # unknown to v1

	# ---- make retrain: trains on the database's ratings, loads v2 as the challenger for 50 %
	CHALLENGER_SHARE=0.5 MIN_IMPRESSIONS=100 run make -s --no-print-directory -C "$REPO" retrain BIN="$BIN"
	echo "$output" | tail -n 20
	assert_success
	jq -e '.model_version == "2" and .promoted == false' <<<"$(grep '^{' <<<"$output" | tail -n 1)"
	local run_dir
	run_dir=$(ls -d "$LENSFLOW_HOME"/runs/* | tail -n 1)
	assert_equal "$(cat "$run_dir/living")" 1
	# trained on the catalogue's ratings plus every feedback event
	assert_equal "$(wc -l <"$run_dir/ratings.tsv")" "$(sql "SELECT count(*) FROM (SELECT user_id, movie_id
		FROM ratings UNION SELECT user_id, movie_id FROM feedback) p")"
	assert_equal "$(sql "SELECT version, challenger, challenger_share FROM serving
		WHERE model_name = '$MODEL_NAME'")" "1|2|0.5"
	run "$BIN/ml-mlflow-log" --model-name "$MODEL_NAME" --champion
	assert_output 1
	until_model '.version == "1" and .challenger.version == "2" and .challenger.share == 0.5'
	# users who exist only in feedback get recommendations now (from the set that learnt them)
	run curl -sf "$URL/recommendations/5001?k=5"
	assert_success
	jq -e '.model_version == "2" and .arm == "challenger" and (.items | length) == 5' <<<"$output"

	# ---- clicks favouring the challenger: 60 % of its users rate its first movie, 20 % of the champion's
	local a challenger=0 champion=0
	# the 400 answers through one curl (one connection, in order), then the clicks through
	# another: a click depends only on its own answer
	for u in $(seq 1 400); do echo "url = \"$URL/recommendations/$u?k=10\""; done >"$TMP/answers.cfg"
	curl -s -w '\n' -K "$TMP/answers.cfg" >"$TMP/answers.json"
	jq -r '"\(.arm) \(.items[0].movie_id)"' "$TMP/answers.json" >"$TMP/answers"
	assert_equal "$(wc -l <"$TMP/answers")" 400
	u=0
	: >"$TMP/clicks.cfg"
	while read -r a m; do
		u=$((u + 1))
		if [ "$a" = challenger ]; then
			challenger=$((challenger + 1))
			[ $((u % 10)) -lt 6 ] || continue
		elif [ "$a" = champion ]; then
			champion=$((champion + 1))
			[ $((u % 10)) -lt 2 ] || continue
		else
			fail "answer $u has no arm: $(sed -n "${u}p" "$TMP/answers.json")"
		fi
		[[ $m =~ ^[0-9]+$ ]] || fail "answer $u has no first movie: $(sed -n "${u}p" "$TMP/answers.json")"
		printf '%s\n' "url = \"$URL/feedback\"" "header = \"Authorization: Bearer $FTOKEN\"" \
			'header = "Content-Type: application/json"' 'output = "/dev/null"' 'write-out = "%{http_code}\n"' \
			"data-binary = \"{\\\"user_id\\\": $u, \\\"movie_id\\\": $m, \\\"rating\\\": 4}\"" next >>"$TMP/clicks.cfg"
	done <"$TMP/answers"
	sed -i '$d' "$TMP/clicks.cfg" # the last "next"
	curl -s -K "$TMP/clicks.cfg" >"$TMP/clicks.codes"
	assert_equal "$(sort -u "$TMP/clicks.codes")" 202
	assert_equal "$(wc -l <"$TMP/clicks.codes")" "$(grep -c '^url' "$TMP/clicks.cfg")"
	echo "answers: challenger $challenger, champion $champion"
	[ "$challenger" -ge 150 ] && [ "$champion" -ge 150 ]

	# ---- the gauges: what the tables say (the impressions written, a poll's aggregate after)
	sleep 2.5
	online_oracle "$MODEL_NAME" >"$TMP/oracle"
	cat "$TMP/oracle"
	local arm want got
	for arm in champion challenger; do
		want=$(awk -v a="$arm" '$2 == a { printf "%d %.6f", $3, $4 / $3 }' "$TMP/oracle")
		got=$(curl -s "$URL/metrics" | awk -v a="$arm" '
			$1 == "lensflow_online_impressions{arm=\"" a "\"}" { n = $2 }
			$1 == "lensflow_online_hit_rate{arm=\"" a "\"}" { r = $2 } END { printf "%d %.6f", n, r }')
		assert_equal "$got" "$want"
	done

	# ---- make promote: the online gate passes; v2 promoted, the challenger gone, served to all
	MIN_IMPRESSIONS=100 run make -s --no-print-directory -C "$REPO" promote BIN="$BIN"
	assert_success
	assert_equal "${lines[-1]}" pass
	# MLflow's online metrics on each version's run: the tables' numbers (all of a version's answers)
	for v in 1 2; do
		run "$BIN/ml-mlflow-log" --model-name "$MODEL_NAME" --version-info "$v"
		assert_success
		want=$(awk -v v="$v" '$1 == v && $2 == "all" { printf "%d %.6f", $3, $4 / $3 }' "$TMP/oracle")
		got=$(awk -F'\t' '$1 == "online_impressions" { n = $2 } $1 == "online_hit_rate_at_10" { r = $2 }
			END { printf "%d %.6f", n, r }' <<<"$output")
		assert_equal "$got" "$want"
	done
	run "$BIN/ml-mlflow-log" --model-name "$MODEL_NAME" --champion
	assert_output 2
	assert_equal "$(sql "SELECT version, challenger IS NULL, challenger_share FROM serving
		WHERE model_name = '$MODEL_NAME'")" "2|t|0"
	until_model '.version == "2" and .challenger == null'
	for u in 1 2 3 4 5 6 7 8 9 10 5002; do
		run curl -sf "$URL/recommendations/$u?k=3"
		assert_success
		jq -e '.model_version == "2" and .arm == "champion"' <<<"$output"
	done
	# no challenger any more: make promote has nothing to judge
	run make -s --no-print-directory -C "$REPO" promote BIN="$BIN"
	assert_success
	assert_equal "${lines[-1]}" none
}
