#!/usr/bin/env bats
# Both Grafana dashboards against real data: Debian's Prometheus, with the repo's rules, scrapes a
# real ml-serve (serving a model the real tools trained and loaded) under a short mixed load, and
# node-exporter's textfile collector over the metrics scripts/retrain wrote. Then every target
# expression of every panel is evaluated through Prometheus' HTTP API and must return data.
load helpers

DASHBOARDS=$REPO/grafana/dashboards

# free_port: a TCP port nothing listens on at 127.0.0.1
# wait_http URL SECONDS: until URL answers 2xx
wait_http() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		curl -sf -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	echo "no answer from $1 after $2 s" >&2
	return 1
}

# promq EXPR: Prometheus' answer (JSON) to an instant query
promq() { curl -sf --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1"; }

setup_file() {
	for t in prometheus prometheus-node-exporter promtool curl jq; do
		command -v "$t" >/dev/null || { echo "$t is missing: apt-get install -y prometheus prometheus-node-exporter curl jq" >&2; return 1; }
	done
	for t in ml-fetch ml-split ml-train ml-eval ml-pgload ml-serve; do
		[ -x "$BIN/$t" ] || { echo "$BIN/$t is not built: make $t" >&2; return 1; }
	done
	fresh_db ops_grafana
	W=$BATS_FILE_TMPDIR
	export W

	# A model trained, evaluated and loaded by the real tools (small and quick: 8 dims, 2 epochs).
	"$BIN/ml-fetch" --source "$DATA" ratings >"$W/ratings.tsv" 2>/dev/null
	"$BIN/ml-fetch" --source "$DATA" movies >"$W/movies.tsv" 2>/dev/null
	"$BIN/ml-split" --test "$W/test.tsv" <"$W/ratings.tsv" >"$W/train.tsv" 2>/dev/null
	"$BIN/ml-train" --model softmax-mf --dim 8 --epochs 2 --rating-sweeps 20 --rating-burn-in 5 <"$W/train.tsv" >"$W/model.lfe" 2>/dev/null
	"$BIN/ml-eval" --train "$W/train.tsv" --test "$W/test.tsv" <"$W/model.lfe" >"$W/metrics.tsv"
	"$BIN/ml-pgload" -q --catalogue --movies "$W/movies.tsv" --ratings "$W/ratings.tsv" >/dev/null
	"$BIN/ml-pgload" -q --load 1 --run-id ops-grafana --metrics "$W/metrics.tsv" --switch <"$W/model.lfe" >/dev/null

	# The retrain textfile, written by scripts/retrain after a real (failing: no dataset) chain.
	export LENSFLOW_HOME=$W/home
	LENSFLOW_PIPELINE="PATH=$BIN:\$PATH $REPO/compose/pipeline" LENSFLOW_DATA_URL=$W/no-such-dir \
		MLFLOW_TRACKING_URI=http://127.0.0.1:9 "$REPO/scripts/retrain" 2>"$W/retrain.err" && {
		echo "scripts/retrain succeeded without a dataset" >&2
		return 1
	}
	[ -s "$LENSFLOW_HOME/metrics/retrain.prom" ] || { echo "no retrain.prom" >&2; return 1; }

	API_PORT=$(free_port) NODE_PORT=$(free_port) PROM_PORT=$(free_port)
	export API_PORT NODE_PORT PROM_PORT
	LENSFLOW_ADMIN_TOKEN=ops-grafana "$BIN/ml-serve" --listen "127.0.0.1:$API_PORT" --threads 2 --poll 1 \
		--access-log "$W/access.log" >"$W/serve.log" 2>&1 3>&- &
	echo $! >"$W/serve.pid"
	prometheus-node-exporter --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$LENSFLOW_HOME/metrics" \
		--web.listen-address="127.0.0.1:$NODE_PORT" >"$W/node.log" 2>&1 3>&- &
	echo $! >"$W/node.pid"
	sed -e "s|@SCRAPE_INTERVAL@|1s|g" -e "s|@SCRAPE_TIMEOUT@|1s|g" \
		-e "s|@RULES_DIR@|$REPO/prometheus/rules|g" -e "s|@API_TARGET@|127.0.0.1:$API_PORT|g" \
		-e "s|@RETRAIN_TARGET@|127.0.0.1:$NODE_PORT|g" -e "s|@PROMETHEUS_TARGET@|127.0.0.1:$PROM_PORT|g" \
		"$REPO/prometheus/prometheus.local.yml.in" >"$W/prometheus.yml"
	prometheus --config.file="$W/prometheus.yml" --storage.tsdb.path="$W/tsdb" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$W/prom.log" 2>&1 3>&- &
	echo $! >"$W/prom.pid"

	wait_http "http://127.0.0.1:$API_PORT/readyz" 20
	wait_http "http://127.0.0.1:$NODE_PORT/metrics" 10
	wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 20
	# the load starts once both targets have been scraped: rates need samples from before it
	for _ in $(seq 100); do
		[ "$(promq 'sum(up{job=~"lensflow-api|lensflow-retrain"})' | jq -r '.data.result[0].value[1] // 0')" = 2 ] && break
		sleep 0.1
	done

	# Load, about 4 s: every route, with 404s and 422s among them; fold-ins for the inference panel.
	api=http://127.0.0.1:$API_PORT
	end=$((SECONDS + 4))
	while [ $SECONDS -lt $end ]; do
		u=$((1 + RANDOM % 943))
		# one connection for all (keep-alive); -o for each URL
		curl -s --max-time 5 -o /dev/null "$api/recommendations/$u?k=10" -o /dev/null "$api/recommendations/99999" \
			-o /dev/null "$api/recommendations/$u?k=0" -o /dev/null "$api/movies/$((1 + RANDOM % 1682))/similar?k=5" \
			-o /dev/null "$api/movies/search?q=star" -o /dev/null "$api/model" -o /dev/null "$api/healthz" \
			-o /dev/null "$api/readyz" -o /dev/null "$api/no/such/route"
		curl -s -o /dev/null --max-time 5 -H 'Content-Type: application/json' \
			-d '{"ratings": [{"movie_id": 50, "rating": 5}, {"movie_id": 181, "rating": 4}], "k": 5}' \
			"$api/recommendations"
	done
	# at least 2 scrapes of ml-serve after the load, and a rule evaluation on them
	scrapes() { promq 'count_over_time(up{job="lensflow-api"}[5m])' | jq -r '.data.result[0].value[1] // 0'; }
	before=$(scrapes)
	for _ in $(seq 100); do
		[ "$(scrapes)" -ge $((before + 3)) ] && break
		sleep 0.1
	done
	echo "$before" >"$W/scrapes-before"
}

teardown_file() {
	for p in prom node serve; do
		[ -f "$W/$p.pid" ] && kill "$(cat "$W/$p.pid")" 2>/dev/null
	done
	for p in prom node serve; do
		[ -f "$W/$p.pid" ] && while kill -0 "$(cat "$W/$p.pid")" 2>/dev/null; do sleep 0.1; done
	done
	true
}

@test "Prometheus scraped both targets and evaluated the rules" {
	run promq 'sum(up{job=~"lensflow-api|lensflow-retrain"})'
	assert_success
	assert_equal "$(jq -r '.data.result[0].value[1]' <<<"$output")" 2
	run promq 'count_over_time(up{job="lensflow-api"}[5m])'
	[ "$(jq -r '.data.result[0].value[1]' <<<"$output")" -ge $(($(cat "$W/scrapes-before") + 2)) ]
	run promq 'sum(job_route:lensflow_http_requests:rate1m)'
	jq -e '.data.result[0].value[1] | tonumber > 0' <<<"$output"
	# the load had 404s and 422s, and no 5xx (but /readyz's 503 while ml-serve was loading)
	run promq 'sum by (route, status_class) (lensflow_http_requests_total{job="lensflow-api", route!="/readyz"})'
	echo "$output" | jq -c '.data.result[] | [.metric.route, .metric.status_class, .value[1]]'
	jq -e '[.data.result[] | .metric.status_class] | index("4xx") != null and index("2xx") != null and index("5xx") == null' <<<"$output" ||
		{ tail -n 20 "$W/serve.log"; false; }
}

@test "ml-serve's /metrics passes promtool check metrics; the retrain alerts are pending on real data" {
	curl -sf "http://127.0.0.1:$API_PORT/metrics" >"$BATS_TEST_TMPDIR/metrics.txt"
	run promtool check metrics <"$BATS_TEST_TMPDIR/metrics.txt"
	assert_success
	assert_output ""
	# the failed retrain (exit code != 0, never succeeded): both alerts pending (for: 1m and 30m),
	# while the API alerts stay quiet: it is up, ready and serving
	for _ in $(seq 50); do
		run curl -sf "http://127.0.0.1:$PROM_PORT/api/v1/alerts"
		[ "$(jq '[.data.alerts[] | select(.labels.alertname | startswith("LensflowRetrain"))] | length' <<<"$output")" = 2 ] && break
		sleep 0.1
	done
	assert_equal "$(jq -r '[.data.alerts[] | "\(.labels.alertname)=\(.state)"] | sort | join(" ")' <<<"$output")" \
		"LensflowRetrainFailed=pending LensflowRetrainStale=pending"
}

# every_panel_has_data FILE: evaluates each target of each panel; prints the ones without data
every_panel_has_data() {
	local n=0 bad=0 title expr q answer
	while IFS=$'\t' read -r title expr; do
		# Grafana's variables: the route selector at "All" (its allValue), the rate interval as
		# Grafana derives it for a 1 s scrape (at least 4 scrapes) made generous.
		q=${expr//\$route/.*}
		q=${q//\$__rate_interval/30s}
		answer=$(promq "$q") || { echo "query failed: $title: $q"; bad=1; continue; }
		if ! jq -e '.status == "success" and (.data.result | length) > 0' <<<"$answer" >/dev/null; then
			echo "no data: $title: $q"
			bad=1
		fi
		n=$((n + 1))
	done < <(jq -r '.panels[] | .title as $t | .targets[] | [$t, .expr] | @tsv' "$1")
	echo "$n queries"
	[ "$n" -gt 10 ] && [ "$bad" = 0 ]
}

@test "every query of the service dashboard returns data" {
	run every_panel_has_data "$DASHBOARDS/lensflow-service.json"
	assert_success
}

@test "every query of the model dashboard returns data (offline metrics, reloads, retrain outcome)" {
	run every_panel_has_data "$DASHBOARDS/lensflow-model.json"
	assert_success
	# the values are the real ones: the offline NDCG@10 that ml-eval computed, the retrain's exit code
	ndcg=$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$W/metrics.tsv")
	run promq 'max(lensflow_model_offline_metric{job="lensflow-api", metric="ndcg@10"})'
	jq -e --arg v "$ndcg" '(.data.result[0].value[1] | tonumber) - ($v | tonumber) | fabs < 1e-6' <<<"$output"
	run promq 'max(lensflow_retrain_last_exit_code{job="lensflow-retrain"})'
	jq -e '.data.result[0].value[1] | tonumber > 0' <<<"$output"
	run promq 'max(lensflow_retrain_last_success_timestamp_seconds{job="lensflow-retrain"})'
	assert_equal "$(jq -r '.data.result[0].value[1]' <<<"$output")" 0
}

@test "the checker can fail: a query on a metric nobody exports has no data" {
	jq '.panels[0].targets[0].expr = "max(lensflow_no_such_metric{job=\"lensflow-api\"})"' \
		"$DASHBOARDS/lensflow-service.json" >"$BATS_TEST_TMPDIR/broken.json"
	run every_panel_has_data "$BATS_TEST_TMPDIR/broken.json"
	assert_failure
	assert_output --partial "no data: Readiness"
}

@test "dashboards: valid JSON, unique uids and panel ids, every datasource is the provisioned uid" {
	uid=$(awk '$1 == "uid:" { print $2 }' "$REPO/grafana/provisioning/datasources/prometheus.yml")
	assert_equal "$uid" prometheus
	assert_equal "$(jq -r .uid "$DASHBOARDS"/*.json | sort -u | wc -l)" 2
	for f in "$DASHBOARDS"/*.json; do
		jq -e '[.panels[].id] | length == (unique | length)' "$f"
		run jq -r '[.. | objects | select(has("datasource")) | .datasource | objects | select(.type == "prometheus") | .uid] | unique | join(",")' "$f"
		assert_output "$uid"
		# every panel has at least one target with an expression
		jq -e 'all(.panels[]; (.targets | length) > 0 and all(.targets[]; (.expr | length) > 0))' "$f"
	done
	# the provider loads the folder Compose mounts the dashboards in
	grep -q 'path: /etc/grafana/dashboards' "$REPO/grafana/provisioning/dashboards/lensflow.yml"
	grep -q -- '- ../grafana/dashboards:/etc/grafana/dashboards:ro' "$REPO/compose/docker-compose.yml"
}
