/*
 * mlflow_registry.c — the model registry half of mlflow.h: registered
 * models, versions, aliases and tags (model_registry.proto).
 */
#include <stdlib.h>
#include <string.h>

#include "mlflow.h"
#include "mlflow_internal.h"

/* "endpoint?k1=v1&k2=v2" with escaped values; NULL v2 leaves the pair out. */
static char *query(const char *endpoint, const char *k1, const char *v1, const char *k2,
		   const char *v2)
{
	char *e1 = http_escape(v1), *e2 = v2 ? http_escape(v2) : NULL, *out = NULL;
	if (e1 && (!v2 || e2)) {
		if (asprintf(&out, "%s?%s=%s%s%s%s%s", endpoint, k1, e1, v2 ? "&" : "", v2 ? k2 : "",
			     v2 ? "=" : "", v2 ? e2 : "") < 0)
			out = NULL;
	}
	free(e1);
	free(e2);
	return out;
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
		lf_fail(err, EX_PROTOCOL, "model_version: version '%.20s' is not a positive integer",
			p);
		goto fail;
	}
	return 0;
fail:
	mlflow_version_free(out);
	return -1;
}

int mlflow_parse_model_tag(const json_t *answer, const char *key, char **value, lf_error *err)
{
	*value = NULL;
	const json_t *rm = json_object_get(answer, "registered_model");
	if (!json_is_object(rm))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: no registered_model");
	const json_t *tags = json_object_get(rm, "tags");
	if (!tags)
		return 1;
	if (!json_is_array(tags))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: tags is not a list");
	size_t i;
	const json_t *t;
	json_array_foreach(tags, i, t) {
		const json_t *k = json_object_get(t, "key");
		if (!json_is_string(k))
			return lf_fail(err, EX_PROTOCOL, "registered-models/get: a tag has no key");
		if (strcmp(json_string_value(k), key) != 0)
			continue;
		const json_t *v = json_object_get(t, "value");
		if (v && !json_is_string(v))
			return lf_fail(err, EX_PROTOCOL, "registered-models/get: tag %s is not a string",
				       key);
		*value = strdup(v ? json_string_value(v) : "");
		return *value ? 0 : mlflow_oom(err);
	}
	return 1;
}

int mlflow_model_ensure(mlflow *m, const char *name, lf_error *err)
{
	if (mlflow_call(m, "POST", "registered-models/create", json_pack("{s:s}", "name", name),
			NULL, err) == 0)
		return 0;
	return strcmp(http_last_error_code(m->http), "RESOURCE_ALREADY_EXISTS") == 0 ? 0 : -1;
}

int mlflow_version_create(mlflow *m, const char *name, const char *source, const char *run_id,
			  char **version, lf_error *err)
{
	*version = NULL;
	json_t *reply = NULL;
	if (mlflow_call(m, "POST", "model-versions/create",
			json_pack("{s:s,s:s,s:s}", "name", name, "source", source, "run_id", run_id),
			&reply, err) != 0)
		return -1;
	mlflow_version v;
	int rc = mlflow_parse_version(reply, &v, err);
	json_decref(reply);
	if (rc != 0)
		return -1;
	*version = v.version;
	v.version = NULL;
	mlflow_version_free(&v);
	return 0;
}

int mlflow_version_delete(mlflow *m, const char *name, const char *version, lf_error *err)
{
	return mlflow_call(m, "DELETE", "model-versions/delete",
			   json_pack("{s:s,s:s}", "name", name, "version", version), NULL, err);
}

/* GET endpoint → model_version; 1 on RESOURCE_DOES_NOT_EXIST. */
static int get_version(mlflow *m, char *ep, mlflow_version *out, lf_error *err)
{
	memset(out, 0, sizeof *out);
	if (!ep)
		return mlflow_oom(err);
	json_t *reply = NULL;
	int rc = mlflow_call(m, "GET", ep, NULL, &reply, err);
	free(ep);
	if (rc != 0)
		return mlflow_not_found(m) ? 1 : -1;
	rc = mlflow_parse_version(reply, out, err);
	json_decref(reply);
	return rc;
}

int mlflow_version_get(mlflow *m, const char *name, const char *version, mlflow_version *out,
		       lf_error *err)
{
	return get_version(m, query("model-versions/get", "name", name, "version", version), out,
			   err);
}

int mlflow_parse_model_alias(const json_t *answer, const char *alias, char **version,
			     lf_error *err)
{
	*version = NULL;
	const json_t *rm = json_object_get(answer, "registered_model");
	if (!json_is_object(rm))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: no registered_model");
	const json_t *list = json_object_get(rm, "aliases");
	if (!list)
		return 1;
	if (!json_is_array(list))
		return lf_fail(err, EX_PROTOCOL, "registered-models/get: aliases is not a list");
	size_t i;
	const json_t *a;
	json_array_foreach(list, i, a) {
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

int mlflow_alias_get(mlflow *m, const char *name, const char *alias, mlflow_version *out,
		     lf_error *err)
{
	int rc = get_version(m, query("registered-models/alias", "name", name, "alias", alias), out,
			     err);
	if (rc != -1 || http_last_status(m->http) != 400 ||
	    strcmp(http_last_error_code(m->http), "INVALID_PARAMETER_VALUE") != 0)
		return rc;
	/* MLflow 3.17 answers an unset alias of an existing model with 400
	 * INVALID_PARAMETER_VALUE, not RESOURCE_DOES_NOT_EXIST: ask the model
	 * itself whether the alias is set before calling it absent. */
	lf_error first = *err;
	char *ep = query("registered-models/get", "name", name, NULL, NULL), *version = NULL;
	if (!ep)
		return mlflow_oom(err);
	json_t *reply = NULL;
	rc = mlflow_call(m, "GET", ep, NULL, &reply, err);
	free(ep);
	if (rc != 0)
		return mlflow_not_found(m) ? 1 : -1;
	rc = mlflow_parse_model_alias(reply, alias, &version, err);
	json_decref(reply);
	free(version);
	if (rc == 0) /* set after all: the first refusal stands */
		*err = first, rc = -1;
	return rc;
}

int mlflow_version_set_tag(mlflow *m, const char *name, const char *version, const char *key,
			   const char *value, lf_error *err)
{
	return mlflow_call(m, "POST", "model-versions/set-tag",
			   json_pack("{s:s,s:s,s:s,s:s}", "name", name, "version", version, "key",
				     key, "value", value),
			   NULL, err);
}

int mlflow_alias_set(mlflow *m, const char *name, const char *alias, const char *version,
		     lf_error *err)
{
	return mlflow_call(m, "POST", "registered-models/alias",
			   json_pack("{s:s,s:s,s:s}", "name", name, "alias", alias, "version",
				     version),
			   NULL, err);
}

int mlflow_alias_delete(mlflow *m, const char *name, const char *alias, lf_error *err)
{
	return mlflow_call(m, "DELETE", "registered-models/alias",
			   json_pack("{s:s,s:s}", "name", name, "alias", alias), NULL, err);
}

int mlflow_model_get_tag(mlflow *m, const char *name, const char *key, char **value,
			 lf_error *err)
{
	*value = NULL;
	char *ep = query("registered-models/get", "name", name, NULL, NULL);
	if (!ep)
		return mlflow_oom(err);
	json_t *reply = NULL;
	int rc = mlflow_call(m, "GET", ep, NULL, &reply, err);
	free(ep);
	if (rc != 0)
		return mlflow_not_found(m) ? 1 : -1;
	rc = mlflow_parse_model_tag(reply, key, value, err);
	json_decref(reply);
	return rc;
}

int mlflow_model_set_tag(mlflow *m, const char *name, const char *key, const char *value,
			 lf_error *err)
{
	return mlflow_call(m, "POST", "registered-models/set-tag",
			   json_pack("{s:s,s:s,s:s}", "name", name, "key", key, "value", value),
			   NULL, err);
}
