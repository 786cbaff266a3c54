#!/usr/bin/env bats
# fuzz.bats — the short version of `make fuzz`: every libFuzzer target of
# test/fuzz/ is built (clang, ASan + UBSan, build/fuzz/), replays its
# committed seeds and regression inputs (each a bug once found, which must
# stay fixed), then fuzzes for FUZZ_TEST_SECONDS (4) with a fixed seed. The
# runs start in setup_file, FUZZ_TEST_JOBS (one per core) at a time, and each
# target's test waits for its own (10 targets: about 30 s on 2 cores).
# Anything a target finds (a sanitizer report, a leak, a broken property) is
# a failure whose output shows the stack; new inputs go to the file's scratch
# dir, never into test/fuzz/. The long runs are `make fuzz`.
load helpers

TARGETS=(ratings_parse movies_parse metrics_parse lfe_parse utf8_valid numbers
	serve_body serve_path mlflow_answer mlflow_inputs)
FUZZ_DIR=$REPO/build/fuzz
SECONDS_EACH=${FUZZ_TEST_SECONDS:-4}
JOBS=${FUZZ_TEST_JOBS:-$(nproc)}

# fuzz_run TARGET: the committed inputs, then a short fixed-seed run, into $RUNS/TARGET.*
# (outputs, exit codes; artifacts under $RUNS/TARGET/); TARGET.done when both are over
fuzz_run() {
	local t=$1 seeds=$REPO/test/fuzz/corpus/$1 regs=$REPO/test/fuzz/regressions/$1 rc
	local out=$RUNS/$t files=("$seeds"/*) dict=()
	mkdir -p "$out/corpus"
	[ -d "$regs" ] && [ -n "$(ls -A "$regs")" ] && files+=("$regs"/*)
	rc=0
	"$FUZZ_DIR/fuzz_$t" -artifact_prefix="$out/" "${files[@]}" >"$out.replay" 2>&1 || rc=$?
	echo "$rc" >"$out.replay.rc"
	[ -f "$REPO/test/fuzz/$t.dict" ] && dict=(-dict="$REPO/test/fuzz/$t.dict")
	rc=0
	"$FUZZ_DIR/fuzz_$t" -max_total_time="$SECONDS_EACH" -seed=1 -artifact_prefix="$out/" \
		"${dict[@]}" "$out/corpus" "$seeds" >"$out.run" 2>&1 || rc=$?
	echo "$rc" >"$out.run.rc"
	touch "$out.done"
}

setup_file() {
	make -s -C "$REPO" -j2 fuzz-build >&2
	export RUNS=$BATS_FILE_TMPDIR/runs
	mkdir -p "$RUNS"
	# every target's runs, JOBS at a time, in the background (without bats' errexit and
	# ERR trap: a run's failure is recorded, not the end of the loop)
	(
		trap - ERR
		set +eE
		for t in "${TARGETS[@]}"; do
			[ -x "$FUZZ_DIR/fuzz_$t" ] || { touch "$RUNS/$t.done"; continue; }
			while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
			fuzz_run "$t" &
		done
		wait
		touch "$RUNS/all.done"
	) </dev/null >/dev/null 2>&1 3>&- &
}

teardown_file() {
	# the runs end by themselves (SECONDS_EACH each); not left behind when a test gave up
	for _ in $(seq 1200); do
		[ -f "$RUNS/all.done" ] && return 0
		sleep 0.1
	done
}

# fuzz_one TARGET: its runs (started by setup_file) are over and clean: the committed
# inputs pass, the run really executed inputs and left no crash file.
fuzz_one() {
	local t=$1 out=$RUNS/$1 i
	[ -x "$FUZZ_DIR/fuzz_$t" ]
	[ -n "$(ls -A "$REPO/test/fuzz/corpus/$t")" ]
	for i in $(seq 1200); do
		[ -f "$out.done" ] && break
		sleep 0.1
	done
	[ -f "$out.done" ] || { echo "fuzz_$t has not finished after 120 s"; return 1; }
	[ "$(cat "$out.replay.rc")" -eq 0 ] || { echo "the committed inputs:"; tail -40 "$out.replay"; return 1; }
	[ "$(cat "$out.run.rc")" -eq 0 ] || { echo "the run:"; tail -40 "$out.run"; return 1; }
	run cat "$out.run"
	assert_output --regexp "Done [0-9]{4,} runs"
	run ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
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
