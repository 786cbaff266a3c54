/*
 * ops.c — the operations endpoints: /, /healthz, /readyz, /metrics, /model
 * and /admin/reload (bearer token compared in constant time).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "serve.h"

static json_t *version_json(int v)
{
	char s[16];
	if (v <= 0)
		return json_null();
	snprintf(s, sizeof s, "%d", v);
	return json_string(s);
}

int op_root(struct req *rq)
{
	return reply_json(
		rq, 200,
		json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s]}", "service", "ml-serve", "version",
			  LENSFLOW_VERSION, "endpoints", "GET /recommendations/{user_id}?k=10",
			  "POST /recommendations", "GET /movies/{movie_id}/similar?k=10",
			  "GET /movies/search?q=&limit=10", "GET /movies/{movie_id}",
			  "GET /users/{user_id}/ratings?limit=10", "GET /model", "GET /healthz",
			  "GET /readyz", "GET /metrics", "POST /admin/reload", "POST /feedback",
			  "GET /"));
}

int op_healthz(struct req *rq)
{
	return reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}

int op_readyz(struct req *rq)
{
	struct snapshot *s = snapshot_current();
	lf_error err = {0};
	const char *problem = NULL;
	/* The database first: when it is down, that is the reason nothing is loaded. */
	PGresult *r = db_query(rq->w, Q_PING, NULL, 1, 0, NULL, &err);
	if (!r)
		problem = err.msg;
	else if (!s)
		problem = "no model loaded";
	PQclear(r);
	int version = s ? s->version : 0;
	snapshot_release(s);
	prom_set_ready(problem == NULL);
	if (!problem)
		return reply_json(rq, 200, json_pack("{s:s, s:o, s:n}", "status", "ready",
						     "model_version", version_json(version), "detail"));
	rq->hdr_name = "Retry-After";
	rq->hdr_value = "5";
	return reply_json(rq, 503, json_pack("{s:s, s:o, s:s, s:s, s:s}", "status", "unavailable",
					     "model_version", version_json(version), "detail",
					     problem, "error", "unavailable", "message", problem));
}

int op_metrics(struct req *rq)
{
	struct snapshot *s = snapshot_current();
	struct prom_model mm = {.name = rq->app->cfg.model_name};
	if (s) {
		mm.version = s->version;
		mm.run_id = s->run_id;
		mm.loaded_at = s->loaded_at;
		mm.n_offline = s->n_metrics;
		mm.offline_names = (const char *const *)s->metric_names;
		mm.offline_values = s->metric_values;
	}
	size_t len = 0;
	char *text = prom_render(&mm, &len);
	snapshot_release(s);
	if (!text)
		return reply_unavailable(rq, "out of memory while rendering the metrics");
	int rc = reply_raw(rq, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
	return rc;
}

static json_t *metrics_json(const struct snapshot *s)
{
	json_t *metrics = json_object();
	for (size_t i = 0; metrics && i < s->n_metrics; i++)
		json_object_set_new(metrics, s->metric_names[i], json_real(s->metric_values[i]));
	return metrics ? metrics : json_object();
}

int op_model(struct req *rq)
{
	struct snapshot *s = snapshot_current();
	if (!s)
		return reply_unavailable(rq, "no model loaded yet");
	json_t *metrics = metrics_json(s);
	/* The served set is the champion unless the registry says another version is. */
	int champion = prom_champion();
	json_t *body = json_pack(
		"{s:s, s:o, s:o, s:s, s:o, s:f, s:I, s:I, s:I}", "name", s->model_name, "version",
		version_json(s->version), "alias",
		champion == 0 || champion == s->version ? json_string("champion") : json_null(),
		"run_id", s->run_id, "metrics", metrics ? metrics : json_object(), "loaded_at",
		s->loaded_at, "dim", (json_int_t)s->dim, "n_users", (json_int_t)s->n_users,
		"n_items", (json_int_t)s->n_items);
	snapshot_release(s);
	/* The challenger beside it: its version, run, offline metrics and share of users. */
	struct snapshot *ch = snapshot_current_arm(ARM_CHALLENGER);
	json_t *challenger = ch ? json_pack("{s:o, s:s, s:o, s:f, s:I, s:I}", "version",
					    version_json(ch->version), "run_id", ch->run_id,
					    "metrics", metrics_json(ch), "share", snapshot_share(),
					    "n_users", (json_int_t)ch->n_users, "n_items",
					    (json_int_t)ch->n_items)
				: json_null();
	snapshot_release(ch);
	if (body)
		json_object_set_new(body, "challenger", challenger ? challenger : json_null());
	else
		json_decref(challenger);
	return reply_json(rq, 200, body);
}

/* Equal in time whatever the first difference: every byte of the longer is read. */
static int token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen > blen ? alen : blen;
	unsigned diff = (unsigned)(alen ^ blen);
	for (size_t i = 0; i < n; i++) {
		unsigned char x = i < alen ? (unsigned char)a[i] : 0;
		unsigned char y = i < blen ? (unsigned char)b[i] : 0;
		diff |= (unsigned)(x ^ y);
	}
	return diff == 0;
}

int bearer_refused(struct req *rq, const char *token, const char *disabled)
{
	rq->hdr_name = "WWW-Authenticate";
	rq->hdr_value = "Bearer";
	if (!token || !*token)
		return reply_error(rq, 401, "%s", disabled);
	const char *auth = mg_get_header(rq->conn, "Authorization");
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0 ||
	    !token_equal(auth + 7, strlen(auth + 7), token, strlen(token)))
		return reply_error(rq, 401, "missing or wrong bearer token");
	rq->hdr_name = rq->hdr_value = NULL;
	return 0;
}

int op_reload(struct req *rq)
{
	int refused = bearer_refused(rq, rq->app->cfg.admin_token,
				     "admin endpoints are disabled: set LENSFLOW_ADMIN_TOKEN");
	if (refused)
		return refused;

	lf_error err = {0};
	PGconn *conn = db_worker_conn(rq->w, &err);
	int prev = 0, now = 0;
	if (!conn)
		return reply_unavailable(rq, err.msg);
	if (serve_reload(rq->app, conn, 0, &prev, &now, &err) < 0) {
		if (err.code == EX_UNAVAILABLE) {
			db_worker_close(rq->w);
			return reply_unavailable(rq, err.msg);
		}
		return reply_error(rq, 409, "cannot reload: %s", err.msg);
	}
	return reply_json(rq, 200, json_pack("{s:o, s:o, s:b}", "previous_version",
					     version_json(prev), "version", version_json(now),
					     "changed", prev != now));
}
