/*
 * serve.h — ml-serve's parts wired together: the configuration from the
 * command line, the application state shared by the worker threads and the
 * poll thread, and the entry points of routes.c, ops.c, recs.c and reload.c.
 *
 * Ownership: main() owns the serve_app and everything in cfg (strings point
 * into argv or the environment) and the pool of struct worker (db.h).
 */
#ifndef ML_SERVE_SERVE_H
#define ML_SERVE_SERVE_H

#include <civetweb.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>

#include "db.h"
#include "log.h"
#include "reply.h"

#define MAX_RATINGS 2000
/* The online gauges' list length: hit_rate@10. */
#define ONLINE_K 10

struct serve_config {
	const char *listen;       /* civetweb listening_ports form: 127.0.0.1:8000 */
	int threads;
	const char *db_url;
	const char *model_name;
	double poll_s;
	size_t max_body;
	int timeout_ms;
	const char *admin_token;  /* NULL or "": admin endpoints answer 401 */
	const char *access_log;   /* NULL: none */
	const char *tracking_uri; /* MLflow, for the champion gauge; NULL: not read */
	const char *feedback_db_url;  /* where POST /feedback and impressions write */
	const char *feedback_token;   /* NULL or "": POST /feedback answers 401 */
	size_t max_feedback_body;
	size_t impressions_queue;     /* answers held for the impressions table; 0: none */
	double online_window_s;       /* the online gauges' window */
};

struct serve_app {
	struct serve_config cfg;
	pthread_mutex_t reload_lock; /* one reload at a time (poll thread or /admin/reload) */
	pthread_mutex_t poll_lock;
	pthread_cond_t poll_cond;
	int stopping;                /* under poll_lock */
	pthread_t poller;
	int poller_started;
	/* The registry's champion version of a model (0: unset), asked by the poll
	 * thread; NULL when no registry is configured. main() wires it. */
	int (*champion)(void *ctx, const char *model_name, int *version, lf_error *err);
	void *champion_ctx;
	struct db_pool pool;         /* the database connections (cfg.threads of them) */
	struct db_pool feedback_pool; /* connections on cfg.feedback_db_url for POST /feedback */
};

/* routes.c: civetweb's begin_request callback, which answers every request
 * (mg_start's user data is the serve_app), and its error callback. */
int serve_begin(struct mg_connection *conn);
int serve_http_error(struct mg_connection *conn, int status, const char *msg);
/* civetweb's init_connection: the connection's user data starts empty (routes.c). */
int serve_conn_init(const struct mg_connection *conn, void **conn_data);

/* ops.c: operations endpoints. */
int op_root(struct req *rq);
int op_healthz(struct req *rq);
int op_readyz(struct req *rq);
int op_metrics(struct req *rq);
int op_model(struct req *rq);
int op_reload(struct req *rq);
/* "Authorization: Bearer <token>" checked against token (compared in constant
 * time, whatever the first difference): 0 when it matches; else the 401
 * answered (WWW-Authenticate: Bearer; the message `disabled` when token is
 * NULL or empty), and its status returned for the handler to return. */
int bearer_refused(struct req *rq, const char *token, const char *disabled);

/* routes.c: a database connection from the pool for the rest of the request
 * (rq->w, given back after the answer): 0, or the 503 answered when every one
 * stays busy for --timeout, its status returned for the handler to return. */
int req_take_db(struct req *rq);

/* recs.c: the ranking and catalogue endpoints; id is the path's id. */
int rec_user(struct req *rq, int64_t user_id);
/* POST /recommendations with its body read already (text, len): the fold-in
 * bulkhead's place is held by the caller. */
int rec_new_user(struct req *rq, const char *text, size_t len);
int rec_similar(struct req *rq, int64_t movie_id);
int rec_search(struct req *rq);
int rec_movie(struct req *rq, int64_t movie_id);
int rec_user_ratings(struct req *rq, int64_t user_id);

/* reload.c: loads what `serving` points at and publishes it when its version
 * differs from the one served. *prev and *now are the versions before and
 * after (0: none). from_poll: a poll finding nothing new is not counted as an
 * "unchanged" reload. Returns 0, or -1 with err (a failure is counted). */
int serve_reload(struct serve_app *app, PGconn *conn, int from_poll, int *prev, int *now,
		 lf_error *err);
int poll_start(struct serve_app *app, lf_error *err);
void poll_stop(struct serve_app *app);

#endif
