/*
 * mlflow_internal.h — what mlflow.c shares with mlflow_registry.c; not for
 * callers outside lib/mlflow*.c.
 */
#ifndef LENSFLOW_MLFLOW_INTERNAL_H
#define LENSFLOW_MLFLOW_INTERNAL_H

#include "mlflow.h"

/* method on /api/2.0/mlflow/<endpoint>; body is stolen (NULL for a GET; a
 * NULL body for another method means json_pack failed: out of memory). */
int mlflow_call(mlflow *m, const char *method, const char *endpoint, json_t *body, json_t **reply,
		lf_error *err);
/* GET of endpoint ep (stolen and freed; NULL: out of memory): 0 and *reply
 * (the caller's reference), 1 on RESOURCE_DOES_NOT_EXIST, else -1. */
int mlflow_get(mlflow *m, char *ep, json_t **reply, lf_error *err);
/* The last refusal was RESOURCE_DOES_NOT_EXIST. */
int mlflow_not_found(const mlflow *m);
/* strdup of obj[field], which must be a string; else EX_PROTOCOL naming what. */
int mlflow_dup_string(const json_t *obj, const char *field, const char *what, char **out,
		      lf_error *err);
int mlflow_oom(lf_error *err);

#endif
