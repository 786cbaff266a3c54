#!/usr/bin/env bats
# Prometheus configs, recording rules and alerts: promtool checks them, promtool's unit tests show
# every alert firing and staying silent, and the tests can fail. Every alert has a runbook entry.
load helpers

PROM=$REPO/prometheus
RUNBOOK=$REPO/docs/monitoring.md

setup_file() {
	command -v promtool >/dev/null || {
		echo "promtool is missing: apt-get install -y prometheus" >&2
		return 1
	}
}

alerts() { awk '$1 == "-" && $2 == "alert:" { print $3 }' "$PROM/rules/alerts.yml"; }

# render_local OUT API RETRAIN PROMETHEUS: the template as scripts/monitor fills it in
render_local() {
	sed -e "s|@SCRAPE_INTERVAL@|5s|g" -e "s|@SCRAPE_TIMEOUT@|5s|g" \
		-e "s|@RULES_DIR@|$PROM/rules|g" -e "s|@API_TARGET@|$2|g" \
		-e "s|@RETRAIN_TARGET@|$3|g" -e "s|@PROMETHEUS_TARGET@|$4|g" \
		"$PROM/prometheus.local.yml.in" >"$1"
}

@test "promtool check config: the Compose config, with both rule files" {
	run promtool check config "$PROM/prometheus.yml"
	assert_success
	assert_output --partial "2 rule files found"
	assert_output --partial "SUCCESS: 9 rules found"
}

@test "promtool check config: the local template once filled in, no placeholder left" {
	cfg=$BATS_TEST_TMPDIR/prometheus.yml
	render_local "$cfg" 127.0.0.1:8123 127.0.0.1:9123 127.0.0.1:9090
	run bash -c "grep -v '^#' '$cfg' | grep -c @"
	assert_output 0
	run promtool check config "$cfg"
	assert_success
	assert_output --partial "2 rule files found"
}

@test "both configs scrape ml-serve as job lensflow-api and the retrain textfile as lensflow-retrain" {
	cfg=$BATS_TEST_TMPDIR/prometheus.yml
	render_local "$cfg" 127.0.0.1:8123 127.0.0.1:9123 127.0.0.1:9090
	for f in "$PROM/prometheus.yml" "$cfg"; do
		run awk '/job_name:/ { j = $3 } $2 == "targets:" { print j, $3 }' "$f"
		assert_line --index 0 --regexp '^lensflow-api \["(api:8000|127\.0\.0\.1:8123)"\]$'
		assert_line --index 1 --regexp '^lensflow-retrain \["(node-exporter:9100|127\.0\.0\.1:9123)"\]$'
	done
	grep -q 'job="lensflow-api"' "$PROM/rules/recording.yml"
	grep -q 'job="lensflow-retrain"' "$PROM/rules/alerts.yml"
}

@test "promtool check rules: recording rules and alerts" {
	run promtool check rules "$PROM/rules/recording.yml" "$PROM/rules/alerts.yml"
	assert_success
	assert_output --partial "SUCCESS: 9 rules found"
}

@test "promtool test rules: every unit test file passes" {
	cd "$PROM/tests"
	run promtool test rules *.yml
	assert_success
	n=$(ls *.yml | wc -l)
	assert_equal "$(grep -c SUCCESS <<<"$output")" "$n"
}

@test "the alerts are the expected set, each with for:, severity, summary, description, runbook_url" {
	assert_equal "$(alerts | sort | tr '\n' ' ')" "LensflowApiDown LensflowChallengerWorse LensflowDatabaseErrors LensflowHighErrorRatio LensflowHighLatencyP99 LensflowNoModelLoaded LensflowNotReady LensflowPopularityDrift LensflowRetrainFailed LensflowRetrainStale LensflowStaleModel "
	run awk '
		$1 == "-" && ($2 == "alert:" || $2 == "record:") { check(); name = ($2 == "alert:") ? $3 : ""; f = s = su = d = r = 0; next }
		name != "" && $1 == "for:" { f = 1 }
		name != "" && $1 == "severity:" && $2 ~ /^(critical|warning)$/ { s = 1 }
		name != "" && $1 == "summary:" { su = 1 }
		name != "" && $1 == "description:" { d = 1 }
		name != "" && $1 == "runbook_url:" { r = ($2 == "\"docs/monitoring.md#" tolower(name) "\"") }
		function check() { if (name != "" && !(f && s && su && d && r)) { print name ": for " f " severity " s " summary " su " description " d " runbook " r; bad = 1 } }
		END { check(); exit bad }' "$PROM/rules/alerts.yml"
	assert_success
}

@test "every alert is unit-tested firing AND staying silent" {
	for a in $(alerts); do
		# firing: an alert_rule_test of this alert whose exp_alerts has entries
		run awk -v a="$a" '
			$1 == "alertname:" { cur = $2; next }
			$1 == "exp_alerts:" { if (cur == a) { if ($2 == "[]") silent = 1; else open = 1 } next }
			open && $1 == "-" && $2 == "exp_labels:" { firing = 1 }
			$1 == "-" && $2 == "eval_time:" { open = 0 }
			END { print (firing ? "firing" : "never-firing"), (silent ? "silent" : "never-silent") }' \
			"$PROM"/tests/*.yml
		assert_output "firing silent"
	done
}

@test "every alert has its runbook section in docs/monitoring.md" {
	for a in $(alerts); do
		grep -qx "### $a" "$RUNBOOK" || fail "docs/monitoring.md has no '### $a' section"
		# the section says what to do: at least one numbered step
		run awk -v h="### $a" '$0 == h { on = 1; next } on && /^##/ { exit } on && /^1\. / { n++ } END { print n + 0 }' "$RUNBOOK"
		[ "$output" -ge 1 ] || fail "the runbook of $a has no steps"
	done
}

@test "the unit tests can fail: a broken threshold or a broken label is caught" {
	cp -r "$PROM/rules" "$PROM/tests" "$BATS_TEST_TMPDIR/"
	cd "$BATS_TEST_TMPDIR/tests"
	# each mutation with the alert it breaks: the unit test files of that alert must catch it
	local alert mutation files
	while IFS='|' read -r alert mutation; do
		sed "$mutation" "$PROM/rules/alerts.yml" >../rules/alerts.yml
		! cmp -s ../rules/alerts.yml "$PROM/rules/alerts.yml" || fail "mutation '$mutation' changed nothing"
		files=$(grep -l "alertname: $alert\$" *.yml) || fail "no unit test names $alert"
		# shellcheck disable=SC2086
		run promtool test rules $files
		assert_failure
		assert_output --partial FAILED
	done <<-'EOF'
	LensflowHighErrorRatio|s/ratio_rate5m > 0.05/ratio_rate5m > 0.5/
	LensflowRetrainStale|s/> 36 \* 3600/> 72 * 3600/
	LensflowRetrainFailed|s/lensflow_retrain_last_exit_code{job="lensflow-retrain"} != 0/lensflow_retrain_last_exit_code{job="lensflow-retrain"} > 100/
	LensflowDatabaseErrors|s/rate(lensflow_db_errors_total{job="lensflow-api"}\[5m\])) > 0.01/rate(lensflow_db_errors_total{job="lensflow-api"}[5m])) > 1/
	LensflowApiDown|s/severity: critical/severity: page/
	EOF
}

@test "every lensflow_ metric the rules and dashboards read is documented in docs/monitoring.md" {
	for m in $(grep -rhoE 'lensflow_[a-z_]+' "$PROM/rules" "$REPO/grafana/dashboards" | sed -E 's/_(bucket|count|sum)$//' | sort -u); do
		case $m in lensflow_http_requests | lensflow_http_errors) continue ;; esac # parts of recording-rule names
		grep -q "\`$m\`" "$RUNBOOK" || fail "$m is not documented in docs/monitoring.md"
	done
}

@test "scripts/monitor: Prometheus with the repo's rules and both targets, in the foreground; TERM stops it all" {
	command -v prometheus >/dev/null || fail "prometheus is missing: apt-get install -y prometheus"
	free() { local p; for _ in $(seq 50); do p=$((20000 + RANDOM % 12000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo $p; return; }; done; }
	pp=$(free) np=$(free) ap=$(free)
	LENSFLOW_HOME=$BATS_TEST_TMPDIR/home PROMETHEUS_PORT=$pp NODE_EXPORTER_PORT=$np \
		LENSFLOW_LISTEN=0.0.0.0:$ap SCRAPE_INTERVAL=1s "$REPO/scripts/monitor" >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	pid=$!
	for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$pp/-/ready" && break; sleep 0.1; done
	run curl -sf "http://127.0.0.1:$pp/api/v1/rules"
	# every rule of the files is loaded
	assert_equal "$(jq '[.data.groups[].rules[]] | length' <<<"$output")" \
		"$(cat "$REPO"/prometheus/rules/*.yml | grep -cE '^ *- (alert|record):')"
	for _ in $(seq 50); do
		run curl -sf "http://127.0.0.1:$pp/api/v1/targets"
		[ "$(jq '.data.activeTargets | length' <<<"$output")" = 3 ] && break
		sleep 0.1
	done
	# 0.0.0.0 (a container's listen address) is scraped on the loopback address
	assert_equal "$(jq -r '[.data.activeTargets[] | "\(.labels.job)=\(.scrapeUrl)"] | sort | join(" ")' <<<"$output")" \
		"lensflow-api=http://127.0.0.1:$ap/metrics lensflow-retrain=http://127.0.0.1:$np/metrics prometheus=http://127.0.0.1:$pp/metrics"
	grep -q "nothing listens on 127.0.0.1:$ap" "$BATS_TEST_TMPDIR/out"
	kill -TERM $pid
	wait $pid
	# nothing left listening
	! (exec 3<>"/dev/tcp/127.0.0.1/$pp") 2>/dev/null
	! (exec 3<>"/dev/tcp/127.0.0.1/$np") 2>/dev/null
	for bad in PROMETHEUS_PORT=99999 SCRAPE_INTERVAL=fast LENSFLOW_LISTEN=nowhere; do
		run env "$bad" LENSFLOW_HOME=$BATS_TEST_TMPDIR/home "$REPO/scripts/monitor"
		assert_failure 64
		assert_output --partial "monitor: "
	done
}
