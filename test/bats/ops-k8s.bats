#!/usr/bin/env bats
# k8s/: the kustomize base and overlays, validated offline (no cluster runs here) by
# scripts/k8s-check (`make k8s-check`): the real manifests pass every step, and a copy broken for
# each step fails that step. The contract of the issue (probes, non-root, read-only root, -ro for
# reads, Forbid, 3 instances with pgvector, secrets referenced only, rules and dashboards from
# prometheus/ and grafana/) is read from the rendered overlays with PyPI's yaml, not with the
# scripts under test.
load helpers

VENV_K8S=${VENV_K8S:-$REPO/.venv-k8s}

setup_file() {
	if [ ! -x "$VENV_K8S/bin/checkov" ]; then
		echo "the manifest validators are missing: run scripts/deps --k8s (make test does)" >&2
		return 1
	fi
	local o
	for o in dev prod; do
		"$VENV_K8S/bin/kubectl" kustomize "$REPO/k8s/overlays/$o" >"$BATS_FILE_TMPDIR/$o.yaml"
	done
}

# A copy of k8s/ to break: broken_copy; then edit $TMP/k8s/...
broken_copy() {
	cp -r "$REPO/k8s" "$TMP/k8s"
}

# python with PyYAML over the rendered overlay: py OVERLAY 'code using docs' [ARG...]
# (the overlay's file is sys.argv[1], the ARGs follow)
py() {
	local overlay=$1 code=$2
	shift 2
	"$VENV_K8S/bin/python" -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
def one(kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]
'"$code" "$BATS_FILE_TMPDIR/$overlay.yaml" "$@"
}

@test "k8s-check passes on the repository's manifests, every step of it" {
	run "$REPO/scripts/k8s-check"
	assert_success
	for step in sync yamllint "render: overlays/dev" "render: overlays/prod" \
		"validate: overlays/prod against Kubernetes 1.30.0 (--strict)" "crds: overlays/prod" \
		"checkov: overlays/prod" "checkov: overlays/dev"; do
		assert_output --partial "ok   $step"
	done
	assert_output --partial "crds: overlays/prod: Cluster PodMonitor PrometheusRule ServiceMonitor"
	refute_output --partial FAIL
}

@test "k8s-check fails when the PrometheusRule is not what prometheus/rules gives" {
	broken_copy
	sed -i 's/for: 1m/for: 2m/' "$TMP/k8s/base/monitoring/prometheusrule.yaml"
	K8S_CHECK_ONLY=sync run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "FAIL sync"
	assert_output --partial "prometheusrule.yaml differs from prometheus/rules"
}

@test "k8s-check fails when a dashboard copy is stale" {
	broken_copy
	echo ' ' >>"$TMP/k8s/base/monitoring/dashboards/lensflow-service.json"
	K8S_CHECK_ONLY=sync run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "dashboards differs from grafana/dashboards"
}

@test "k8s-check fails on a yamllint error (a duplicated key)" {
	broken_copy
	sed -i 's/^  replicas: 2$/  replicas: 2\n  replicas: 3/' "$TMP/k8s/base/ml-serve/deployment.yaml"
	grep -c 'replicas:' "$TMP/k8s/base/ml-serve/deployment.yaml" | grep -qx 2
	K8S_CHECK_ONLY=yamllint run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "key-duplicates"
	assert_output --partial "FAIL yamllint"
}

@test "k8s-check fails when an overlay does not render (a missing resource)" {
	broken_copy
	rm "$TMP/k8s/base/ml-serve/pdb.yaml"
	K8S_CHECK_ONLY=render run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "FAIL render: kubectl kustomize overlays/dev"
	assert_output --partial "FAIL render: kubectl kustomize overlays/prod"
}

@test "k8s-check fails on a field Kubernetes does not have (--strict)" {
	broken_copy
	sed -i 's/^  revisionHistoryLimit: 5$/  revisionHistoryLimits: 5/' "$TMP/k8s/base/ml-serve/deployment.yaml"
	grep -q revisionHistoryLimits "$TMP/k8s/base/ml-serve/deployment.yaml"
	K8S_CHECK_ONLY=validate run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "revisionHistoryLimits"
	assert_output --partial "FAIL validate: overlays/prod"
}

@test "k8s-check fails on a wrong type for Kubernetes (a port as a word)" {
	broken_copy
	sed -i 's/containerPort: 8000/containerPort: eight-thousand/' "$TMP/k8s/base/ml-serve/deployment.yaml"
	K8S_CHECK_ONLY=validate run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "FAIL validate: overlays/dev"
}

@test "k8s-check fails on a CloudNativePG field its schema does not have, and on a bad value" {
	broken_copy
	sed -i 's/^  instances: 3$/  instance: 3/' "$TMP/k8s/base/postgres/cluster.yaml"
	K8S_CHECK_ONLY=crds run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "Cluster lensflow-db"
	assert_output --partial "'instance' was unexpected"
	assert_output --partial "FAIL crds: overlays/prod"
	rm -rf "$TMP/k8s" && broken_copy
	sed -i 's/primaryUpdateStrategy: unsupervised/primaryUpdateStrategy: sometimes/' \
		"$TMP/k8s/base/postgres/cluster.yaml"
	K8S_CHECK_ONLY=crds run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "'sometimes' is not one of"
}

@test "k8s-check fails on a Prometheus Operator object that breaks its schema" {
	broken_copy
	sed -i 's/interval: 15s/interval: often/' "$TMP/k8s/base/monitoring/servicemonitor.yaml"
	K8S_CHECK_ONLY=crds run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "ServiceMonitor lensflow-api: spec/endpoints/0/interval"
}

@test "k8s-check fails on a custom kind it has no schema for" {
	broken_copy
	cat >"$TMP/k8s/base/pooler.yaml" <<-'YAML'
	apiVersion: postgresql.cnpg.io/v1
	kind: Pooler
	metadata:
	  name: lensflow-db-pooler
	spec:
	  cluster:
	    name: lensflow-db
	YAML
	sed -i 's|^  - network/networkpolicies.yaml$|&\n  - pooler.yaml|' "$TMP/k8s/base/kustomization.yaml"
	K8S_CHECK_ONLY=crds run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "Pooler lensflow-db-pooler (postgresql.cnpg.io/v1): no schema"
}

@test "k8s-check fails on checkov's findings (a root filesystem made writable)" {
	broken_copy
	sed -i 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
		"$TMP/k8s/base/ml-serve/deployment.yaml"
	K8S_CHECK_ONLY=checkov run "$REPO/scripts/k8s-check" "$TMP/k8s"
	assert_failure 1
	assert_output --partial "CKV_K8S_22"
	assert_output --partial "FAIL checkov: overlays/prod"
}

@test "every check checkov skips has its reason written above it" {
	run "$VENV_K8S/bin/python" -c '
import sys, yaml
path = sys.argv[1]
skips = yaml.safe_load(open(path))["skip-check"]
lines = open(path).read().splitlines()
for s in skips:
    i = lines.index("  - " + s)
    assert lines[i - 1].lstrip().startswith("#") and s in "\n".join(lines[:i]).split("skip-check:")[1], s
print(len(skips))
' "$REPO/k8s/checkov.yaml"
	assert_success
	[ "$output" -ge 1 ]
}

@test "the PrometheusRule holds exactly the groups of prometheus/rules, in order" {
	# the committed file exactly; the rendered overlay up to whitespace in expressions (PromQL
	# ignores it, and kustomize re-folds a folded scalar's more-indented lines)
	run py prod '
import glob, re
want = []
for f in sorted(glob.glob(sys.argv[2] + "/prometheus/rules/*.yml")):
    want += yaml.safe_load(open(f))["groups"]
committed = yaml.safe_load(open(sys.argv[2] + "/k8s/base/monitoring/prometheusrule.yaml"))
assert committed["spec"]["groups"] == want, "the committed PrometheusRule differs"
def norm(groups):
    return [dict(g, rules=[dict(r, expr=" ".join(r["expr"].split())) for r in g["rules"]])
            for g in groups]
got = one("PrometheusRule", "lensflow")["spec"]["groups"]
assert norm(got) == norm(want), "the rendered PrometheusRule differs"
print(len(got), sum(len(g["rules"]) for g in got))
' "$REPO"
	assert_success
	[ "${lines[0]%% *}" -ge 3 ]
}

@test "the dashboards ConfigMap holds each grafana/dashboards file as it is" {
	run py prod '
import glob, os
cm = one("ConfigMap", "lensflow-grafana-dashboards")
files = sorted(glob.glob(sys.argv[2] + "/grafana/dashboards/*.json"))
assert sorted(cm["data"]) == [os.path.basename(f) for f in files], sorted(cm["data"])
for f in files:
    assert cm["data"][os.path.basename(f)] == open(f).read(), f
assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
print(len(files))
' "$REPO"
	assert_success
}

@test "ml-serve: probes, resources, non-root, read-only root, reads from -ro and writes to -rw" {
	for o in dev prod; do
		run py $o '
d = one("Deployment", "ml-serve")
spec = d["spec"]["template"]["spec"]
c = spec["containers"][0]
assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
assert spec["securityContext"]["runAsNonRoot"] is True
assert c["securityContext"]["readOnlyRootFilesystem"] is True
assert c["securityContext"]["allowPrivilegeEscalation"] is False
env = {e["name"]: e for e in c["env"]}
print(env["DATABASE_URL"]["value"])
print(env["FEEDBACK_DB_URL"]["value"])
assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "lensflow-db-app"
# the tokens: secrets referenced, optional (admin and POST /feedback answer 401 without them)
for name, secret in (("LENSFLOW_ADMIN_TOKEN", "lensflow-admin"), ("LENSFLOW_FEEDBACK_TOKEN", "lensflow-feedback")):
    ref = env[name]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"], ref["optional"]) == (secret, "token", True), (name, ref)
assert "--feedback-db=$(FEEDBACK_DB_URL)" in c["args"], c["args"]
for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
    assert [x for x in docs if x["kind"] == kind and "ml-serve" in str(x["spec"])], kind
'
		assert_success
		assert_line --index 1 --partial "@lensflow-db-rw:5432/"
	done
	# prod reads from the standbys, the primary only while none answers; dev (one instance)
	# from the primary
	run py prod 'print([e["value"] for e in one("Deployment", "ml-serve")["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "DATABASE_URL"][0])'
	assert_output "postgresql://lensflow@lensflow-db-ro:5432,lensflow-db-rw:5432/lensflow?target_session_attrs=prefer-standby&sslmode=require"
	run py dev 'print([e["value"] for e in one("Deployment", "ml-serve")["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "DATABASE_URL"][0])'
	assert_output "postgresql://lensflow@lensflow-db-rw:5432/lensflow?sslmode=require"
}

@test "retraining: a Forbid CronJob with ml-serve's image, writing to -rw" {
	run py prod '
cj = one("CronJob", "lensflow-retrain")
assert cj["spec"]["concurrencyPolicy"] == "Forbid"
c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
serve = one("Deployment", "ml-serve")["spec"]["template"]["spec"]["containers"][0]
assert c["image"] == serve["image"], (c["image"], serve["image"])
env = {e["name"]: e.get("value") for e in c["env"]}
assert "@lensflow-db-rw:" in env["DATABASE_URL"]
print(c["image"])
'
	assert_success
	assert_output "registry.example.com/lensflow:0.1.0"
	# the image is the one Compose builds: compose/Dockerfile holds scripts/retrain
	grep -q 'COPY scripts/retrain /opt/lensflow/scripts/retrain' "$REPO/compose/Dockerfile"
}

@test "MLflow, PostgreSQL and the secrets: Postgres store, artifacts on a PVC, 3 instances with pgvector, no secret values" {
	run py prod '
m = one("Deployment", "mlflow")["spec"]["template"]["spec"]
args = " ".join(m["containers"][0]["args"])
assert "--backend-store-uri=postgresql://" in args
vols = {v["name"]: v for v in m["volumes"]}
assert vols["artifacts"]["persistentVolumeClaim"]["claimName"] == "mlflow-artifacts"
one("PersistentVolumeClaim", "mlflow-artifacts")
one("Service", "mlflow")
cl = one("Cluster", "lensflow-db")["spec"]
assert cl["instances"] == 3
assert "standard" in cl["imageName"]
assert "CREATE EXTENSION IF NOT EXISTS vector" in cl["bootstrap"]["initdb"]["postInitApplicationSQL"]
assert not [d for d in docs if d["kind"] == "Secret"]
text = open(sys.argv[1]).read()
assert "password:" not in text.replace("key: password", "")
assert len([d for d in docs if d["kind"] == "NetworkPolicy"]) >= 4
print("ok")
'
	assert_success
	assert_output ok
}
