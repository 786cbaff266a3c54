/*
 * mlflow_inputs.c — a run's dataset input (POST runs/log-inputs, MLflow 2.4
 * and later; the same body in MLflow 3): {"run_id", "datasets": [{"tags":
 * [{"key": "mlflow.data.context", "value": …}], "dataset": {"name",
 * "digest", "source_type", "source", "schema", "profile"}}]}. The run page
 * then lists the dataset under "Datasets" and the experiment's runs can be
 * told apart by it.
 */
#include "mlflow_internal.h"

int mlflow_log_inputs(mlflow *m, const char *run_id, const mlflow_dataset *d, lf_error *err)
{
	json_t *ds = json_pack("{s:s,s:s,s:s,s:s}", "name", d->name, "digest", d->digest,
			       "source_type", d->source_type, "source", d->source);
	if (ds && d->schema && json_object_set_new(ds, "schema", json_string(d->schema)) != 0)
		json_decref(ds), ds = NULL;
	if (ds && d->profile && json_object_set_new(ds, "profile", json_string(d->profile)) != 0)
		json_decref(ds), ds = NULL;
	json_t *tags = json_array();
	if (tags && d->context &&
	    json_array_append_new(tags, json_pack("{s:s,s:s}", "key", "mlflow.data.context",
						  "value", d->context)) != 0)
		json_decref(tags), tags = NULL;
	json_t *body = NULL;
	if (ds && tags) /* "o" steals both, also when json_pack fails */
		body = json_pack("{s:s,s:[{s:o,s:o}]}", "run_id", run_id, "datasets", "tags", tags,
				 "dataset", ds);
	else
		json_decref(ds), json_decref(tags);
	return mlflow_call(m, "POST", "runs/log-inputs", body, NULL, err);
}
