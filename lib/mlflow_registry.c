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
		if (asprintf(&out, "%s?%s=%s%s%s%s%s", endpoint, k1, e1, v2 ? "&" : "",
			     v2 ? k2 : "", v2 ? "=" : "", v2 ? e2 : "") < 0)
			out = NULL;
	}
	free(e1);
	free(e2);
	return out;
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
	if (mlflow_call(
		    m, "POST", "model-versions/create",
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
	json_t *reply = NULL;
	int rc = mlflow_get(m, ep, &reply, err);
	if (rc != 0)
		return rc;
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
	json_t *reply = NULL;
	rc = mlflow_get(m, ep, &reply, err);
	if (rc != 0)
		return rc;
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
	return mlflow_call(
		m, "POST", "registered-models/alias",
		json_pack("{s:s,s:s,s:s}", "name", name, "alias", alias, "version", version), NULL,
		err);
}

int mlflow_alias_delete(mlflow *m, const char *name, const char *alias, lf_error *err)
{
	return mlflow_call(m, "DELETE", "registered-models/alias",
			   json_pack("{s:s,s:s}", "name", name, "alias", alias), NULL, err);
}

int mlflow_model_get_tag(mlflow *m, const char *name, const char *key, char **value, lf_error *err)
{
	*value = NULL;
	char *ep = query("registered-models/get", "name", name, NULL, NULL);
	json_t *reply = NULL;
	int rc = mlflow_get(m, ep, &reply, err);
	if (rc != 0)
		return rc;
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
