/*
 * snapshot.h — the served embedding set as ml-serve holds it in memory: the
 * set's row of embedding_sets, its users' ids, its movies' ids, ranking
 * vectors and titles (as JSON text), and the fold-in parameters. Requests
 * read a snapshot without locks; a reload builds a new one and swaps the
 * pointer.
 *
 * Lifetime: a snapshot is reference-counted. snapshot_current() returns a
 * new reference (or NULL while none is loaded) that the caller gives back
 * with snapshot_release(); snapshot_publish() takes over the caller's
 * reference and drops the holder's reference to the previous one, which is
 * freed when the last request using it releases it.
 */
#ifndef ML_SERVE_SNAPSHOT_H
#define ML_SERVE_SNAPSHOT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "compactform.h"
#include "log.h"
#include "model.h"

struct snapshot {
	_Atomic long refs;
	uint64_t generation;  /* distinct for every snapshot built by this process */
	char *model_name;
	int version;
	char *run_id;         /* "" when the set has none */
	double loaded_at;     /* unix seconds when this process loaded it */
	size_t dim;           /* stored vector dimension */
	size_t n_users;
	int32_t *user_ids;    /* sorted */
	size_t n_items;
	int32_t *item_ids;    /* sorted */
	double *items;        /* n_items x dim, rows in item_ids' order */
	char **titles_json;   /* per item, as the answers write it: a JSON string with its
			       * quotes (jsontext.h); NULL when the movie is not in the
			       * catalogue or its title is not UTF-8 (never served) */
	size_t *title_lens;   /* per item, strlen of titles_json (0 when NULL) */
	int32_t *row_of;      /* row_of[id - row_of_base]: the row of a movie id, or -1; NULL
			       * when the ids are too sparse for a dense table */
	int32_t row_of_base;
	size_t row_of_n;
	struct model_fold fold; /* a new user's solver (lib/model.h); its EASE map loaded
				 * by blendfold_load */
	struct compact_form compact; /* .present: folded in at its full width, then mapped */
	size_t n_metrics;     /* offline metrics recorded with the set */
	char **metric_names;
	double *metric_values;
	char *users_sql, *items_sql, *dirs_sql; /* quoted table identifiers */
};

/* Loads the set that `serving` points at for model_name, in one read-only
 * transaction on conn. Returns 0 with *out (one reference), or -1 with err:
 * EX_UNAVAILABLE when the database did not answer, EX_DATAERR when it refused
 * (a table missing), nothing is served or the set's rows are malformed,
 * EX_OSERR when out of memory. */
int snapshot_load(PGconn *conn, const char *model_name, struct snapshot **out, lf_error *err);

/* The version `serving` points at now (0 when none), or -1 with err. */
int snapshot_served_version(PGconn *conn, const char *model_name, int *version, lf_error *err);

struct snapshot *snapshot_current(void);
void snapshot_publish(struct snapshot *s);
void snapshot_release(struct snapshot *s);
/* Drops the holder's reference at shutdown. */
void snapshot_clear(void);

int snapshot_has_user(const struct snapshot *s, int64_t user_id);
/* Row of the movie in items, or -1. */
long snapshot_item_row(const struct snapshot *s, int64_t movie_id);

#endif
