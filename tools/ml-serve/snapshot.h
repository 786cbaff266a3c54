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
#include "store.h"
#include "store_impressions.h"

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
	enum store_index index;                 /* how its items are ranked (store.h) */
};

/* Loads set `version` of model_name (lib/store_serving.h says which), in one read-only
 * transaction on conn. Returns 0 with *out (one reference), or -1 with err:
 * EX_UNAVAILABLE when the database did not answer, EX_DATAERR when it refused
 * (a table missing), nothing is served or the set's rows are malformed,
 * EX_OSERR when out of memory. */
int snapshot_load(PGconn *conn, const char *model_name, int version, struct snapshot **out,
		  lf_error *err);


/* The champion's snapshot (snapshot_current) or an arm's; NULL when none. */
struct snapshot *snapshot_current(void);
struct snapshot *snapshot_current_arm(enum arm arm);
void snapshot_publish(struct snapshot *s);
void snapshot_publish_arm(enum arm arm, struct snapshot *s);
/* The share of users the challenger answers (0..1). */
void snapshot_set_share(double share);
/* The share now (0 while no challenger is served). */
double snapshot_share(void);
/* The arm for key (a user id, or a new user's request hash): the challenger
 * when one is served and arm_draw(key, its version) < the share; its snapshot
 * (a new reference, or NULL while nothing is loaded) and *arm. The same key
 * always gets the same arm while the challenger and share stay. */
struct snapshot *snapshot_pick(uint64_t key, enum arm *arm);
/* A uniform number in [0, 1) from key, salted by the challenger's version (a
 * new challenger draws its users afresh). */
double arm_draw(uint64_t key, int challenger_version);
void snapshot_release(struct snapshot *s);
/* Drops the holder's reference at shutdown. */
void snapshot_clear(void);

int snapshot_has_user(const struct snapshot *s, int64_t user_id);
/* Row of the movie in items, or -1. */
long snapshot_item_row(const struct snapshot *s, int64_t movie_id);

#endif
