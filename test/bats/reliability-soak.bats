#!/usr/bin/env bats
# The short soak of `make test` (issue 15): scripts/soak for 10 s at half of
# ml-serve's measured saturation, sampled every 2 s (after its 3 s of saturation
# have warmed the server). At ~2,500 requests/s the 1 % of RSS it allows over the
# 6 s between the first and last samples is under 10 bytes a request: any leak
# per request fails it. `make soak` runs the 10-minute one into
# test/bench/results/soak.json.

load helpers

@test "10 s at half the saturation: 0 errors, RSS growth <= 1 %, fds and threads flat" {
	command -v wrk >/dev/null || fail "wrk is not installed (scripts/deps --test)"
	[[ $BIN != */asan/* ]] || skip "ASan's quarantine holds freed memory: the soak measures the release build"
	BIN=$BIN run "$REPO/scripts/soak" --seconds 10 --interval 2 --saturation-seconds 3 \
		--out "$BATS_TEST_TMPDIR/soak.json"
	echo "$output"
	assert_success
	s=$BATS_TEST_TMPDIR/soak.json
	jq -e '.pass == true and .errors == 0 and ."5xx" == 0 and .non_2xx == 0' "$s"
	# the rate was half the saturation and was kept
	jq -e '.saturation_rps > 0 and .rate_rps == (.saturation_rps / 2 | floor)
		and .achieved_rps >= .rate_rps * 0.9 and .requests >= .rate_rps * 9' "$s"
	jq -e '(.samples | length) == 4 and .rss_growth_pct <= 1
		and .fds_min == .fds_max and .threads_min == .threads_max' "$s"
}

@test "scripts/soak refuses bad arguments (exit 2) and explains itself" {
	run "$REPO/scripts/soak" --seconds 10 --interval 6
	assert_equal "$status" 2
	assert_output --partial "two samples"
	run "$REPO/scripts/soak" --seconds ten
	assert_equal "$status" 2
	assert_output --partial "'ten'"
	run "$REPO/scripts/soak" --help
	assert_success
	assert_output --partial "half of its measured saturation"
}
