#!/usr/bin/env bats
# The Compose stack and its Dockerfiles, validated statically: no Docker engine runs here.
# Debian's docker-compose 1.29 renders and checks the file (`config`); the structure is read from
# its normalised output with awk; the Dockerfiles go through a small grep/awk lint of the rules
# that matter (pinned bases, non-root user, no remote ADD, apt lists cleaned, runtime without -dev).
load helpers

COMPOSE_FILE=$REPO/compose/docker-compose.yml
SERVICES="api grafana mlflow node-exporter postgres prometheus retrain trainer"
SECRETS="POSTGRES_PASSWORD GRAFANA_ADMIN_PASSWORD LENSFLOW_ADMIN_TOKEN LENSFLOW_FEEDBACK_TOKEN"

setup_file() {
	if ! command -v docker-compose >/dev/null; then
		echo "docker-compose is missing: apt-get install -y --no-install-recommends docker-compose" \
			"(scripts/deps --test installs it)" >&2
		return 1
	fi
}

# docker-compose config with the given secrets (NAME=value ...), a developer's own compose/.env
# kept out through an empty --env-file.
compose_config() {
	: >"$BATS_TEST_TMPDIR/empty.env"
	env -u POSTGRES_PASSWORD -u GRAFANA_ADMIN_PASSWORD -u LENSFLOW_ADMIN_TOKEN -u LENSFLOW_FEEDBACK_TOKEN "$@" \
		docker-compose --env-file "$BATS_TEST_TMPDIR/empty.env" -f "$COMPOSE_FILE" config
}

rendered() {
	compose_config POSTGRES_PASSWORD=pg-secret GRAFANA_ADMIN_PASSWORD=gf-secret \
		LENSFLOW_ADMIN_TOKEN=tok LENSFLOW_FEEDBACK_TOKEN=ftok >"$BATS_TEST_TMPDIR/config.yml"
}

# The lines of one service's block in the rendered config (keys are 4 spaces in).
service() {
	awk -v s="  $1:" '$0 == s { on = 1; next } on && /^  [^ ]/ { on = 0 } /^[^ ]/ { on = 0 } on' \
		"$BATS_TEST_TMPDIR/config.yml"
}

# One key's sub-block inside a service block: service api | key healthcheck
key() {
	awk -v k="    $1:" 'index($0, k) == 1 { on = 1; print; next } on && /^    [a-z_]/ { on = 0 } on'
}

@test "docker-compose config -q accepts the file when the secrets are set" {
	: >"$BATS_TEST_TMPDIR/empty.env"
	run env POSTGRES_PASSWORD=x GRAFANA_ADMIN_PASSWORD=y LENSFLOW_ADMIN_TOKEN=z LENSFLOW_FEEDBACK_TOKEN=f \
		docker-compose --env-file "$BATS_TEST_TMPDIR/empty.env" -f "$COMPOSE_FILE" config -q
	assert_success
	assert_output ""
}

@test "Compose refuses to start without each secret, naming it and .env.example" {
	for missing in $SECRETS; do
		args=()
		for s in $SECRETS; do [ "$s" = "$missing" ] || args+=("$s=set"); done
		run compose_config "${args[@]}"
		assert_failure
		assert_output --partial "$missing"
		assert_output --partial ".env.example"
	done
}

@test "the stack has exactly the expected services" {
	rendered
	got=$(awk '/^services:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /^  [a-z][a-z-]*:$/ { sub(/:$/, ""); print $1 }' \
		"$BATS_TEST_TMPDIR/config.yml" | sort | tr '\n' ' ')
	assert_equal "$got" "$SERVICES "
}

@test "every published port is bound to 127.0.0.1, and api, mlflow, prometheus, grafana publish one" {
	rendered
	# In the raw file: every entry under ports: starts with "127.0.0.1:".
	run awk '/^    ports:/ { on = 1; next } on && /^      - / { n++; if ($2 !~ /^"127\.0\.0\.1:/) { print "not local: " $0; bad = 1 } next }
		{ on = 0 } END { if (n < 4) { print n " published ports"; bad = 1 } exit bad }' "$COMPOSE_FILE"
	assert_success
	for s in api mlflow prometheus grafana; do
		ports=$(service $s | key ports)
		[ -n "$ports" ] || fail "$s publishes no port"
		run grep -c '^    - 127\.0\.0\.1:' <<<"$ports"
		assert_output 1
	done
	for s in postgres trainer retrain node-exporter; do
		[ -z "$(service $s | key ports)" ] || fail "$s publishes a port"
	done
}

@test "long-running services have healthchecks that probe the right thing" {
	rendered
	for s in postgres mlflow api retrain node-exporter prometheus grafana; do
		run bash -c "$(declare -f service key); BATS_TEST_TMPDIR=$BATS_TEST_TMPDIR service $s | key healthcheck"
		assert_output --partial "test:"
		refute_output --partial "disable: true"
	done
	service postgres | key healthcheck | grep -q pg_isready
	service api | key healthcheck | grep -q 'http://127.0.0.1:8000/readyz'
	service api | key healthcheck | grep -qx -- '      - --fail'
	service mlflow | key healthcheck | grep -q 'http://127.0.0.1:5000/health'
}

@test "start order: mlflow after postgres, trainer after both, api and retrain after the trainer succeeded" {
	rendered
	conditions() { service "$1" | key depends_on | awk '/^      [a-z-]+:$/ { s = $1 } /condition:/ { print s $2 }' | sort | tr '\n' ' '; }
	assert_equal "$(conditions mlflow)" "postgres:service_healthy "
	assert_equal "$(conditions trainer)" "mlflow:service_healthy postgres:service_healthy "
	assert_equal "$(conditions api)" "mlflow:service_healthy postgres:service_healthy trainer:service_completed_successfully "
	assert_equal "$(conditions retrain)" "trainer:service_completed_successfully "
	service trainer | grep -qx '    restart: "no"'
	# the trainer is scripts/retrain itself (lock, log, textfile metrics), waiting rather than exiting 75
	assert_equal "$(service trainer | key command | tr -d ' \n')" "command:-/opt/lensflow/scripts/retrain---wait"
	assert_equal "$(service api | key command | tr -d ' \n')" "command:-ml-serve---listen-0.0.0.0:8000"
}

@test "the tool services share one image built from compose/Dockerfile at the repository root" {
	rendered
	for s in trainer api retrain; do
		block=$(service $s)
		grep -qx '    image: lensflow:local' <<<"$block" || fail "$s: not lensflow:local"
		grep -qx "      context: $REPO" <<<"$block" || fail "$s: build context is not the repo"
		grep -qx '      dockerfile: compose/Dockerfile' <<<"$block" || fail "$s: dockerfile"
	done
	service postgres | grep -qx '    image: pgvector/pgvector:pg17'
	service mlflow | grep -qx '      dockerfile: mlflow.Dockerfile'
	# mlflow: Postgres backend store, proxied artifacts on a volume, allowed hosts for the others
	block=$(service mlflow)
	grep -q -- '- --backend-store-uri=postgresql://lensflow:pg-secret@postgres:5432/mlflow' <<<"$block"
	grep -q -- '- --serve-artifacts' <<<"$block"
	grep -q -- '- --artifacts-destination=/var/lib/mlflow/artifacts' <<<"$block"
	grep -q -- '- mlflow-artifacts:/var/lib/mlflow/artifacts' <<<"$block"
	grep -q -- '- --allowed-hosts=.*mlflow:5000' <<<"$block"
	# the tools reach the services by name, with the secret from the environment
	for s in trainer api retrain; do
		service $s | grep -qx '      DATABASE_URL: postgresql://lensflow:pg-secret@postgres:5432/lensflow'
		service $s | grep -qx '      MLFLOW_TRACKING_URI: http://mlflow:5000'
	done
	service grafana | grep -qx '      GF_SECURITY_ADMIN_PASSWORD: gf-secret'
	service api | grep -qx '      LENSFLOW_ADMIN_TOKEN: tok'
	service api | grep -qx '      LENSFLOW_FEEDBACK_TOKEN: ftok'
}

@test "the retrain textfile reaches Prometheus: shared volume, node-exporter, scrape job" {
	rendered
	service trainer | grep -q -- '- lensflow-state:/var/lib/lensflow:rw'
	service retrain | grep -q -- '- lensflow-state:/var/lib/lensflow:rw'
	service node-exporter | grep -q -- '- lensflow-state:/var/lib/lensflow:ro'
	service node-exporter | grep -q -- '- --collector.textfile.directory=/var/lib/lensflow/metrics'
	grep -q '"node-exporter:9100"' "$REPO/prometheus/prometheus.yml"
	grep -q '"api:8000"' "$REPO/prometheus/prometheus.yml"
}

@test "no literal secret in the compose file; .env.example declares every variable, secrets empty" {
	run awk '/(PASSWORD|TOKEN|SECRET)[A-Z_]*: / && $2 !~ /^\$\{/ { print FILENAME ":" FNR ": " $0; bad = 1 }
		match($0, /:\/\/[^:\/ ]+:[^@ ]+@/) { u = substr($0, RSTART, RLENGTH); if (u !~ /:\$\{/) { print "URL: " $0; bad = 1 } }
		END { exit bad }' "$COMPOSE_FILE"
	assert_success
	example=$REPO/compose/.env.example
	for v in $(grep -oE '\$\{[A-Z_]+' "$COMPOSE_FILE" | cut -c3- | sort -u); do
		grep -q "^$v=" "$example" || fail ".env.example does not declare $v"
	done
	for s in $SECRETS; do
		grep -qx "$s=" "$example" || fail "$s must be empty in .env.example"
	done
	grep -qx 'compose/.env' "$REPO/.gitignore"
}

@test "every file the stack mounts or copies exists" {
	for p in prometheus/prometheus.yml prometheus/rules/alerts.yml grafana/provisioning/datasources \
		grafana/provisioning/dashboards grafana/dashboards compose/initdb compose/mlflow.Dockerfile; do
		[ -e "$REPO/$p" ] || fail "$p is missing"
	done
	# COPY sources of compose/Dockerfile (build context: the repo root), except --from stages
	for src in $(awk '/^COPY / && !/--from/ { for (i = 2; i < NF; i++) print $i }' "$REPO/compose/Dockerfile"); do
		[ -e "$REPO/$src" ] || fail "compose/Dockerfile copies $src, which does not exist"
		# and the .dockerignore beside the Dockerfile lets it through
		grep -qxF "!${src%/}" "$REPO/compose/Dockerfile.dockerignore" ||
			grep -qxF "!${src%/}/" "$REPO/compose/Dockerfile.dockerignore" ||
			fail "compose/Dockerfile.dockerignore excludes $src"
	done
	for f in compose/pipeline compose/retrain-cron scripts/retrain; do
		[ -x "$REPO/$f" ] || fail "$f is not executable"
		bash -n "$REPO/$f"
	done
}

@test "the build stage's context is enough for make tools (a dry run in a copy of exactly what it copies)" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	n=0
	# COPY lines of the build stage (before the runtime FROM), sources relative to the repo root
	for src in $(awk '/^FROM .* AS runtime/ { exit } /^COPY / && !/--from/ { for (i = 2; i < NF; i++) print $i }' "$REPO/compose/Dockerfile"); do
		mkdir -p "$ctx/$(dirname "$src")"
		cp -r "$REPO/$src" "$ctx/$src"
		n=$((n + 1))
	done
	[ "$n" -ge 3 ]
	run make -C "$ctx" -n -B GIT_COMMIT=test tools
	assert_success
	for t in ml-fetch ml-split ml-train ml-eval ml-mlflow-log ml-pgload ml-serve; do
		assert_output --partial "-o bin/$t "
	done
	# and the runtime stage takes the binaries from where make put them
	grep -qx 'COPY --from=build /src/bin/ /usr/local/bin/' "$REPO/compose/Dockerfile"
	grep -qx 'WORKDIR /src' "$REPO/compose/Dockerfile"
}

@test "the cron job of the retrain service: a valid cron.d line that runs scripts/retrain as lensflow" {
	line=$(grep -v '^#' "$REPO/compose/crontab" | grep '@SCHEDULE@')
	sched='17 3 * * *'
	filled=${line//@SCHEDULE@/$sched}
	# cron.d format: five time fields, the user, the command
	run awk '{ print NF >= 7, $6 }' <<<"$filled"
	assert_output "1 lensflow"
	grep -q '/opt/lensflow/scripts/retrain' <<<"$filled"
	grep -q '\. /etc/lensflow/retrain.env' <<<"$filled"
	grep -qx 'SHELL=/bin/bash' "$REPO/compose/crontab"
	# retrain-cron refuses a schedule that is not five cron fields
	for bad in '17 3 * *' '* * * * * rm -rf /' '@daily' '17 3 * * *; id'; do
		run env LENSFLOW_RETRAIN_SCHEDULE="$bad" "$REPO/compose/retrain-cron"
		assert_failure 64
		assert_output --partial "is not five cron fields"
	done
	# the image makes pam_loginuid optional, or Debian's cron runs no job in a container
	grep -qF "sed -i '/pam_loginuid.so/s/^session\\s*required/session optional/' /etc/pam.d/cron" "$REPO/compose/Dockerfile"
}

# --- Dockerfile lint --------------------------------------------------------------------------------
# lint_dockerfile FILE: prints one line per broken rule, fails if any.
lint_dockerfile() {
	awk '
	function problem(m) { print FILENAME ":" FNR ": " m; bad = 1 }
	# join continuation lines into one instruction
	{ line = line $0; if (line ~ /\\$/) { sub(/\\$/, " ", line); next } }
	{ ins = line; line = "" }
	ins ~ /^[ \t]*(#|$)/ { next }
	ins ~ /^ARG / { split(substr(ins, 5), kv, "="); arg[kv[1]] = kv[2] }
	ins ~ /^FROM / {
		img = $2; for (a in arg) gsub("\\$\\{" a "\\}", arg[a], img)
		if (img !~ /:/ || img ~ /:latest$/) problem("base image " img " is not pinned to a tag")
		stages++; user = ""
		runtime = (ins ~ / AS runtime$/ || ins !~ / AS /)
	}
	ins ~ /^ADD / && ins ~ /(https?|ftp):\/\// { problem("ADD of a URL (use a pinned download with a checksum in RUN)") }
	ins ~ /^USER / { user = $2 }
	ins ~ /apt-get install/ {
		if (ins !~ /--no-install-recommends/) problem("apt-get install without --no-install-recommends")
		if (ins !~ /rm -rf \/var\/lib\/apt\/lists/) problem("apt lists not removed in the same RUN")
		if (ins !~ /apt-get update/) problem("apt-get install without apt-get update in the same RUN")
		if (runtime && ins ~ /-dev( |$)/) problem("a -dev package in the runtime image")
	}
	ins ~ /pip install/ && ins !~ /--no-cache-dir/ { problem("pip install without --no-cache-dir") }
	ins ~ /^(RUN|CMD|ENTRYPOINT) .*sudo / { problem("sudo in the image") }
	END {
		if (stages == 0) problem("no FROM")
		if (user == "" || user ~ /^(0|root)(:|$)/) problem("the final stage runs as root (USER " user ")")
		exit bad
	}' "$1"
}

@test "Dockerfile lint: both Dockerfiles pass" {
	run lint_dockerfile "$REPO/compose/Dockerfile"
	assert_success
	run lint_dockerfile "$REPO/compose/mlflow.Dockerfile"
	assert_success
}

@test "Dockerfile lint fails on each broken rule" {
	df=$BATS_TEST_TMPDIR/Dockerfile
	check() { # check SED-EXPR MESSAGE
		sed "$1" "$REPO/compose/Dockerfile" >"$df"
		run lint_dockerfile "$df"
		assert_failure
		assert_output --partial "$2"
	}
	check 's/^USER 10001:10001$/USER root/' "runs as root"
	check '/^USER /d' "runs as root"
	check 's/^ARG DEBIAN_TAG=.*/ARG DEBIAN_TAG=latest/' "is not pinned"
	check 's/^FROM debian:\${DEBIAN_TAG} AS build$/FROM debian AS build/' "is not pinned"
	check '$a ADD https://example.org/x.tar.gz /tmp/' "ADD of a URL"
	check '0,/rm -rf \/var\/lib\/apt\/lists\/\*/s//true/' "apt lists not removed"
	check 's/libpq5 /libpq-dev /' "a -dev package in the runtime image"
	check '0,/--no-install-recommends/s///' "without --no-install-recommends"
}

@test "the runtime image installs the package of every shared library the tools link" {
	run_pkgs=$(awk '/^FROM .* AS runtime/ { on = 1 } on' "$REPO/compose/Dockerfile" |
		awk '{ line = line $0; if (line ~ /\\$/) { sub(/\\$/, " ", line); next } } line ~ /apt-get install/ { print line } { line = "" }' |
		tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | sort -u)
	for p in libpq5 libopenblas0-pthread libcurl4 libjansson4 libcivetweb1 libzip4 zlib1g ca-certificates; do
		grep -qx "$p" <<<"$run_pkgs" || fail "runtime image lacks $p"
	done
	# Every directly linked library of the release tools (what the image builds: bin/, not a
	# sanitizer build) comes from one of those packages (or libc).
	make -s --no-print-directory -C "$REPO" tools >&2
	n=0
	for t in ml-fetch ml-split ml-train ml-eval ml-mlflow-log ml-pgload ml-serve; do
		[ -x "$REPO/bin/$t" ] || fail "bin/$t is not built (make tools): needed to check its libraries"
		while read -r lib; do
			path=$(ldd "$REPO/bin/$t" | awk -v l="$lib" '$1 == l { print $3 }')
			[ -n "$path" ] || fail "$t: $lib does not resolve"
			# dpkg knows a file by the path its package ships (merged /usr: either form)
			real=$(readlink -f "$path")
			pkg=$({ dpkg -S "$path" || dpkg -S "$real" || dpkg -S "${real#/usr}"; } 2>/dev/null | head -n1 | cut -d: -f1)
			case $pkg in libc6 | libgcc-s1) continue ;; esac
			grep -qx "$pkg" <<<"$run_pkgs" || fail "$t links $lib from $pkg, not installed in the runtime image"
			n=$((n + 1))
		done < <(objdump -p "$REPO/bin/$t" | awk '$1 == "NEEDED" { print $2 }')
	done
	[ "$n" -ge 7 ] || fail "only $n libraries checked"
}

@test "retrain-cron saves the environment for the job so that it sources back unchanged, and installs the line" {
	[ "$(id -u)" = 0 ] || fail "needs root (chgrp, install -o), as in the container"
	etc=$BATS_TEST_TMPDIR/etc home=$BATS_TEST_TMPDIR/home
	pw='p@ss w0rd$HOME'"'"'"`x`'
	run env -i PATH="$PATH" RETRAIN_CRON_ETC="$etc" RETRAIN_CRON_BIN=true \
		RETRAIN_CRON_USER="$(id -un)" RETRAIN_CRON_GROUP="$(id -gn)" LENSFLOW_HOME="$home" \
		LENSFLOW_RETRAIN_SCHEDULE='*/15 2-4 * * 1,3' \
		DATABASE_URL="postgresql://lensflow:$pw@postgres:5432/lensflow" MLFLOW_TRACKING_URI=http://mlflow:5000 \
		LENSFLOW_DATA_URL= TRAIN_FLAGS='--dim 8 --epochs 2' UNRELATED_SECRET=nope \
		"$REPO/compose/retrain-cron"
	assert_success
	assert_output --partial "scripts/retrain at '*/15 2-4 * * 1,3'"
	# readable by owner and group only
	assert_equal "$(stat -c %a "$etc/lensflow/retrain.env")" 640
	# sourced in an empty environment, as cron runs the job
	run env -i bash -c ". '$etc/lensflow/retrain.env' && printf '[%s]\n' \"\$DATABASE_URL\" \"\$TRAIN_FLAGS\" \"\${LENSFLOW_DATA_URL-unset}\" \"\${UNRELATED_SECRET-unset}\" \"\$LENSFLOW_HOME\""
	assert_success
	assert_line --index 0 "[postgresql://lensflow:$pw@postgres:5432/lensflow]"
	assert_line --index 1 "[--dim 8 --epochs 2]"
	assert_line --index 2 "[]"
	assert_line --index 3 "[unset]"
	assert_line --index 4 "[$home]"
	run grep -v '^#' "$etc/cron.d/lensflow-retrain"
	assert_line --partial '*/15 2-4 * * 1,3 lensflow . /etc/lensflow/retrain.env && /opt/lensflow/scripts/retrain'
	[ -d "$home/logs" ] && [ -d "$home/metrics" ]
}
