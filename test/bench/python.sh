# test/bench/python.sh — the Python service of commit 118e941, measured the way
# ml-serve is (sourced by test/bench/run; BENCH_PYTHON=1 or `make bench-python`).
# Its source (git archive) and venv live in $LENSFLOW_HOME/py118, built once and
# kept (the install takes minutes); its own database py118 in the bench's
# Postgres; its MLflow store is SQLite under its home; `lensflow pipeline` (at
# most BENCH_PY_TIMEOUT s, 150) then `lensflow serve` (uvicorn, one process).

PY_COMMIT=118e941

py_build() {
	local dir=$1 t0
	[ -x "$dir/venv/bin/lensflow" ] && return 0
	rm -rf "$dir"
	mkdir -p "$dir/src"
	git -C "$REPO" archive "$PY_COMMIT" | tar -x -C "$dir/src"
	t0=$(date +%s.%N)
	python3 -m venv "$dir/venv"
	"$dir/venv/bin/pip" install -q "$dir/src" >"$WORK/py-install.log" 2>&1 ||
		die "installing 118e941 failed: see $WORK/py-install.log"
	fig "Python 118e941: venv install (kept for later runs)" \
		"$(jq -nc --argjson s "$(secs_since "$t0")" '{wall_s: $s}')"
}

section_python_run() {
	local dir=$LENSFLOW_HOME/py118 url out t0 p
	py_build "$dir"
	# its database and home are kept between runs: a pipeline cut short by the time limit
	# below leaves the champion of the previous run serving
	url=$LENSFLOW_PG_URL_BASE/py118
	if ! "$PG_BIN/psql" -X -q -At "$url" -c "SELECT 1" >/dev/null 2>&1; then
		"$PG_BIN/psql" -X -q -At "$LENSFLOW_PG_ADMIN_URL" -c "CREATE DATABASE py118" >/dev/null
		"$PG_BIN/psql" -X -q -At "$url" -c "CREATE EXTENSION vector" >/dev/null
	fi
	mkdir -p "$dir/home"
	t0=$(date +%s.%N)
	if out=$(cd "$dir/src" && timeout "${BENCH_PY_TIMEOUT:-150}" env -u MLFLOW_TRACKING_URI \
		LENSFLOW_HOME="$dir/home" DATABASE_URL="$url" LENSFLOW_DATA_DIR="$LENSFLOW_DATA_URL" \
		"$dir/venv/bin/lensflow" pipeline --json 2>"$WORK/py-pipeline.err"); then
		fig "Python 118e941: lensflow pipeline" \
			"$(jq -c --argjson w "$(secs_since "$t0")" '{wall_s: $w, timings_s: (.timings_s // null),
			  ndcg_at_10: (.metrics["ndcg@10"] // null), model_version: (.model_version // null)}' \
				<<<"$(tail -1 <<<"$out")")"
	else
		fig "Python 118e941: lensflow pipeline" "$(jq -nc --argjson w "$(secs_since "$t0")" \
			'{wall_s: $w, status: "failed or cut at the time limit; the previous champion serves"}')"
		say "Python pipeline: $(tail -3 "$WORK/py-pipeline.err")"
	fi

	p=$(free_port)
	(cd "$dir/src" && exec env -u MLFLOW_TRACKING_URI LENSFLOW_HOME="$dir/home" DATABASE_URL="$url" \
		LENSFLOW_REGISTRY_POLL_S=3600 "$dir/venv/bin/lensflow" serve --port "$p") \
		>"$WORK/py-serve.log" 2>&1 &
	SERVE_PID=$!
	SERVE_ADDR=127.0.0.1:$p
	local i
	for i in $(seq 300); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$SERVE_ADDR/readyz")" = 200 ] && break
		kill -0 "$SERVE_PID" 2>/dev/null || die "the Python service exited: $(tail -5 "$WORK/py-serve.log")"
		sleep 0.2
	done
	[ "$i" -lt 300 ] || die "the Python service did not become ready"
	local path='/recommendations/{id}?k=10' sat r
	fig "/healthz (Python), unloaded" "$(loadgen_run /healthz 0 1 0 "$D_UNL")"
	fig "/recommendations (Python), unloaded" "$(loadgen_run "$path" 943 1 0 "$D_UNL")"
	sat=$(under_load wrk_run "$path" 943 2 8 "$D_SAT")
	fig "/recommendations (Python), saturated" "$sat"
	r=$(jq '.rps * 0.8 | floor' <<<"$sat")
	fig "/recommendations (Python), open loop at 80 % of saturation" \
		"$(under_load loadgen_run "$path" 943 16 "$r" "$D_OPEN")"
	serve_stop
}
