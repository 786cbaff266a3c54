/*
 * pgload.h — the parts of ml-pgload: the embedded schema, the catalogue load,
 * the load of one embedding set, and the registry moves (switch, serving,
 * list, prune). main.c parses options and calls exactly one of these.
 *
 * Every function takes an open connection, returns 0 / -1 with lf_error
 * filled, and leaves the connection outside any transaction. Results meant
 * for the user ("loaded", a version, TSV rows) go to stdout; nothing here
 * prints errors.
 */
#ifndef LENSFLOW_PGLOAD_H
#define LENSFLOW_PGLOAD_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "log.h"

/* sql/schema.sql, embedded at build time (schema.c), NUL-terminated. */
extern const char pgload_schema_sql[];

/* Applies the schema in its own transaction under an advisory lock. */
int schema_apply(PGconn *c, lf_error *err);

/* Model names as the schema's CHECK: ^[a-z][a-z0-9_]{0,31}$. */
int model_name_ok(const char *name);

typedef struct set_opts {
	const char *model;   /* validated model name */
	int32_t version;     /* > 0 */
	const char *run_id;  /* or NULL */
	const char *metrics; /* metrics TSV path, or NULL */
	int hnsw;	     /* 1: HNSW indexes on items and dirs; 0: none; -1: auto */
} set_opts;

/* Loads the .lfe in [buf, buf+len) (named name in messages) as one set, or
 * finds it already loaded. *loaded = 1 when written, 0 when unchanged. */
int set_load(PGconn *c, const set_opts *o, const unsigned char *buf, size_t len, const char *name,
	     int *loaded, lf_error *err);

/* Catalogue from movies and ratings TSV files; *loaded as for set_load. */
int catalogue_load(PGconn *c, const char *movies_path, const char *ratings_path, int *loaded,
		   lf_error *err);

/* Serving moves; all take the model name. */
int registry_switch(PGconn *c, const char *model, int32_t version, FILE *out, lf_error *err);
int registry_serving(PGconn *c, const char *model, FILE *out, lf_error *err);
int registry_list(PGconn *c, FILE *out, lf_error *err);
int registry_prune(PGconn *c, const char *model, int64_t keep, FILE *out, lf_error *err);

/* --index auto builds HNSW indexes from this many movies on */
#define HNSW_AUTO_MIN_ITEMS 20000

#endif
