/*
 * pgload.h — the parts of ml-pgload: the catalogue load and the load of one
 * embedding set. The schema, the registry moves (switch, serving, list,
 * prune) and every statement are lib/store's. main.c parses options and
 * calls exactly one of these or of lib/store.
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

typedef struct set_opts {
	const char *model;   /* validated model name */
	int32_t version;     /* > 0 */
	const char *run_id;  /* or NULL */
	const char *metrics; /* metrics TSV path, or NULL */
	int index;	     /* enum store_index, or -1: auto */
	int halfvec;	     /* 1: users, items and dirs as halfvec */
} set_opts;

/* Loads the .lfe in [buf, buf+len) (named name in messages) as one set, or
 * finds it already loaded. *loaded = 1 when written, 0 when unchanged. */
int set_load(PGconn *c, const set_opts *o, const unsigned char *buf, size_t len, const char *name,
	     int *loaded, lf_error *err);

/* Catalogue from movies and ratings TSV files; *loaded as for set_load. */
int catalogue_load(PGconn *c, const char *movies_path, const char *ratings_path, int *loaded,
		   lf_error *err);

/* --index auto builds HNSW indexes from this many movies on; below, the
 * exact scan pruned by norm (STORE_INDEX_NORM) */
#define HNSW_AUTO_MIN_ITEMS 20000

#endif
