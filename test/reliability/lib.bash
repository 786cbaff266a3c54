# test/reliability/lib.bash — what the reliability-*, security-* and valgrind
# bats files share (load it after helpers: `load ../reliability/lib`).
#
# Gives: $REL (the clients of test/reliability/, built by `make`), free_port,
# start_serve/stop_serve/wait_for (ml-serve in the background, pid and exit
# code in $BATS_FILE_TMPDIR), rss_kb/fd_count/thread_count PID, build_data DIR
# (ratings, movies, train, two small models v1/v2 through the real tools) and
# load_set URL (catalogue + v1 served).
REL=${REL:-$REPO/${BUILD:-build/release}/reliability}

# start_serve NAME ARGS...: ml-serve (under $SERVE_WRAP when set) in the background;
# its pid in NAME.pid, stderr in NAME.err, its exit code in NAME.exit once it ends.
start_serve() {
	local name=$1
	shift
	rm -f "$BATS_FILE_TMPDIR/$name.exit" "$BATS_FILE_TMPDIR/$name.pid"
	# shellcheck disable=SC2086
	(
		${SERVE_WRAP:-} "$BIN/ml-serve" "$@" >"$BATS_FILE_TMPDIR/$name.out" \
			2>"$BATS_FILE_TMPDIR/$name.err" &
		echo $! >"$BATS_FILE_TMPDIR/$name.pid"
		# bats' errexit holds in here too: without the ||, a server killed by a signal
		# (kill -9: 137) would end this subshell before NAME.exit is written, and
		# stop_serve would wait its whole 60 s for it
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$BATS_FILE_TMPDIR/$name.exit"
	) 3>&- &
	for _ in $(seq 50); do
		[ -s "$BATS_FILE_TMPDIR/$name.pid" ] && break
		sleep 0.05
	done
}

serve_pid() { cat "$BATS_FILE_TMPDIR/$1.pid"; }

# wait_for URL PATH CODE [TRIES]: until PATH answers CODE (0.1 s a try, 200 tries).
wait_for() {
	local i
	for i in $(seq "${4:-200}"); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1$2")" = "$3" ] && return 0
		sleep 0.1
	done
	echo "$1$2 never answered $3; the servers' stderr:" >&2
	tail -n 5 "$BATS_FILE_TMPDIR"/*.err >&2 2>/dev/null
	return 1
}

# stop_serve NAME: SIGTERM, then its exit code in STOPPED (60 s at most: valgrind is slow).
stop_serve() {
	local pid
	[ -f "$BATS_FILE_TMPDIR/$1.pid" ] || return 0
	pid=$(cat "$BATS_FILE_TMPDIR/$1.pid")
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 600); do
		[ -f "$BATS_FILE_TMPDIR/$1.exit" ] && break
		sleep 0.1
	done
	STOPPED=$(cat "$BATS_FILE_TMPDIR/$1.exit" 2>/dev/null || echo none)
}

# stop every server this file started and has not stopped (teardown_file)
stop_all_serves() {
	local f name
	for f in "$BATS_FILE_TMPDIR"/*.pid; do
		[ -f "$f" ] || continue
		name=$(basename "$f" .pid)
		[ -f "$BATS_FILE_TMPDIR/$name.exit" ] || stop_serve "$name"
	done
	return 0
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
thread_count() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }

# build_data DIR [v2]: ratings.tsv movies.tsv train.tsv test.tsv v1.lfe, and v2.lfe when asked
# (small, fast models: dim 16, 3 epochs)
build_data() {
	local d=$1
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null || return 1
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null || return 1
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null || return 1
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 3 --threads 1 --seed 1 <"$d/train.tsv" >"$d/v1.lfe" || return 1
	[ "${2:-}" = v2 ] || return 0
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 3 --threads 1 --seed 2 <"$d/train.tsv" >"$d/v2.lfe" || return 1
}

# load_set URL DIR: the catalogue and v1 (switched to) in the database at URL
load_set() {
	"$BIN/ml-pgload" -q --db "$1" --catalogue --movies "$2/movies.tsv" --ratings "$2/ratings.tsv" \
		>/dev/null || return 1
	"$BIN/ml-pgload" -q --db "$1" --load 1 --run-id run-one --switch <"$2/v1.lfe" >/dev/null
}

# json_get JSON FILTER: jq -r on a string
json_get() { jq -r "$2" <<<"$1"; }
