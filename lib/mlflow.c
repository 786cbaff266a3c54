/*
 * mlflow.c — see mlflow.h. The REST calls of the tracking API and the
 * artifact proxy; the registry calls are in mlflow_registry.c and the
 * parsers of the answers in mlflow_parse.c. Every answer is checked field by
 * field: a server of another version that drops or retypes a field gives
 * EX_PROTOCOL naming it, never a NULL dereference.
 */
#include "mlflow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlflow_internal.h"

#define API "/api/2.0/mlflow/"
#define ARTIFACTS_API "/api/2.0/mlflow-artifacts/artifacts/"
#define MLFLOW_TIMEOUT_S 120 /* an upload of a big .lfe included */

int mlflow_open(mlflow *m, const char *tracking_uri, lf_error *err)
{
	return mlflow_open_timeout(m, tracking_uri, MLFLOW_TIMEOUT_S, err);
}

int mlflow_open_timeout(mlflow *m, const char *tracking_uri, int timeout_s, lf_error *err)
{
	m->http = NULL;
	return http_open(&m->http, tracking_uri, timeout_s, err);
}

void mlflow_close(mlflow *m)
{
	http_free(m->http);
	m->http = NULL;
}

int mlflow_oom(lf_error *err) { return lf_fail(err, EX_OSERR, "out of memory"); }

int mlflow_dup_string(const json_t *obj, const char *field, const char *what, char **out,
		      lf_error *err)
{
	const json_t *v = json_object_get(obj, field);
	if (!json_is_string(v))
		return lf_fail(err, EX_PROTOCOL, "%s: the answer has no string '%s'", what, field);
	*out = strdup(json_string_value(v));
	return *out ? 0 : mlflow_oom(err);
}

int mlflow_call(mlflow *m, const char *method, const char *endpoint, json_t *body, json_t **reply,
		lf_error *err)
{
	char *path = NULL;
	if (strcmp(method, "GET") != 0 && !body) /* json_pack failed */
		return mlflow_oom(err);
	if (asprintf(&path, API "%s", endpoint) < 0) {
		json_decref(body);
		return mlflow_oom(err);
	}
	int rc = http_json(m->http, method, path, body, reply, err);
	json_decref(body);
	free(path);
	return rc;
}

int mlflow_not_found(const mlflow *m)
{
	return strcmp(http_last_error_code(m->http), "RESOURCE_DOES_NOT_EXIST") == 0;
}

int mlflow_get(mlflow *m, char *ep, json_t **reply, lf_error *err)
{
	*reply = NULL;
	if (!ep)
		return mlflow_oom(err);
	int rc = mlflow_call(m, "GET", ep, NULL, reply, err);
	free(ep);
	if (rc != 0)
		return mlflow_not_found(m) ? 1 : -1;
	return 0;
}

/* ---- tracking calls ---- */

int mlflow_experiment_ensure(mlflow *m, const char *name, char **id, int *created, lf_error *err)
{
	*id = NULL;
	if (created)
		*created = 0;
	char *q = http_escape(name);
	if (!q)
		return mlflow_oom(err);
	char *ep = NULL;
	if (asprintf(&ep, "experiments/get-by-name?experiment_name=%s", q) < 0) {
		free(q);
		return mlflow_oom(err);
	}
	free(q);
	json_t *reply = NULL;
	int rc = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (mlflow_call(m, "GET", ep, NULL, &reply, err) == 0) {
			rc = mlflow_parse_experiment_id(reply, "experiments/get-by-name", id, err);
			break;
		}
		if (!mlflow_not_found(m) || attempt > 0)
			break;
		if (mlflow_call(m, "POST", "experiments/create", json_pack("{s:s}", "name", name),
				&reply, err) == 0) {
			rc = mlflow_parse_experiment_id(reply, "experiments/create", id, err);
			if (rc == 0 && created)
				*created = 1;
			break;
		}
		/* created meanwhile by someone else: read it again */
		if (strcmp(http_last_error_code(m->http), "RESOURCE_ALREADY_EXISTS") != 0)
			break;
	}
	json_decref(reply);
	free(ep);
	return rc;
}

static json_t *kv_array(const mlflow_kv *kv, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_pack("{s:s,s:s}", "key", kv[i].key, "value",
						       kv[i].value)) != 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int mlflow_run_create(mlflow *m, const char *experiment_id, const char *run_name, int64_t start_ms,
		      const mlflow_kv *tags, size_t n_tags, mlflow_run *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	json_t *ta = kv_array(tags, n_tags);
	json_t *body = ta ? json_pack("{s:s,s:I,s:o}", "experiment_id", experiment_id, "start_time",
				      (json_int_t)start_ms, "tags", ta)
			  : NULL;
	if (body && run_name && json_object_set_new(body, "run_name", json_string(run_name)) != 0) {
		json_decref(body);
		body = NULL;
	}
	json_t *reply = NULL;
	int rc = mlflow_call(m, "POST", "runs/create", body, &reply, err);
	if (rc == 0)
		rc = mlflow_parse_run(reply, out, err);
	json_decref(reply);
	return rc;
}

int mlflow_run_update(mlflow *m, const char *run_id, const char *status, int64_t end_ms,
		      lf_error *err)
{
	return mlflow_call(m, "POST", "runs/update",
			   json_pack("{s:s,s:s,s:I}", "run_id", run_id, "status", status,
				     "end_time", (json_int_t)end_ms),
			   NULL, err);
}

int mlflow_run_metrics(mlflow *m, const char *run_id, mlflow_metrics *out, lf_error *err)
{
	out->items = NULL;
	out->n = 0;
	char *q = http_escape(run_id), *ep = NULL;
	if (!q || asprintf(&ep, "runs/get?run_id=%s", q) < 0) {
		free(q);
		return mlflow_oom(err);
	}
	free(q);
	json_t *reply = NULL;
	int rc = mlflow_get(m, ep, &reply, err);
	if (rc != 0)
		return rc;
	rc = mlflow_parse_metrics(reply, out, err);
	json_decref(reply);
	return rc;
}

/* One log-batch call with params[0..np), metrics[0..nm), tags[0..nt). */
static int log_batch_once(mlflow *m, const char *run_id, const mlflow_kv *params, size_t np,
			  const mlflow_metric *metrics, size_t nm, const mlflow_kv *tags, size_t nt,
			  lf_error *err)
{
	json_t *ma = json_array();
	for (size_t i = 0; ma && i < nm; i++) {
		if (!isfinite(metrics[i].value)) {
			json_decref(ma);
			return lf_fail(err, EX_DATAERR, "metric %s is not a finite number",
				       metrics[i].key);
		}
		if (json_array_append_new(ma, json_pack("{s:s,s:f,s:I,s:I}", "key", metrics[i].key,
							"value", metrics[i].value, "timestamp",
							(json_int_t)metrics[i].timestamp_ms, "step",
							(json_int_t)metrics[i].step)) != 0) {
			json_decref(ma);
			ma = NULL;
		}
	}
	json_t *pa = kv_array(params, np), *ta = kv_array(tags, nt), *body = NULL;
	if (ma && pa && ta) /* json_pack steals the three, on failure too */
		body = json_pack("{s:s,s:o,s:o,s:o}", "run_id", run_id, "params", pa, "metrics", ma,
				 "tags", ta);
	else {
		json_decref(ma);
		json_decref(pa);
		json_decref(ta);
	}
	return mlflow_call(m, "POST", "runs/log-batch", body, NULL, err);
}

int mlflow_log_batch(mlflow *m, const char *run_id, const mlflow_kv *params, size_t n_params,
		     const mlflow_metric *metrics, size_t n_metrics, const mlflow_kv *tags,
		     size_t n_tags, int *calls, lf_error *err)
{
	size_t ip = 0, im = 0, it = 0;
	if (calls)
		*calls = 0;
	while (ip < n_params || im < n_metrics || it < n_tags) {
		size_t np = n_params - ip, nt = n_tags - it, nm = n_metrics - im;
		if (np > MLFLOW_BATCH_PARAMS)
			np = MLFLOW_BATCH_PARAMS;
		if (nt > MLFLOW_BATCH_TAGS)
			nt = MLFLOW_BATCH_TAGS;
		/* metrics only after every param: fill what the entity limit leaves */
		size_t room = MLFLOW_BATCH_ENTITIES - np - nt;
		if (ip + np < n_params)
			room = 0;
		if (nm > room)
			nm = room;
		if (nm > MLFLOW_BATCH_METRICS)
			nm = MLFLOW_BATCH_METRICS;
		if (log_batch_once(m, run_id, params + ip, np, metrics + im, nm, tags + it, nt,
				   err) != 0)
			return -1;
		if (calls)
			(*calls)++;
		ip += np;
		im += nm;
		it += nt;
	}
	return 0;
}

/* ---- artifacts ---- */

static int artifact_endpoint(const char *artifact_uri, const char *rel_path, char **out,
			     lf_error *err)
{
	*out = NULL;
	if (!mlflow_key_valid(rel_path))
		return lf_fail(err, EX_DATAERR, "artifact path '%s' is not a plain relative path",
			       rel_path);
	char *base = NULL;
	if (mlflow_artifact_path(artifact_uri, &base, err) != 0)
		return -1;
	/* Escape each segment; keep the '/' between them. */
	size_t cap = strlen(ARTIFACTS_API) + 3 * (strlen(base) + strlen(rel_path)) + 2;
	char *p = malloc(cap);
	if (!p) {
		free(base);
		return mlflow_oom(err);
	}
	strcpy(p, ARTIFACTS_API);
	const char *parts[2] = {base, rel_path};
	for (int k = 0; k < 2; k++) {
		char *copy = strdup(parts[k]);
		if (!copy) {
			free(base);
			free(p);
			return mlflow_oom(err);
		}
		for (char *save = NULL, *seg = strtok_r(copy, "/", &save); seg;
		     seg = strtok_r(NULL, "/", &save)) {
			char *e = http_escape(seg);
			if (!e) {
				free(copy);
				free(base);
				free(p);
				return mlflow_oom(err);
			}
			strcat(p, e); /* fits: cap counts 3 bytes per input byte */
			strcat(p, "/");
			free(e);
		}
		free(copy);
	}
	p[strlen(p) - 1] = '\0'; /* the last '/' */
	free(base);
	*out = p;
	return 0;
}

int mlflow_artifact_put(mlflow *m, const char *artifact_uri, const char *rel_path, const char *file,
			const void *data, size_t len, lf_error *err)
{
	char *path;
	if (artifact_endpoint(artifact_uri, rel_path, &path, err) != 0)
		return -1;
	int rc = file ? http_put_file(m->http, path, file, err)
		      : http_put_bytes(m->http, path, data, len, err);
	free(path);
	return rc;
}

int mlflow_artifact_get(mlflow *m, const char *artifact_uri, const char *rel_path,
			unsigned char **data, size_t *len, lf_error *err)
{
	char *path;
	*data = NULL;
	*len = 0;
	if (artifact_endpoint(artifact_uri, rel_path, &path, err) != 0)
		return -1;
	int rc = http_get_bytes(m->http, path, data, len, err);
	free(path);
	return rc;
}
