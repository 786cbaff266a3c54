/*
 * mlflow.h — a client of MLflow's REST API (tracking and model registry,
 * /api/2.0/mlflow/…, and the artifact proxy /api/2.0/mlflow-artifacts/…),
 * the calls that the 3.17 server answers as its protos say
 * (mlflow/protos/service.proto, model_registry.proto).
 *
 * Errors follow http.h: unreachable or 5xx → EX_UNAVAILABLE, a refusal (4xx)
 * → EX_DATAERR with MLflow's error_code and message, an answer without the
 * field the proto promises → EX_PROTOCOL. Functions that look something up
 * return 1 (and set nothing) when MLflow says RESOURCE_DOES_NOT_EXIST.
 *
 * Ownership: an mlflow client owns its http_client. Strings handed out
 * (char **) are new allocations the caller free()s; structs handed out are
 * released with their *_free (safe on zeroed structs). Inputs are borrowed.
 */
#ifndef LENSFLOW_MLFLOW_H
#define LENSFLOW_MLFLOW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "log.h"

/* MLflow's own limits (mlflow/utils/validation.py). */
#define MLFLOW_KEY_MAX 250
#define MLFLOW_PARAM_VALUE_MAX 6000
#define MLFLOW_TAG_VALUE_MAX 8000
#define MLFLOW_BATCH_PARAMS 100
#define MLFLOW_BATCH_TAGS 100
#define MLFLOW_BATCH_METRICS 1000
#define MLFLOW_BATCH_ENTITIES 1000

typedef struct mlflow {
	http_client *http;
} mlflow;

typedef struct mlflow_kv {
	const char *key;
	const char *value;
} mlflow_kv;

typedef struct mlflow_metric {
	const char *key;
	double value;
	int64_t step;
	int64_t timestamp_ms;
} mlflow_metric;

typedef struct mlflow_run {
	char *run_id;
	char *experiment_id;
	char *artifact_uri; /* "mlflow-artifacts:/<exp>/<run>/artifacts" on a proxying server */
} mlflow_run;

/* A dataset that a run used, as MLflow's own Dataset entity (the run page's
 * "Datasets"): name, digest (MLflow stores at most 36 characters), source
 * type ("http", "local") and source (JSON: {"url": …} or {"uri": …}), schema
 * (JSON, e.g. MLflow's {"mlflow_colspec": […]}) and profile (JSON, may be
 * NULL). context (may be NULL) becomes the input tag mlflow.data.context
 * ("training"). All strings borrowed. */
typedef struct mlflow_dataset {
	const char *name, *digest, *source_type, *source, *schema, *profile, *context;
} mlflow_dataset;

typedef struct mlflow_version {
	char *name;
	char *version; /* decimal, as MLflow sends it */
	char *run_id;  /* may be "" */
	char *source;
} mlflow_version;

/* A run's latest metric values (runs/get data.metrics). */
typedef struct mlflow_metric_value {
	char *key;
	double value;
} mlflow_metric_value;
typedef struct mlflow_metrics {
	mlflow_metric_value *items;
	size_t n;
} mlflow_metrics;

/* ---- client ---- */

/* tracking_uri: http(s)://host:port of the tracking server. Each call may
 * take 120 s (an upload of a big .lfe); mlflow_open_timeout sets another limit (seconds,
 * > 0), e.g. for a poll that must not wait long. */
int mlflow_open(mlflow *m, const char *tracking_uri, lf_error *err);
int mlflow_open_timeout(mlflow *m, const char *tracking_uri, int timeout_s, lf_error *err);
void mlflow_close(mlflow *m);

/* ---- tracking ---- */

/* The id of experiment name, created when missing (a concurrent create is
 * tolerated). *created says which (may be NULL). */
int mlflow_experiment_ensure(mlflow *m, const char *name, char **id, int *created, lf_error *err);
/* runs/create; run_name may be NULL. */
int mlflow_run_create(mlflow *m, const char *experiment_id, const char *run_name, int64_t start_ms,
		      const mlflow_kv *tags, size_t n_tags, mlflow_run *out, lf_error *err);
/* runs/log-batch, split into as many calls as MLflow's batch limits need
 * (params first, so a run's parameters are all there before any metric).
 * *calls (may be NULL) gets the number of requests made. */
int mlflow_log_batch(mlflow *m, const char *run_id, const mlflow_kv *params, size_t n_params,
		     const mlflow_metric *metrics, size_t n_metrics, const mlflow_kv *tags,
		     size_t n_tags, int *calls, lf_error *err);
/* runs/update: status "FINISHED", "FAILED" or "KILLED". */
/* runs/log-inputs: the dataset as an input of the run (mlflow_inputs.c). */
int mlflow_log_inputs(mlflow *m, const char *run_id, const mlflow_dataset *d, lf_error *err);
int mlflow_run_update(mlflow *m, const char *run_id, const char *status, int64_t end_ms,
		      lf_error *err);
/* runs/get's metrics; 1 when there is no such run. */
int mlflow_run_metrics(mlflow *m, const char *run_id, mlflow_metrics *out, lf_error *err);
/* The value of key, or -1 when absent. */
int mlflow_metrics_get(const mlflow_metrics *ms, const char *key, double *value);
void mlflow_metrics_free(mlflow_metrics *ms);
void mlflow_run_free(mlflow_run *r);

/* Uploads to <artifact_uri>/<rel_path> through the artifact proxy. rel_path
 * is '/'-separated, no "..", no leading '/'. Exactly one of file / data. */
int mlflow_artifact_put(mlflow *m, const char *artifact_uri, const char *rel_path, const char *file,
			const void *data, size_t len, lf_error *err);
/* Downloads <artifact_uri>/<rel_path> (caller frees *data). */
int mlflow_artifact_get(mlflow *m, const char *artifact_uri, const char *rel_path,
			unsigned char **data, size_t *len, lf_error *err);

/* ---- registry ---- */

/* registered-models/create; an existing model is fine. */
int mlflow_model_ensure(mlflow *m, const char *name, lf_error *err);
/* model-versions/create with source and run_id; *version: "3". */
int mlflow_version_create(mlflow *m, const char *name, const char *source, const char *run_id,
			  char **version, lf_error *err);
/* model-versions/delete (for undoing a version whose run could not finish). */
int mlflow_version_delete(mlflow *m, const char *name, const char *version, lf_error *err);
/* model-versions/get; 1 when the model or version does not exist. */
int mlflow_version_get(mlflow *m, const char *name, const char *version, mlflow_version *out,
		       lf_error *err);
void mlflow_version_free(mlflow_version *v);
int mlflow_version_set_tag(mlflow *m, const char *name, const char *version, const char *key,
			   const char *value, lf_error *err);
/* registered-models/alias: get (1 when unset or no model; see the .c for how
 * 3.17 says "unset"), set, delete. */
int mlflow_alias_get(mlflow *m, const char *name, const char *alias, mlflow_version *out,
		     lf_error *err);
int mlflow_alias_set(mlflow *m, const char *name, const char *alias, const char *version,
		     lf_error *err);
int mlflow_alias_delete(mlflow *m, const char *name, const char *alias, lf_error *err);
/* registered-models/get → the tag's value; 1 when the model or tag is absent. */
int mlflow_model_get_tag(mlflow *m, const char *name, const char *key, char **value, lf_error *err);
int mlflow_model_set_tag(mlflow *m, const char *name, const char *key, const char *value,
			 lf_error *err);

/* ---- answers (pure; what the REST calls use, exposed for the unit tests) ---- */

/* Each takes a parsed answer (borrowed), fills out, and fails with
 * EX_PROTOCOL naming the missing or mistyped field. what names the call. */
int mlflow_parse_experiment_id(const json_t *answer, const char *what, char **id, lf_error *err);
int mlflow_parse_run(const json_t *answer, mlflow_run *out, lf_error *err);
int mlflow_parse_version(const json_t *answer, mlflow_version *out, lf_error *err);
int mlflow_parse_metrics(const json_t *answer, mlflow_metrics *out, lf_error *err);
/* registered_model.aliases[alias] of a registered-models/get answer: 0 and
 * *version set, or 1 absent. */
int mlflow_parse_model_alias(const json_t *answer, const char *alias, char **version,
			     lf_error *err);
/* registered_model.tags[key] of a registered-models/get answer: 0 found, 1 absent. */
int mlflow_parse_model_tag(const json_t *answer, const char *key, char **value, lf_error *err);
/* "mlflow-artifacts:/1/abc/artifacts" (or mlflow-artifacts://host:port/1/…)
 * → "1/abc/artifacts" (a new string). Other schemes: EX_UNAVAILABLE, since
 * the client can only write through the server's artifact proxy. */
int mlflow_artifact_path(const char *artifact_uri, char **path, lf_error *err);
/* MLflow's rule for param, metric and tag keys: 1..250 bytes of
 * [A-Za-z0-9_ ./:-], no "..", not starting with '/'. 1 when valid. */
int mlflow_key_valid(const char *key);

#endif
