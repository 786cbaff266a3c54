/*
 * routes.c — the one request handler civetweb calls (its begin_request
 * callback, which answers every request, so that civetweb never answers one
 * itself): it matches the path to a route template, checks the method (405
 * with Allow), dispatches, and records the request's count and duration
 * under the template, never the raw path.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "feedback.h"
#include "serve.h"
#include "static.h"
#include "util.h"

struct match {
	enum route_id route;
	const char *allow;   /* methods of the route */
	const char *id;      /* the {id} segment, when the template has one */
	size_t id_len;
};

static int seg_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(p, lit, n) == 0;
}

/* Splits the path into at most 4 segments; returns their count, or -1 for more. */
static int split(const char *path, const char *seg[4], size_t len[4])
{
	int n = 0;
	if (*path != '/')
		return -1;
	if (path[1] == '\0')
		return 0;
	const char *p = path + 1;
	for (;;) {
		if (n == 4)
			return -1;
		const char *e = strchr(p, '/');
		seg[n] = p;
		len[n] = e ? (size_t)(e - p) : strlen(p);
		n++;
		if (!e)
			return n;
		p = e + 1;
	}
}

static int match_path(const char *path, struct match *m)
{
	const char *s[4];
	size_t l[4];
	int n = split(path, s, l);
	m->allow = "GET, HEAD";
	m->id = NULL;
	if (n == 0) {
		m->route = ROUTE_ROOT;
		return 0;
	}
	if (n == 1) {
		static const struct { const char *name; enum route_id r; } one[] = {
			{"healthz", ROUTE_HEALTHZ}, {"readyz", ROUTE_READYZ},
			{"metrics", ROUTE_METRICS}, {"model", ROUTE_MODEL},
		};
		for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
			if (seg_is(s[0], l[0], one[i].name)) {
				m->route = one[i].r;
				return 0;
			}
		if (seg_is(s[0], l[0], "recommendations") || seg_is(s[0], l[0], "feedback")) {
			m->route = s[0][0] == 'r' ? ROUTE_RECS_NEW : ROUTE_FEEDBACK;
			m->allow = "POST";
			return 0;
		}
		return -1;
	}
	if (n == 2 && seg_is(s[0], l[0], "recommendations")) {
		m->route = ROUTE_RECS_USER;
	} else if (n == 2 && seg_is(s[0], l[0], "admin") && seg_is(s[1], l[1], "reload")) {
		m->route = ROUTE_RELOAD;
		m->allow = "POST";
		return 0;
	} else if (n == 2 && seg_is(s[0], l[0], "movies")) {
		m->route = seg_is(s[1], l[1], "search") ? ROUTE_SEARCH : ROUTE_MOVIE;
		if (m->route == ROUTE_SEARCH)
			return 0;
	} else if (n == 3 && seg_is(s[0], l[0], "movies") && seg_is(s[2], l[2], "similar")) {
		m->route = ROUTE_SIMILAR;
	} else if ((n == 3 && seg_is(s[0], l[0], "users") && seg_is(s[2], l[2], "ratings")) ||
		   /* civetweb decodes the path in place: an id of "%00" ends it at "/users/" */
		   (n == 2 && seg_is(s[0], l[0], "users") && l[1] == 0)) {
		m->route = ROUTE_USER_RATINGS;
	} else {
		return -1;
	}
	m->id = s[1];
	m->id_len = l[1];
	return 0;
}

static int method_allowed(const struct match *m, enum method_id method)
{
	if (strcmp(m->allow, "POST") == 0)
		return method == METHOD_POST;
	return method == METHOD_GET || method == METHOD_HEAD;
}

/* A client that sends its next fold-in on the same connection within the
 * Retry-After it was given ignores it: its refusals are paced, one per
 * FOLDIN_PACE_MS on that connection. A closed loop of such clients would
 * otherwise turn refusals into the server's whole CPU (each is a request to
 * read and a reply to write, and the client is back at once), and the known
 * users' answers would queue behind them. A client that waits as told is
 * refused at once. The connection's user data holds the time of its last
 * refusal in ms (0: none; serve_conn_init clears it for each connection). */
#define FOLDIN_RETRY_AFTER "1"
#define FOLDIN_RETRY_AFTER_MS 1000
/* 2 ms keeps a refusal within 5 ms while 32 looping clients are held to about
 * 14k refusals a second on 2 cores (3 ms: 9.5k, but refusals at 5.6 ms p99) */
#define FOLDIN_PACE_MS 2

int serve_conn_init(const struct mg_connection *conn, void **conn_data)
{
	(void)conn;
	*conn_data = NULL;
	return 0;
}

static void pace_refusal(struct req *rq)
{
	uintptr_t now = (uintptr_t)(now_seconds() * 1000.0) | 1u; /* never 0 */
	uintptr_t last = (uintptr_t)mg_get_user_connection_data(rq->conn);
	mg_set_user_connection_data(rq->conn, (void *)now);
	if (last && now - last < FOLDIN_RETRY_AFTER_MS) {
		prom_foldin_paced();
		struct timespec pause = {.tv_nsec = FOLDIN_PACE_MS * 1000000L};
		nanosleep(&pause, NULL);
	}
}

int req_take_db(struct req *rq)
{
	rq->w = db_pool_get(&rq->app->pool, rq->app->cfg.timeout_ms);
	return rq->w ? 0 : reply_unavailable(rq, "every database connection is busy");
}

/* The fold-in bulkhead: a fold-in is CPU-heavy (18 ms for 500 ratings), so at
 * most --foldin-concurrency run at a time and the excess is refused at once.
 * A place is taken once the body has arrived, so that a client slow to send
 * it holds none, and it is held until the answer is written; the fold-in
 * takes a database connection only after it has computed (rec_new_user). */
static int new_user(struct req *rq)
{
	char *text = NULL, msg[160];
	size_t len = 0;
	int status = body_read_json(rq, &text, &len, msg, sizeof msg);
	if (status)
		return reply_error(rq, status, "%s", msg);
	if (!prom_foldin_enter()) {
		free(text);
		pace_refusal(rq);
		rq->hdr_name = "Retry-After";
		rq->hdr_value = FOLDIN_RETRY_AFTER;
		return reply_error(rq, 503, "too many new-user requests at once; retry after 1 s");
	}
	rq->foldin = 1;
	status = rec_new_user(rq, text, len);
	free(text);
	return status;
}

static int dispatch(struct req *rq)
{
	const char *path = rq->ri->local_uri ? rq->ri->local_uri : "";
	int page = static_serve(rq, path); /* the web page: / to a browser, /static/... */
	if (page)
		return page;
	struct match m;
	if (match_path(path, &m) < 0) {
		rq->route = ROUTE_UNMATCHED;
		return reply_error(rq, 404, "no such endpoint; GET / lists them");
	}
	rq->route = m.route;
	if (!method_allowed(&m, rq->method)) {
		rq->hdr_name = "Allow";
		rq->hdr_value = m.allow;
		return reply_error(rq, 405, "%s accepts only %s", route_template(m.route), m.allow);
	}
	int64_t id = 0;
	if (m.id) {
		int kind = path_id(m.id, m.id_len, &id);
		const char *what = m.route == ROUTE_RECS_USER || m.route == ROUTE_USER_RATINGS
					   ? "user" : "movie";
		if (kind < 0)
			return reply_error(rq, 422, "the %s id must be a decimal integer", what);
		if (kind == 0)
			return reply_error(rq, 404, "%s %.*s is unknown", what,
					   m.id_len > 40 ? 40 : (int)m.id_len, m.id);
	}
	if (m.route == ROUTE_RECS_NEW)
		return new_user(rq);
	/* A database connection for the rest of the request, for the routes that use one:
	 * there are fewer of them than civetweb's threads, so a thread waits here when all
	 * are busy, never while a slow client is still sending its request. */
	if (m.route != ROUTE_ROOT && m.route != ROUTE_HEALTHZ && m.route != ROUTE_METRICS &&
	    m.route != ROUTE_MODEL && m.route != ROUTE_FEEDBACK /* its own pool */) {
		int busy = req_take_db(rq);
		if (busy)
			return busy;
	}
	switch (m.route) {
	case ROUTE_ROOT: return op_root(rq);
	case ROUTE_HEALTHZ: return op_healthz(rq);
	case ROUTE_READYZ: return op_readyz(rq);
	case ROUTE_METRICS: return op_metrics(rq);
	case ROUTE_MODEL: return op_model(rq);
	case ROUTE_RELOAD: return op_reload(rq);
	case ROUTE_FEEDBACK: return op_feedback(rq);
	case ROUTE_RECS_USER: return rec_user(rq, id);
	case ROUTE_SEARCH: return rec_search(rq);
	case ROUTE_MOVIE: return rec_movie(rq, id);
	case ROUTE_SIMILAR: return rec_similar(rq, id);
	case ROUTE_USER_RATINGS: return rec_user_ratings(rq, id);
	default: return reply_error(rq, 404, "no such endpoint");
	}
}

int serve_begin(struct mg_connection *conn)
{
	const struct mg_request_info *ri = mg_get_request_info(conn);
	void *app = ri->user_data;
	double start = now_seconds();
	prom_in_flight(1);
	struct req rq = {
		.conn = conn,
		.ri = ri,
		.app = app,
		.route = ROUTE_UNMATCHED,
	};
	rq.method = method_parse(rq.ri->request_method ? rq.ri->request_method : "");
	int status = dispatch(&rq);
	if (rq.w)
		db_pool_put(&((struct serve_app *)app)->pool, rq.w);
	if (rq.foldin)
		prom_foldin_leave();
	prom_in_flight(-1);
	prom_http(rq.route, rq.method, rq.status ? rq.status : status, now_seconds() - start);
	return status > 0 ? status : 500; /* 0 would let civetweb answer the request too */
}

/* civetweb's own errors (a malformed request line, headers too large, ...):
 * answered in JSON like every other error, never with civetweb's page. */
int serve_http_error(struct mg_connection *conn, int status, const char *msg)
{
	struct req rq = {.conn = conn, .ri = mg_get_request_info(conn), .route = ROUTE_UNMATCHED};
	if (!rq.ri)
		return 1;
	rq.method = method_parse(rq.ri->request_method ? rq.ri->request_method : "");
	if (status < 400 || status > 599)
		status = 400;
	reply_error(&rq, status, "%s", msg && *msg ? msg : "the request could not be read");
	prom_http(ROUTE_UNMATCHED, rq.method, status, 0);
	return 0;
}
