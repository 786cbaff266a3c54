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
#include "prom.h"
#include "snapshot.h"

#define MAX_K 100
#define DB_STATEMENT_TIMEOUT_MS 2000
#define DB_CONNECT_TIMEOUT_S 2

struct worker {
	const char *db_url;
	PGconn *conn;
	double retry_at;           /* monotonic time before which no reconnection is tried */
	uint64_t gen[2];           /* snapshot generations of the prepared set statements */
	unsigned char fixed;       /* bit per fixed statement prepared */
	unsigned char set_prepared[2][3][MAX_K + 1];
	int cur_slot;              /* the slot prepare() chose last */
	unsigned char feedback_prepared; /* lib/store_feedback's insert (feedback pool) */
	double expires;            /* monotonic time after which the connection is made anew */
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

/* A new connection (lib/pg) with lib/store's session settings; NULL with err
 * (EX_UNAVAILABLE: "database unreachable: …", EX_USAGE: a bad URL). A URL of
 * several hosts is tried host by host, starting at the next one each time
 * (lib/pg_hosts.h): connections spread, and a dead host is passed over at once. */
PGconn *db_connect(const char *url, lf_error *err);

#define DB_CONN_LIFETIME_S 300
/* The most seconds a worker keeps a connection (0: for ever; default DB_CONN_LIFETIME_S), each
 * worker's a little less (down to 80 %) so that they are not all made anew at
 * once; then the next request makes a new one (another host, the next in
 * turn): connections spread again after a failover or a new standby. */
void db_set_conn_lifetime(double seconds);
/* The lifetime of a connection made now: seconds less up to 20 %, spread. */
double db_conn_expiry(double now);

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
