#!/usr/bin/env bats
# browser: ml-serve's web page at / in a real browser — Debian's chromium
# driven by playwright-core (npm, lockfile at the repository root; it never
# downloads a browser) — against a real ml-serve on a set built by the real
# tools (ml-fetch → ml-split → ml-train → ml-eval → ml-pgload). Each scenario
# of test/browser/run.mjs is one test; the page's answers are compared there
# with the API's. Screenshots are written under $BATS_FILE_TMPDIR and copied
# to test-artifacts/browser/.

load helpers

# start_serve NAME ARGS...: ml-serve in the background; pid in NAME.pid, exit code in NAME.exit.
start_serve() {
	local name=$1
	shift
	(
		"$BIN/ml-serve" "$@" >"$BATS_FILE_TMPDIR/$name.out" 2>"$BATS_FILE_TMPDIR/$name.err" &
		echo $! >"$BATS_FILE_TMPDIR/$name.pid"
		# errexit holds in here: without the ||, an exit other than 0 would end this
		# subshell before NAME.exit is written (see test/reliability/lib.bash)
		rc=0
		wait $! || rc=$?
		echo "$rc" >"$BATS_FILE_TMPDIR/$name.exit"
	) 3>&- &
}

# stop_serve NAME: SIGTERM, then its exit code in STOPPED (30 s at most).
stop_serve() {
	local pid
	[ -f "$BATS_FILE_TMPDIR/$1.pid" ] || return 0
	pid=$(cat "$BATS_FILE_TMPDIR/$1.pid")
	[ -f "$BATS_FILE_TMPDIR/$1.exit" ] || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 300); do
		[ -f "$BATS_FILE_TMPDIR/$1.exit" ] && break
		sleep 0.1
	done
	STOPPED=$(cat "$BATS_FILE_TMPDIR/$1.exit" 2>/dev/null || echo none)
}

wait_for() { # wait_for URL CODE [NAME]: until it answers CODE (20 s at most, or NAME exits)
	local i
	for i in $(seq 200); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = "$2" ] && return 0
		[ -n "${3:-}" ] && [ -f "$BATS_FILE_TMPDIR/$3.exit" ] && break
		sleep 0.1
	done
	echo "$1 never answered $2; the servers' stderr:" >&2
	tail -n 5 "$BATS_FILE_TMPDIR"/*.err >&2
	return 1
}

# serve NAME CODE ARGS...: ml-serve on a free port until /healthz answers and
# /readyz answers CODE; another port when the chosen one was taken meanwhile.
# Sets SERVED_URL.
serve() {
	local name=$1 code=$2 port try
	shift 2
	for try in 1 2 3; do
		port=$(free_port)
		rm -f "$BATS_FILE_TMPDIR/$name.exit"
		start_serve "$name" --listen "127.0.0.1:$port" "$@"
		SERVED_URL=http://127.0.0.1:$port
		wait_for "$SERVED_URL/readyz" "$code" "$name" 2>/dev/null && return 0
		[ -f "$BATS_FILE_TMPDIR/$name.exit" ] && grep -q 'cannot listen' "$BATS_FILE_TMPDIR/$name.err" ||
			break
	done
	wait_for "$SERVED_URL/readyz" "$code" "$name"
}

mlflow_api() { # mlflow_api ENDPOINT JSON: POST to MLflow's REST API, the answer on stdout
	curl -sS --fail-with-body -H 'Content-Type: application/json' --data-binary "$2" \
		"$MLFLOW_TRACKING_URI/api/2.0/mlflow/$1"
}

setup_file() {
	local missing=()
	for tool in node npm chromium; do
		command -v "$tool" >/dev/null || missing+=("$tool")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "browser tests need ${missing[*]}: apt-get install chromium nodejs npm (Node.js 18 or later)" >&2
		return 1
	fi
	# the lockfile's playwright-core, installed when missing or another version: it
	# downloads no browser
	local want have
	want=$(cd "$REPO" && node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')
	have=$(cd "$REPO" && node -p 'require("./node_modules/playwright-core/package.json").version' 2>/dev/null || true)
	if [ "$want" != "$have" ]; then
		(cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error) >&2
	fi
	fresh_db lensflow_test_browser
	export BROWSER_DB_URL=$DATABASE_URL
	local d=$BATS_FILE_TMPDIR
	"$BIN/ml-fetch" --source "$DATA" ratings >"$d/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$d/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$d/test.tsv" <"$d/ratings.tsv" >"$d/train.tsv" 2>/dev/null
	# a small model: the page is under test, not the model
	"$BIN/ml-train" -q --model softmax-mf --dim 16 --epochs 5 --threads 1 --seed 1 <"$d/train.tsv" >"$d/v1.lfe"
	"$BIN/ml-eval" --train "$d/train.tsv" --test "$d/test.tsv" <"$d/v1.lfe" >"$d/metrics.tsv"
	"$BIN/ml-pgload" -q --catalogue --movies "$d/movies.tsv" --ratings "$d/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --run-id run-browser --metrics "$d/metrics.tsv" --switch \
		<"$d/v1.lfe" >/dev/null
	# no registry: the champion is the served set, whatever another suite registered
	MLFLOW_TRACKING_URI='' serve main 200 --threads 4
	export URL=$SERVED_URL
	# the same database, a model of which nothing is served yet (not ready), registered in
	# MLflow with versions 1 and 2, the champion alias on 2
	[ -n "${MLFLOW_TRACKING_URI:-}" ] || {
		echo "no MLflow: run scripts/services up (make test does)" >&2
		return 1
	}
	export EMPTY_MODEL=browser_t$RANDOM$RANDOM
	local exp run_id v
	exp=$(mlflow_api experiments/create "{\"name\": \"$EMPTY_MODEL\"}" | jq -r .experiment_id)
	run_id=$(mlflow_api runs/create "{\"experiment_id\": \"$exp\"}" | jq -r .run.info.run_id)
	mlflow_api registered-models/create "{\"name\": \"$EMPTY_MODEL\"}" >/dev/null
	for v in 1 2; do
		mlflow_api model-versions/create "{\"name\": \"$EMPTY_MODEL\", \"run_id\": \"$run_id\",
			\"source\": \"runs:/$run_id/model\"}" >/dev/null
	done
	mlflow_api registered-models/alias "{\"name\": \"$EMPTY_MODEL\", \"alias\": \"champion\",
		\"version\": \"2\"}" >/dev/null
	serve empty 503 --threads 2 --model-name "$EMPTY_MODEL" --poll 1 \
		--tracking-uri "$MLFLOW_TRACKING_URI"
	export URL_EMPTY=$SERVED_URL
	export SHOT_DIR=$BATS_FILE_TMPDIR/screenshots
}

setup() {
	export DATABASE_URL=$BROWSER_DB_URL
}

teardown_file() {
	stop_serve main
	stop_serve empty
	if [ -d "${SHOT_DIR:-}" ]; then
		mkdir -p "$REPO/test-artifacts/browser"
		cp "$SHOT_DIR"/*.png "$REPO/test-artifacts/browser/"
	fi
}

# scenario NAME [URL]: one scenario of test/browser/run.mjs in chromium
scenario() {
	LENSFLOW_URL=${2:-$URL} run node "$REPO/test/browser/run.mjs" "$1"
	if [ "$status" -ne 0 ]; then
		echo "$output" >&2
		return 1
	fi
}

# headers of PATH (curl args...) into $HDRS, the body into $BODYF, the status in $CODE
get() {
	local path=$1
	shift
	HDRS=$BATS_TEST_TMPDIR/headers BODYF=$BATS_TEST_TMPDIR/body
	rm -f "$HDRS" "$BODYF" # curl writes no file for an answer without a body
	CODE=$(curl -sS -o "$BODYF" -D "$HDRS" -w '%{http_code}' --max-time 10 "$@" "$URL$path")
}
header() { # header NAME: its value in $HDRS
	grep -i "^$1:" "$HDRS" | head -1 | cut -d' ' -f2- | tr -d '\r'
}

@test "the page's files: compiled in, content types, ETag and 304, CSP, nosniff" {
	local f path ctype etag
	for f in index.html:/:text/html app.css:/static/app.css:text/css \
		app.js:/static/app.js:text/javascript icon.svg:/static/icon.svg:image/svg+xml; do
		IFS=: read -r file path ctype <<<"$f"
		get "$path" -H 'Accept: text/html,*/*;q=0.8'
		assert_equal "$CODE" 200
		# the bytes of the repository's file, from the binary itself
		cmp "$BODYF" "$REPO/tools/ml-serve/static/$file"
		[[ $(header Content-Type) == "$ctype"* ]]
		assert_equal "$(header Content-Length)" "$(stat -c %s "$REPO/tools/ml-serve/static/$file")"
		assert_equal "$(header X-Content-Type-Options)" nosniff
		assert_equal "$(header Cache-Control)" no-cache
		etag=$(header ETag)
		assert_equal "$etag" "\"$(sha256sum "$REPO/tools/ml-serve/static/$file" | cut -c1-16)\""
		get "$path" -H 'Accept: text/html' -H "If-None-Match: W/\"0000\", $etag"
		assert_equal "$CODE" 304
		[ ! -s "$BODYF" ]
		assert_equal "$(header ETag)" "$etag"
		get "$path" -H 'Accept: text/html' -H 'If-None-Match: "0123456789abcdef"'
		assert_equal "$CODE" 200
	done
	get / -H 'Accept: text/html'
	assert_equal "$(header Content-Security-Policy)" \
		"default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	assert_equal "$(header Vary)" Accept
	# the policy holds only without inline code: every script and style is a file of its own
	run grep -Ec '<script>|<style|style=|onclick=|javascript:' "$REPO/tools/ml-serve/static/index.html"
	assert_output 0
	# HEAD: the headers, no body (HTTP/1.0: the server closes, so all it sent is read)
	local raw=$BATS_TEST_TMPDIR/head
	exec 5<>"/dev/tcp/127.0.0.1/${URL##*:}"
	printf 'HEAD /static/app.js HTTP/1.0\r\nHost: x\r\n\r\n' >&5
	timeout 10 cat <&5 >"$raw"
	exec 5<&-
	head -1 "$raw" | grep -q '^HTTP/1.[01] 200 '
	grep -qi "^content-length: $(stat -c %s "$REPO/tools/ml-serve/static/app.js")" "$raw"
	# nothing after the blank line that ends the headers
	assert_equal "$(sed -n '/^\r$/,$p' "$raw" | wc -c)" 2
}

@test "/ stays JSON for API clients; unknown files 404 and other methods 405, in JSON" {
	get /
	assert_equal "$CODE" 200
	[[ $(header Content-Type) == application/json* ]]
	jq -e '.endpoints | index("GET /") != null' "$BODYF"
	for accept in 'text/html;q=0, application/json' 'text/html; q=0.0' 'application/json'; do
		get / -H "Accept: $accept"
		[[ $(header Content-Type) == application/json* ]]
	done
	get / -H 'Accept: application/json;q=0.9, TEXT/HTML; level=1; q=0.5'
	[[ $(header Content-Type) == text/html* ]]
	get /static/secret.txt
	assert_equal "$CODE" 404
	assert_equal "$(jq -r .message "$BODYF")" "the page has no file secret.txt"
	get /static/../../etc/passwd --path-as-is
	[ "$CODE" = 404 ] || [ "$CODE" = 400 ]
	! grep -q root: "$BODYF"
	get /static/app.js -X POST
	assert_equal "$CODE" 405
	assert_equal "$(header Allow)" "GET, HEAD"
	assert_equal "$(jq -r .error "$BODYF")" method_not_allowed
	# the page's requests are counted under the route "/", never under a file name
	curl -s "$URL/metrics" | grep -q 'lensflow_http_requests_total{method="GET",route="/",status_class="2xx"}'
	run bash -c "curl -s '$URL/metrics' | grep -c 'route=\"/static'"
	assert_output 0
}

@test "a user from the picker and from the id box: highest-rated movies and recommendations as the API" {
	scenario user
}

@test "/?user=196 opens that user's recommendations; the address follows the user shown" {
	scenario shared
}

@test "keyboard only: Tab order, the picker with arrow keys, the id box with Enter, labelled controls" {
	scenario keyboard
}

@test "an unknown user and a malformed id are said in words" {
	scenario unknown
}

@test "search a title: the movie and its most similar movies as the API" {
	scenario search
}

@test "cold start: stars for three movies give POST /recommendations' answer" {
	scenario coldstart
}

@test "the model panel: serving and champion versions, loaded time, offline metrics, arms" {
	scenario model
}

@test "375 px wide: one column, no sideways scroll, 44 px targets, every panel works" {
	scenario narrow
}

@test "the service not ready: said in words; ready again without a reload, the registry's champion shown" {
	# what the scenario runs once it has seen the page say "not ready"
	export NOTREADY_LOAD="'$BIN/ml-pgload' -q --model-name $EMPTY_MODEL --load 1 --switch \
		<'$BATS_FILE_TMPDIR/v1.lfe' >/dev/null"
	scenario notready "$URL_EMPTY"
}

@test "both servers stop on SIGTERM with exit 0, nothing from a sanitizer on stderr" {
	for name in main empty; do
		stop_serve "$name"
		assert_equal "$STOPPED" 0
		run grep -E 'AddressSanitizer|LeakSanitizer|runtime error' "$BATS_FILE_TMPDIR/$name.err"
		assert_failure
	done
}
