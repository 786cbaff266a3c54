/*
 * mlflow_parse.c — the pure half of mlflow.h: MLflow's answers checked
 * field by field and turned into C values, and MLflow's naming rules. No
 * I/O, so the unit tests feed it canned JSON (test/unit/test_mlflow.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mlflow.h"
#include "mlflow_internal.h"

int mlflow_parse_experiment_id(const json_t *answer, const char *what, char **id, lf_error *err)
{
	const json_t *e = json_object_get(answer, "experiment");
	return mlflow_dup_string(json_is_object(e) ? e : answer, "experiment_id", what, id, err);
}

void mlflow_run_free(mlflow_run *r)
{
	free(r->run_id);
	free(r->experiment_id);
	free(r->artifact_uri);
	memset(r, 0, sizeof *r);
}

int mlflow_parse_run(const json_t *answer, mlflow_run *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	const json_t *info = json_object_get(json_object_get(answer, "run"), "info");
	if (!json_is_object(info))
		return lf_fail(err, EX_PROTOCOL, "runs/create: the answer has no run.info");
	if (mlflow_dup_string(info, "run_id", "runs/create", &out->run_id, err) != 0 ||
	    mlflow_dup_string(info, "experiment_id", "runs/create", &out->experiment_id, err) !=
		    0 ||
	    mlflow_dup_string(info, "artifact_uri", "runs/create", &out->artifact_uri, err) != 0) {
		mlflow_run_free(out);
		return -1;
	}
	if (!mlflow_key_valid(out->run_id)) {
		mlflow_run_free(out);
		return lf_fail(err, EX_PROTOCOL, "runs/create: the run id is not a plain name");
	}
	return 0;
}

void mlflow_metrics_free(mlflow_metrics *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		free(ms->items[i].key);
	free(ms->items);
	ms->items = NULL;
	ms->n = 0;
}

int mlflow_parse_metrics(const json_t *answer, mlflow_metrics *out, lf_error *err)
{
	out->items = NULL;
	out->n = 0;
	const json_t *data = json_object_get(json_object_get(answer, "run"), "data");
	if (!json_is_object(json_object_get(answer, "run")))
		return lf_fail(err, EX_PROTOCOL, "runs/get: the answer has no run");
	/* proto3 JSON leaves out empty lists: no data or no metrics = none. */
	const json_t *list = json_object_get(data, "metrics");
	if (!list)
		return 0;
	if (!json_is_array(list))
		return lf_fail(err, EX_PROTOCOL, "runs/get: run.data.metrics is not a list");
	size_t n = json_array_size(list);
	if (n == 0)
		return 0;
	out->items = calloc(n, sizeof *out->items);
	if (!out->items)
		return mlflow_oom(err);
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(list, i);
		const json_t *k = json_object_get(it, "key"), *v = json_object_get(it, "value");
		double value;
		if (!json_is_string(k))
			goto bad;
		if (json_is_number(v)) {
			value = json_number_value(v);
		} else if (json_is_string(v)) {
			/* proto3 JSON writes NaN/Infinity as strings */
			const char *s = json_string_value(v);
			if (strcmp(s, "NaN") == 0)
				value = NAN;
			else if (strcmp(s, "Infinity") == 0)
				value = INFINITY;
			else if (strcmp(s, "-Infinity") == 0)
				value = -INFINITY;
			else
				goto bad;
		} else {
			goto bad;
		}
		out->items[out->n].key = strdup(json_string_value(k));
		if (!out->items[out->n].key) {
			mlflow_metrics_free(out);
			return mlflow_oom(err);
		}
		out->items[out->n++].value = value;
	}
	return 0;
bad:
	mlflow_metrics_free(out);
	return lf_fail(err, EX_PROTOCOL,
		       "runs/get: a metric without a string key and a number value");
}

int mlflow_metrics_get(const mlflow_metrics *ms, const char *key, double *value)
{
	for (size_t i = 0; i < ms->n; i++)
		if (strcmp(ms->items[i].key, key) == 0) {
			*value = ms->items[i].value;
			return 0;
		}
	return -1;
}

int mlflow_artifact_path(const char *uri, char **path, lf_error *err)
{
	static const char scheme[] = "mlflow-artifacts:";
	*path = NULL;
	if (strncmp(uri, scheme, sizeof scheme - 1) != 0)
		return lf_fail(err, EX_UNAVAILABLE,
			       "the run's artifacts go to '%s', not through the server's artifact "
			       "proxy (start mlflow server with artifact serving on)",
			       uri);
	const char *p = uri + sizeof scheme - 1;
	if (strncmp(p, "//", 2) == 0) { /* mlflow-artifacts://host:port/path */
		p = strchr(p + 2, '/');
		if (!p)
			p = "";
	}
	while (*p == '/')
		p++;
	size_t n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0 || strstr(p, ".."))
		return lf_fail(err, EX_PROTOCOL, "artifact location '%s' has no usable path", uri);
	*path = strndup(p, n);
	return *path ? 0 : mlflow_oom(err);
}

int mlflow_key_valid(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > MLFLOW_KEY_MAX || key[0] == '/' || key[n - 1] == '/')
		return 0;
	for (const char *p = key; *p; p++) {
		char c = *p;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.' || c == ' ' || c == ':' || c == '/'))
			return 0;
	}
	/* no empty, "." or ".." path segment: the key must not name another file */
	for (const char *s = key; s;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 0 || (len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s = e ? e + 1 : NULL;
	}
	return 1;
}

void mlflow_version_free(mlflow_version *v)
{
	free(v->name);
	free(v->version);
	free(v->run_id);
	free(v->source);
	memset(v, 0, sizeof *v);
}

int mlflow_parse_version(const json_t *answer, mlflow_version *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	const json_t *mv = json_object_get(answer, "model_version");
	if (!json_is_object(mv))
		return lf_fail(err, EX_PROTOCOL, "model registry: the answer has no model_version");
	if (mlflow_dup_string(mv, "name", "model_version", &out->name, err) != 0 ||
	    mlflow_dup_string(mv, "version", "model_version", &out->version, err) != 0)
		goto fail;
	/* run_id and source are optional in the proto: absent = "" */
	const char *opt[2] = {"run_id", "source"};
	char **dst[2] = {&out->run_id, &out->source};
	for (int i = 0; i < 2; i++) {
		const json_t *v = json_object_get(mv, opt[i]);
		if (v && !json_is_string(v)) {
			lf_fail(err, EX_PROTOCOL, "model_version: '%s' is not a string", opt[i]);
			goto fail;
		}
		*dst[i] = strdup(v ? json_string_value(v) : "");
		if (!*dst[i]) {
			mlflow_oom(err);
			goto fail;
		}
	}
	/* a version is a positive decimal: callers put it into table names */
	const char *p = out->version;
	if (!*p || *p == '0' || strlen(p) > 9 || strspn(p, "0123456789") != strlen(p)) {
		lf_fail(err, EX_PROTOCOL,
			"model_version: version '%.20s' is not a positive integer", p);
		goto fail;
	}
	return 0;
fail:
	mlflow_version_free(out);
	return -1;
}

/* The list `field` of a registered-models/get answer: 0 and *list, 1 when
 * the model has none, -1 (EX_PROTOCOL) when the answer is not as documented. */
static int model_list(const json_t *answer, const char *field, const json_t **list,
		      lf_error *err)
{
	*list = NULL;
	const json_t *rm = json_object_get(answer, "registered_model");
	if (!json_is_object(rm))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: no registered_model");
	*list = json_object_get(rm, field);
	if (!*list)
		return 1;
	if (!json_is_array(*list))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: %s is not a list", field);
	return 0;
}

int mlflow_parse_model_tag(const json_t *answer, const char *key, char **value, lf_error *err)
{
	*value = NULL;
	const json_t *tags = NULL;
	int rc = model_list(answer, "tags", &tags, err);
	if (rc != 0)
		return rc;
	size_t i;
	const json_t *t;
	json_array_foreach(tags, i, t)
	{
		const json_t *k = json_object_get(t, "key");
		if (!json_is_string(k))
			return lf_fail(err, EX_PROTOCOL, "registered-models/get: a tag has no key");
		if (strcmp(json_string_value(k), key) != 0)
			continue;
		const json_t *v = json_object_get(t, "value");
		if (v && !json_is_string(v))
			return lf_fail(err, EX_PROTOCOL,
				       "registered-models/get: tag %s is not a string", key);
		*value = strdup(v ? json_string_value(v) : "");
		return *value ? 0 : mlflow_oom(err);
	}
	return 1;
}

int mlflow_parse_model_alias(const json_t *answer, const char *alias, char **version, lf_error *err)
{
	*version = NULL;
	const json_t *list = NULL;
	int rc = model_list(answer, "aliases", &list, err);
	if (rc != 0)
		return rc;
	size_t i;
	const json_t *a;
	json_array_foreach(list, i, a)
	{
		const json_t *k = json_object_get(a, "alias"), *v = json_object_get(a, "version");
		if (!json_is_string(k) || !json_is_string(v))
			return lf_fail(err, EX_PROTOCOL,
				       "registered-models/get: an alias without alias and version");
		if (strcmp(json_string_value(k), alias) == 0) {
			*version = strdup(json_string_value(v));
			return *version ? 0 : mlflow_oom(err);
		}
	}
	return 1;
}
