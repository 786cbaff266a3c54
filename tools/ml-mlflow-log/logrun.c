/*
 * logrun.c — log mode of ml-mlflow-log: one MLflow run from local files.
 *
 * Order, so that nothing is ever half-registered:
 *   1. read and check every input (metrics, params, losses, model, artifacts)
 *      — a bad file fails here, before MLflow has seen anything;
 *   2. experiment (get-by-name, else create), runs/create with the tags
 *      (MLflow's mlflow.source.name/type/git.commit among them) and the
 *      training's start time (--started), then runs/log-inputs with the
 *      dataset (--dataset-name), so the run page shows both;
 *   3. log-batch: params, final metrics (step 0), per-step losses;
 *   4. artifacts through the proxy: metrics.tsv, model/model.lfe, --artifact…;
 *   5. only then the registered model and its version (source = the run's
 *      model/ folder, run_id set), and runs/update FINISHED.
 * A failure after step 2 marks the run FAILED (best effort) and, when the
 * version was already created, deletes it again.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inputs.h"
#include "lfe.h"
#include "mlog.h"
#include "tsv.h"
#include "util.h"

#define MODEL_ARTIFACT "model/model.lfe"
#define METRICS_ARTIFACT "metrics.tsv"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The ratings TSV's columns as MLflow's ColSpec schema (what its own
 * dataset classes log), so the UI shows them. */
static const char ratings_schema[] =
	"{\"mlflow_colspec\": [{\"type\": \"integer\", \"name\": \"user_id\", \"required\": true}, "
	"{\"type\": \"integer\", \"name\": \"movie_id\", \"required\": true}, "
	"{\"type\": \"float\", \"name\": \"rating\", \"required\": true}, "
	"{\"type\": \"long\", \"name\": \"timestamp\", \"required\": true}]}";

/* Everything read from disk and stdin, checked. */
typedef struct run_inputs {
	unsigned char *metrics_buf;
	size_t metrics_len;
	metric_set metrics;
	unsigned char *model_buf;
	size_t model_len;
	kvlist params, tags;
	steplist steps; /* losses, then the final metrics at step 0 */
	int64_t start_ms;
	char digest[33];       /* the dataset's: the first 32 hex digits of its SHA-256 */
	char *ds_source;       /* JSON of the dataset's source */
	char *ds_profile;      /* JSON, or NULL */
	const char *ds_type;   /* "http" or "local" */
} run_inputs;

static void inputs_free(run_inputs *in)
{
	free(in->metrics_buf);
	metrics_free(&in->metrics);
	free(in->model_buf);
	kvlist_free(&in->params);
	kvlist_free(&in->tags);
	steplist_free(&in->steps);
	free(in->ds_source);
	free(in->ds_profile);
}

/* --started, --dataset-*, and MLflow's own source tags. */
static int read_run_context(const mlog_opts *o, run_inputs *r, lf_error *err)
{
	r->start_ms = now_ms();
	if (o->started) {
		double s;
		if (parse_double(o->started, 1, (double)r->start_ms / 1000.0 + 60, &s) != 0)
			return lf_fail(err, EX_USAGE,
				       "--started '%s': expected unix seconds, not in the future",
				       o->started);
		r->start_ms = (int64_t)(s * 1000);
	}
	const char *name = o->source_name ? o->source_name : "ml-mlflow-log";
	if ((!kvlist_get(&r->tags, "mlflow.source.name") &&
	     kvlist_put(&r->tags, "mlflow.source.name", name, MLFLOW_TAG_VALUE_MAX, 0,
			"--source-name", err) != 0) ||
	    (!kvlist_get(&r->tags, "mlflow.source.type") &&
	     kvlist_put(&r->tags, "mlflow.source.type", "LOCAL", 16, 0, "tag", err) != 0))
		return -1;
	if (!o->dataset_name)
		return 0;
	if (!o->dataset_sha256)
		return lf_fail(err, EX_USAGE, "--dataset-name needs --dataset-sha256 (its digest)");
	if (!*o->dataset_name || strlen(o->dataset_name) > 250 ||
	    !utf8_valid(o->dataset_name, strlen(o->dataset_name)))
		return lf_fail(err, EX_USAGE, "--dataset-name: 1 to 250 characters of UTF-8");
	memcpy(r->digest, o->dataset_sha256, 32);
	r->digest[32] = '\0';
	const char *src = o->dataset_source ? o->dataset_source : o->dataset_name;
	int http = strncmp(src, "http://", 7) == 0 || strncmp(src, "https://", 8) == 0;
	r->ds_type = http ? "http" : "local";
	json_t *j = json_pack("{s:s}", http ? "url" : "uri", src);
	r->ds_source = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->ds_source)
		return lf_fail(err, EX_USAGE, "--dataset-source: not valid UTF-8");
	if (o->dataset_rows) {
		int64_t n;
		if (parse_i64(o->dataset_rows, 0, INT64_MAX, &n) != 0)
			return lf_fail(err, EX_USAGE, "--dataset-rows '%s': not a count",
				       o->dataset_rows);
		if (asprintf(&r->ds_profile, "{\"num_rows\": %lld}", (long long)n) < 0)
			return lf_fail(err, EX_OSERR, "out of memory");
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int is_hex(const char *s, size_t min, size_t max)
{
	size_t n = strlen(s);
	return n >= min && n <= max && strspn(s, "0123456789abcdefABCDEF") == n;
}

static int read_inputs(const mlog_opts *o, FILE *in, const char *in_name, run_inputs *r,
		       lf_error *err)
{
	int64_t ts = now_ms();
	if (read_all(in, in_name, INPUT_FILE_MAX, &r->metrics_buf, &r->metrics_len, err) != 0 ||
	    metrics_parse((const char *)r->metrics_buf, r->metrics_len, in_name, &r->metrics,
			  err) != 0)
		return -1;
	if (r->metrics.n == 0)
		return lf_fail(err, EX_DATAERR, "%s: no metrics (expected name\\tvalue lines)",
			       in_name);
	if (o->params_file) {
		unsigned char *b;
		size_t n;
		if (file_read(o->params_file, INPUT_FILE_MAX, &b, &n, err) != 0)
			return -1;
		int rc = params_parse((const char *)b, n, o->params_file, &r->params, err);
		free(b);
		if (rc != 0)
			return -1;
	}
	for (size_t i = 0; i < o->params.n; i++)
		if (kvlist_put_arg(&r->params, o->params.items[i], MLFLOW_PARAM_VALUE_MAX,
				   "--param", err) != 0)
			return -1;
	if (o->losses_file) {
		unsigned char *b;
		size_t n;
		if (file_read(o->losses_file, INPUT_FILE_MAX, &b, &n, err) != 0)
			return -1;
		int rc = losses_parse((const char *)b, n, o->losses_file, ts, &r->steps, err);
		free(b);
		if (rc != 0)
			return -1;
	}
	/* final metrics at step 0, named as MLflow accepts them */
	for (size_t i = 0; i < r->metrics.n; i++) {
		char key[MLFLOW_KEY_MAX + 1], where[128];
		snprintf(where, sizeof where, "%s: metric %s", in_name, r->metrics.items[i].name);
		if (metric_key(r->metrics.items[i].name, key, sizeof key) != 0 ||
		    !mlflow_key_valid(key))
			return lf_fail(err, EX_DATAERR, "%s is not a valid MLflow name", where);
		for (size_t j = 0; j < i; j++) {
			char other[MLFLOW_KEY_MAX + 1];
			if (metric_key(r->metrics.items[j].name, other, sizeof other) == 0 &&
			    strcmp(key, other) == 0)
				return lf_fail(err, EX_DATAERR, "%s and %s are both logged as %s",
					       where, r->metrics.items[j].name, key);
		}
		if (steplist_push(&r->steps, key, r->metrics.items[i].value, 0, ts) != 0)
			return lf_fail(err, EX_OSERR, "out of memory");
	}
	if (o->model_file) {
		lfe model = {0};
		if (file_read(o->model_file, (size_t)1 << 32, &r->model_buf, &r->model_len, err) !=
		    0)
			return -1;
		int rc = lfe_parse(r->model_buf, r->model_len, o->model_file, &model, err);
		lfe_free(&model);
		if (rc != 0)
			return -1;
	}
	for (size_t i = 0; i < o->artifacts.n; i++) {
		const char *b = base_name(o->artifacts.items[i]);
		if (file_check(o->artifacts.items[i], err) != 0)
			return -1;
		if (!mlflow_key_valid(b) || strcmp(b, "model") == 0 ||
		    strcmp(b, METRICS_ARTIFACT) == 0)
			return lf_fail(err, EX_USAGE,
				       "--artifact %s: '%s' cannot be an artifact name "
				       "(reserved or not a plain file name)",
				       o->artifacts.items[i], b);
		for (size_t j = 0; j < i; j++)
			if (strcmp(b, base_name(o->artifacts.items[j])) == 0)
				return lf_fail(err, EX_USAGE, "--artifact: two files named %s", b);
	}
	for (size_t i = 0; i < o->tags.n; i++)
		if (kvlist_put_arg(&r->tags, o->tags.items[i], MLFLOW_TAG_VALUE_MAX, "--tag",
				   err) != 0)
			return -1;
	if (o->dataset_sha256) {
		if (!is_hex(o->dataset_sha256, 64, 64))
			return lf_fail(err, EX_USAGE, "--dataset-sha256: expected 64 hex digits");
		if (kvlist_put(&r->tags, "dataset_sha256", o->dataset_sha256, 64, 1, "tag", err) !=
		    0)
			return -1;
	}
	if (o->git_commit && *o->git_commit) {
		/* "unknown" or "abc1234-dirty" are honest values too; only a real
		 * commit id also goes into MLflow's own source tag */
		size_t n = strlen(o->git_commit);
		if (n > 64 || strspn(o->git_commit, "0123456789abcdefABCDEFghijklmnopqrstuvwxyz"
						    "GHIJKLMNOPQRSTUVWXYZ._-") != n)
			return lf_fail(err, EX_USAGE, "git commit '%.64s' is not a commit id",
				       o->git_commit);
		if (kvlist_put(&r->tags, "git_commit", o->git_commit, 64, 1, "tag", err) != 0 ||
		    (is_hex(o->git_commit, 7, 64) &&
		     kvlist_put(&r->tags, "mlflow.source.git.commit", o->git_commit, 64, 1, "tag",
				err) != 0))
			return -1;
	}
	return 0;
}

/* Steps 3-5 for a created run; fills *version (NULL when not registered). */
static int fill_run(const mlog_opts *o, mlflow *m, const mlflow_run *run, const run_inputs *in,
		    char **version, lf_error *err)
{
	*version = NULL;
	if (mlflow_log_batch(m, run->run_id, in->params.items, in->params.n, in->steps.items,
			     in->steps.n, NULL, 0, NULL, err) != 0)
		return -1;
	if (mlflow_artifact_put(m, run->artifact_uri, METRICS_ARTIFACT, NULL, in->metrics_buf,
				in->metrics_len, err) != 0)
		return -1;
	if (o->model_file) {
		if (mlflow_artifact_put(m, run->artifact_uri, MODEL_ARTIFACT, NULL, in->model_buf,
					in->model_len, err) != 0)
			return -1;
	}
	for (size_t i = 0; i < o->artifacts.n; i++) {
		if (mlflow_artifact_put(m, run->artifact_uri, base_name(o->artifacts.items[i]),
					o->artifacts.items[i], NULL, 0, err) != 0)
			return -1;
	}
	if (o->no_register || !o->model_file)
		return 0;
	char *source = NULL;
	if (asprintf(&source, "%s/model", run->artifact_uri) < 0)
		return lf_fail(err, EX_OSERR, "out of memory");
	int rc = mlflow_model_ensure(m, o->model_name, err);
	if (rc == 0)
		rc = mlflow_version_create(m, o->model_name, source, run->run_id, version, err);
	free(source);
	return rc;
}

int mlog_run(const mlog_opts *o, FILE *in, const char *in_name, lf_error *err)
{
	run_inputs r = {0};
	mlflow m = {0};
	mlflow_run run = {0};
	char *exp_id = NULL, *version = NULL;
	int rc = -1;
	double t0 = now_seconds();
	if (read_inputs(o, in, in_name, &r, err) != 0 || read_run_context(o, &r, err) != 0 ||
	    mlflow_open(&m, o->tracking_uri, err) != 0)
		goto out;
	if (mlflow_experiment_ensure(&m, o->experiment, &exp_id, NULL, err) != 0)
		goto out;
	if (mlflow_run_create(&m, exp_id, o->run_name, r.start_ms, r.tags.items, r.tags.n, &run,
			      err) != 0)
		goto out;
	mlflow_dataset ds = {o->dataset_name, r.digest, r.ds_type, r.ds_source, ratings_schema,
			     r.ds_profile, "training"};
	if ((!o->dataset_name || mlflow_log_inputs(&m, run.run_id, &ds, err) == 0) &&
	    fill_run(o, &m, &run, &r, &version, err) == 0 &&
	    mlflow_run_update(&m, run.run_id, "FINISHED", now_ms(), err) == 0) {
		rc = 0;
	} else {
		/* Undo what can be undone; the first error is what the user reads. */
		lf_error ignored;
		if (version && mlflow_version_delete(&m, o->model_name, version, &ignored) != 0)
			log_error("could not delete %s v%s again: %s", o->model_name, version,
				  ignored.msg);
		if (mlflow_run_update(&m, run.run_id, "FAILED", now_ms(), &ignored) != 0)
			log_error("could not mark run %s FAILED: %s", run.run_id, ignored.msg);
		free(version);
		version = NULL;
		goto out;
	}
	if (printf("run_id\t%s\nexperiment_id\t%s\n", run.run_id, run.experiment_id) < 0 ||
	    (version && printf("model_version\t%s\n", version) < 0)) {
		rc = lf_fail(err, EX_IOERR, "stdout: write failed");
		goto out;
	}
	log_debug("run %s logged: %ld REST calls, %.2f s", run.run_id, http_request_count(m.http),
		  now_seconds() - t0);
out:
	free(version);
	free(exp_id);
	mlflow_run_free(&run);
	mlflow_close(&m);
	inputs_free(&r);
	return rc;
}
