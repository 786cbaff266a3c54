#!/usr/bin/env bats
# fuzz.bats — the short version of `make fuzz`: every libFuzzer target of
# test/fuzz/ is built (clang, ASan + UBSan, build/fuzz/), replays its
# committed seeds and regression inputs (each a bug once found, which must
# stay fixed), then fuzzes for FUZZ_TEST_SECONDS (4) with a fixed seed (10 targets: the
# file stays under a minute on 2 cores).
# Anything a target finds (a sanitizer report, a leak, a broken property) is
# a failure whose output shows the stack; new inputs go to the test's scratch
# dir, never into test/fuzz/. The long runs are `make fuzz`.
load helpers

TARGETS=(ratings_parse movies_parse metrics_parse lfe_parse utf8_valid numbers
	serve_body serve_path mlflow_answer mlflow_inputs)
FUZZ_DIR=$REPO/build/fuzz
SECONDS_EACH=${FUZZ_TEST_SECONDS:-4}

setup_file() {
	make -s -C "$REPO" -j2 fuzz-build >&2
}

# The committed inputs, then a short fixed-seed run; the run must really have
# executed inputs and left no crash file.
fuzz_one() {
	local t=$1 seeds=$REPO/test/fuzz/corpus/$1 regs=$REPO/test/fuzz/regressions/$1
	[ -x "$FUZZ_DIR/fuzz_$t" ]
	[ -n "$(ls -A "$seeds")" ]
	local files=("$seeds"/*)
	[ -d "$regs" ] && [ -n "$(ls -A "$regs")" ] && files+=("$regs"/*)
	run "$FUZZ_DIR/fuzz_$t" -artifact_prefix="$TMP/" "${files[@]}"
	[ "$status" -eq 0 ] || { echo "$output" | tail -40; return 1; }
	local dict=()
	[ -f "$REPO/test/fuzz/$t.dict" ] && dict=(-dict="$REPO/test/fuzz/$t.dict")
	mkdir -p "$TMP/corpus"
	run "$FUZZ_DIR/fuzz_$t" -max_total_time="$SECONDS_EACH" -seed=1 -artifact_prefix="$TMP/" \
		"${dict[@]}" "$TMP/corpus" "$seeds"
	[ "$status" -eq 0 ] || { echo "$output" | tail -40; return 1; }
	assert_output --regexp "Done [0-9]{4,} runs"
	run ls "$TMP"/crash-* "$TMP"/leak-* "$TMP"/timeout-* "$TMP"/oom-*
	[ "$status" -ne 0 ]
}

@test "every target in test/fuzz/ is built and listed here" {
	for f in "$REPO"/test/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		t=${t%.c}
		[[ " ${TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.bats does not run $t"; return 1; }
		[ -x "$FUZZ_DIR/fuzz_$t" ]
	done
}

@test "a broken property fails the run, names the check and saves the input" {
	# What every target relies on: FUZZ_CHECK aborts, libFuzzer reports it and
	# keeps the input. A target of our own whose property breaks on "*…".
	cat >"$TMP/t.c" <<'C'
#include "fuzz_check.h"
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	FUZZ_CHECK(n < 3 || d[0] != '*');
	return 0;
}
C
	clang -g -fsanitize=fuzzer,address -I"$REPO/test/fuzz" -o "$TMP/t" "$TMP/t.c"
	printf 'ok' >"$TMP/good"
	run "$TMP/t" -artifact_prefix="$TMP/" "$TMP/good"
	assert_success
	printf '*xyz' >"$TMP/bad"
	run "$TMP/t" -artifact_prefix="$TMP/" "$TMP/bad"
	assert_failure
	assert_output --partial "fuzz property broken"
	assert_output --partial "n < 3 || d[0] != '*'"
	mkdir "$TMP/corpus"
	run "$TMP/t" -artifact_prefix="$TMP/art-" -max_total_time=5 -seed=1 "$TMP/corpus"
	assert_failure
	run ls "$TMP"/art-crash-*
	assert_success
}

@test "fuzz ratings_parse" { fuzz_one ratings_parse; }
@test "fuzz movies_parse" { fuzz_one movies_parse; }
@test "fuzz metrics_parse" { fuzz_one metrics_parse; }
@test "fuzz lfe_parse (with the CRC fixed up, and the write/read round trip)" { fuzz_one lfe_parse; }
@test "fuzz utf8_valid against the Unicode table" { fuzz_one utf8_valid; }
@test "fuzz numbers: parse_i64 and parse_double against references" { fuzz_one numbers; }
@test "fuzz serve_body: POST /recommendations bodies" { fuzz_one serve_body; }
@test "fuzz serve_path: ml-serve's route matcher, path ids, query parameters" { fuzz_one serve_path; }
@test "fuzz mlflow_answer: MLflow answers, error bodies, champion history" { fuzz_one mlflow_answer; }
@test "fuzz mlflow_inputs: ml-mlflow-log's params and losses TSV" { fuzz_one mlflow_inputs; }
