# helpers.bash — loaded by every bats file: `load helpers`.
#
# Gives: $BIN (the tools under test: bin/ or the ASan build), $DATA (MovieLens
# 100k as published, an unpacked folder), $FIXTURES, a per-test scratch dir
# $TMP, bats-support/assert/file, and the services of scripts/services
# (DATABASE_URL, MLFLOW_TRACKING_URI, PG_BIN) when they are up.
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BIN=${LENSFLOW_BIN:-$REPO/bin}
FIXTURES=$REPO/test/fixtures
DATA=${LENSFLOW_TEST_DATA:-$REPO/../shared/data/ml-100k}
TMP=$BATS_TEST_TMPDIR
# test helper programs (test/tools/*.c), built by `make` beside the unit tests
TEST_TOOLS=${TEST_TOOLS:-$REPO/${BUILD:-build/release}/test-tools}
export LENSFLOW_TEST_HOME=${LENSFLOW_TEST_HOME:-$REPO/.lensflow/test}

# services.env is written by `scripts/services up` (make test starts them).
# Read once per file: setup_file's exports (fresh_db's DATABASE_URL) must
# survive into the tests, which source this file again.
if [ -z "${LENSFLOW_SERVICES_LOADED:-}" ] && [ -f "$LENSFLOW_TEST_HOME/services.env" ]; then
	set -a
	# shellcheck disable=SC1091
	. "$LENSFLOW_TEST_HOME/services.env"
	set +a
	export LENSFLOW_SERVICES_LOADED=1
fi

# A database of its own for one bats file (dropped and created again), with
# DATABASE_URL pointing at it. Usage in setup_file: fresh_db NAME
fresh_db() {
	local name=$1
	if [ -z "${LENSFLOW_PG_ADMIN_URL:-}" ]; then
		echo "no Postgres: run scripts/services up (make test does)" >&2
		return 1
	fi
	"$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 "$LENSFLOW_PG_ADMIN_URL" \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
		-c "CREATE DATABASE \"$name\"" >/dev/null
	export DATABASE_URL="${LENSFLOW_PG_URL_BASE}/${name}"
}

# psql against $DATABASE_URL, unaligned, tuples only: sql "SELECT 1"
sql() {
	"$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "$1"
}

# A free TCP port on 127.0.0.1 (nothing answers a connect), for a server the test starts;
# below Linux's ephemeral range (32768-60999), where a client connection could take it first.
free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# mlflow_or_start (in setup_file): the suite's MLflow ($MLFLOW_TRACKING_URI from services.env),
# or, when there is none, one started for this file under $BATS_FILE_TMPDIR/home;
# mlflow_stop_if_started (in teardown_file) stops only the one started here.
mlflow_or_start() {
	if [ -z "${MLFLOW_TRACKING_URI:-}" ]; then
		export LENSFLOW_HOME=$BATS_FILE_TMPDIR/home
		"$REPO/scripts/mlflow-embedded" up >/dev/null
		MLFLOW_TRACKING_URI=$(sed -n 's/^MLFLOW_TRACKING_URI=//p' "$LENSFLOW_HOME/mlflow/mlflow.env")
		export MLFLOW_TRACKING_URI MLFLOW_STARTED_HERE=1
	fi
}
mlflow_stop_if_started() {
	if [ -n "${MLFLOW_STARTED_HERE:-}" ]; then
		"$REPO/scripts/mlflow-embedded" down
	fi
}
