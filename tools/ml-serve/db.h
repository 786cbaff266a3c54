/*
 * db.h — PostgreSQL connections in a pool (a request takes a struct worker
 * for its run: a connection and its statements), with the
 * serving statements prepared on it lazily and named per set version and k
 * and k ("user_recs_g3_k10", by the snapshot's generation): k is written into
 * the text so that the planner keeps a plan for it that can use an HNSW
 * index. A worker keeps the statements of two snapshots (the champion's and
 * the challenger's); when it meets a third it deallocates everything and
 * prepares again. A broken connection is closed and made again on the next request.
 *
 * Ownership: the pool owns the workers, a worker its PGconn (db_worker_close
 * frees it); a request holds one worker between db_pool_get and put. Results
 * returned by db_query are the caller's to PQclear.
 */
#ifndef ML_SERVE_DB_H
#define ML_SERVE_DB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

#include "log.h"
#include "metrics.h"
#include "snapshot.h"

#define MAX_K 100
#define DB_STATEMENT_TIMEOUT_MS 2000

struct worker {
	const char *db_url;
	PGconn *conn;
	double retry_at;           /* monotonic time before which no reconnection is tried */
	uint64_t gen[2];           /* snapshot generations of the prepared set statements */
	unsigned char fixed;       /* bit per fixed statement prepared */
	unsigned char set_prepared[2][3][MAX_K + 1];
	int cur_slot;              /* the slot prepare() chose last */
	unsigned char feedback_prepared; /* lib/store_feedback's insert (feedback pool) */
};

/* The workers' database state, shared by civetweb's threads: a request takes
 * one for its whole run and puts it back. There are --threads of them (so at
 * most that many connections), and civetweb runs more threads than that, so
 * that connections that are slow to send their request, or idle between
 * keep-alive requests, do not hold the database from the others. */
struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct worker *slots;  /* n of them */
	struct worker **free;  /* n_free of them at the front */
	int n, n_free;
};

/* n slots on url; -1 with err when out of memory. */
int db_pool_init(struct db_pool *p, int n, const char *url, lf_error *err);
/* A free slot, waiting for one at most timeout_ms; NULL when none came free. */
struct worker *db_pool_get(struct db_pool *p, int timeout_ms);
void db_pool_put(struct db_pool *p, struct worker *w);
/* Closes every connection; no slot may be in use. */
void db_pool_free(struct db_pool *p);

/* A new connection with connect_timeout and statement_timeout set; NULL with err (EX_UNAVAILABLE). */
PGconn *db_connect(const char *url, lf_error *err);

/* The worker's connection, made when there is none. NULL with err. */
PGconn *db_worker_conn(struct worker *w, lf_error *err);
void db_worker_close(struct worker *w);

/* Runs query q (text parameters), timing it into the metrics. Set queries
 * (user_recs, new_user_recs, similar) need the snapshot s and k, and their
 * results are binary (movie_id int4, score float8); others ignore s and k and
 * their results are text. Returns a PGRES_TUPLES_OK result, or NULL with err
 * (EX_UNAVAILABLE: the database is down, timed out or refused). */
PGresult *db_query(struct worker *w, enum query_id q, const struct snapshot *s, int k,
		   int n_params, const char *const *params, lf_error *err);

#endif
