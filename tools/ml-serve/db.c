/*
 * db.c — see db.h. Failures of any kind count in lensflow_db_errors_total and
 * come back as EX_UNAVAILABLE (the request answers 503 with Retry-After); a
 * query that failed because the connection broke is tried once more on a new
 * connection, so that the first request after a database restart succeeds.
 */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "jsontext.h"
#include "pg.h"
#include "pg_hosts.h"
#include "store.h"
#include "util.h"

#define SAME(a, b) ((int)(a) == (int)(b))
_Static_assert(SAME(Q_USER_RECS, STORE_USER_RECS) && SAME(Q_NEW_USER_RECS, STORE_NEW_USER_RECS) &&
		       SAME(Q_SIMILAR, STORE_SIMILAR) && SAME(Q_SEARCH, STORE_SEARCH) &&
		       SAME(Q_MOVIE, STORE_MOVIE) && SAME(Q_USER_RATINGS, STORE_USER_RATINGS) &&
		       SAME(Q_PING, STORE_PING) && SAME(Q_LOAD, STORE_N_QUERIES),
	       "ml-serve's query ids are lib/store's");

static void first_line(lf_error *err, const char *what, const char *msg)
{
	size_t n = strcspn(msg, "\n");
	lf_fail(err, EX_UNAVAILABLE, "%s: %.*s", what, (int)n, msg);
}

static double conn_lifetime_s = DB_CONN_LIFETIME_S;
static _Atomic unsigned conn_serial;

void db_set_conn_lifetime(double seconds)
{
	conn_lifetime_s = seconds;
}

double db_conn_expiry(double now)
{
	if (conn_lifetime_s <= 0)
		return 0;
	/* 80..100 % of the lifetime, in a low-discrepancy sequence over the connections */
	unsigned k = conn_serial++;
	double frac = (double)(k * 2654435761u % 1000u) / 1000.0;
	return now + conn_lifetime_s * (0.8 + 0.2 * frac);
}

PGconn *db_connect(const char *url, lf_error *err)
{
	PGconn *c;
	if (pg_connect_spread(url, "ml-serve", DB_CONNECT_TIMEOUT_S, &c, err) < 0) {
		if (err->code == EX_UNAVAILABLE) /* what /readyz and the log say */
			lf_error_prefix(err, "database unreachable");
		return NULL;
	}
	if (store_session(c, DB_STATEMENT_TIMEOUT_MS, err) < 0) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

void db_worker_close(struct worker *w)
{
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	w->gen[0] = w->gen[1] = 0;
	w->fixed = 0;
	w->feedback_prepared = 0;
	memset(w->set_prepared, 0, sizeof w->set_prepared);
}

PGconn *db_worker_conn(struct worker *w, lf_error *err)
{
	double now = now_seconds();
	if (w->conn && PQstatus(w->conn) == CONNECTION_OK && (w->expires == 0 || now < w->expires))
		return w->conn;
	db_worker_close(w);
	if (now < w->retry_at) {
		lf_fail(err, EX_UNAVAILABLE, "database unreachable; retrying shortly");
		return NULL;
	}
	w->conn = db_connect(w->db_url, err);
	/* Every host refused or hung: back off before the next try. */
	if (!w->conn)
		w->retry_at = now_seconds() + 0.25;
	else
		w->expires = db_conn_expiry(now_seconds());
	return w->conn;
}

/* Prepares the statement of q (for the snapshot's set and k when it has one). */
static int prepare(struct worker *w, enum query_id q, const struct snapshot *s, int k,
		   char *name, size_t name_len, lf_error *err)
{
	char sql[2048];
	if (q == Q_USER_RECS || q == Q_NEW_USER_RECS || q == Q_SIMILAR) {
		/* Two slots: the champion's and the challenger's statements side by side. */
		int slot = w->gen[0] == s->generation ? 0 : w->gen[1] == s->generation ? 1 : -1;
		if (slot < 0) {
			slot = w->gen[0] == 0 ? 0 : w->gen[1] == 0 ? 1 : -1;
			if (slot < 0) {
				/* A third set: its statements replace the old sets' (and, simply, all). */
				if (store_forget_prepared(w->conn, err) < 0)
					return -1;
				memset(w->set_prepared, 0, sizeof w->set_prepared);
				w->gen[1] = 0;
				w->fixed = 0;
				slot = 0;
			}
			w->gen[slot] = s->generation;
		}
		/* "%s_g%d_k%d", without printf: this runs on every ranked request */
		char v[24], kk[24];
		size_t nl = strlen(store_query_names[q]), vl = json_int(v, (int64_t)s->generation),
		       kl = json_int(kk, k);
		if (nl + 2 + vl + 2 + kl >= name_len)
			return lf_fail(err, EX_SOFTWARE, "statement name too long");
		memcpy(name, store_query_names[q], nl);
		memcpy(name + nl, "_g", 2);
		memcpy(name + nl + 2, v, vl);
		memcpy(name + nl + 2 + vl, "_k", 2);
		memcpy(name + nl + 4 + vl, kk, kl + 1);
		w->cur_slot = slot;
		if (w->set_prepared[slot][q][k])
			return 0;
	} else {
		snprintf(name, name_len, "%s", store_query_names[q]);
		if (w->fixed & (1u << q))
			return 0;
	}
	if (store_query_sql((enum store_query)q, s ? s->users_sql : NULL, s ? s->items_sql : NULL,
			    s ? s->dirs_sql : NULL, s ? s->index : STORE_INDEX_NONE, k, sql,
			    sizeof sql) < 0)
		return lf_fail(err, EX_SOFTWARE, "statement too long");
	PGresult *r = PQprepare(w->conn, name, sql, 0, NULL);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok) {
		first_line(err, "database error", PQerrorMessage(w->conn));
		return -1;
	}
	if (q == Q_USER_RECS || q == Q_NEW_USER_RECS || q == Q_SIMILAR)
		w->set_prepared[w->cur_slot][q][k] = 1;
	else
		w->fixed |= (unsigned char)(1u << q);
	return 0;
}

PGresult *db_query(struct worker *w, enum query_id q, const struct snapshot *s, int k,
		   int n_params, const char *const *params, lf_error *err)
{
	if (k < 1 || k > MAX_K)
		k = 1;
	double start = now_seconds();
	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = !w->conn;
		if (!db_worker_conn(w, err))
			break;
		char name[64];
		PGresult *r = NULL;
		if (prepare(w, q, s, k, name, sizeof name, err) == 0) {
			/* The ranked rows in binary: int and float8 as they are, no strtod */
			int binary = q == Q_USER_RECS || q == Q_NEW_USER_RECS || q == Q_SIMILAR;
			r = PQexecPrepared(w->conn, name, n_params, params, NULL, NULL, binary);
			if (PQresultStatus(r) == PGRES_TUPLES_OK) {
				prom_db(q, now_seconds() - start);
				return r;
			}
			first_line(err, "database error", PQerrorMessage(w->conn));
			PQclear(r);
		}
		if (PQstatus(w->conn) == CONNECTION_OK) {
			/* The server answered with an error (timeout, missing table): the
			 * connection is fine, but the statements may be gone; start over. */
			db_worker_close(w);
			break;
		}
		db_worker_close(w);
		if (fresh)
			break;
	}
	prom_db_error(q);
	prom_db(q, now_seconds() - start);
	if (!w->conn)
		prom_set_ready(0); /* the next poll or /readyz says when it is back */
	return NULL;
}

int db_pool_init(struct db_pool *p, int n, const char *url, lf_error *err)
{
	memset(p, 0, sizeof *p);
	p->slots = calloc((size_t)n, sizeof *p->slots);
	p->free = calloc((size_t)n, sizeof(struct worker *));
	if (!p->slots || !p->free) {
		free(p->slots);
		free(p->free);
		return lf_fail(err, EX_OSERR, "out of memory");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->freed, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i < n; i++) {
		p->slots[i].db_url = url;
		p->free[i] = &p->slots[i];
	}
	p->n = p->n_free = n;
	return 0;
}

struct worker *db_pool_get(struct db_pool *p, int timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	struct worker *w = NULL;
	pthread_mutex_lock(&p->lock);
	while (p->n_free == 0)
		if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT)
			break;
	if (p->n_free > 0)
		w = p->free[--p->n_free];
	pthread_mutex_unlock(&p->lock);
	return w;
}

void db_pool_put(struct db_pool *p, struct worker *w)
{
	pthread_mutex_lock(&p->lock);
	p->free[p->n_free++] = w;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->lock);
}

void db_pool_free(struct db_pool *p)
{
	for (int i = 0; i < p->n; i++)
		db_worker_close(&p->slots[i]);
	free(p->slots);
	free(p->free);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->lock);
	memset(p, 0, sizeof *p);
}
