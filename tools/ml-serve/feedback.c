/*
 * feedback.c — see feedback.h. The body is checked whole before a database
 * connection is taken, so that a malformed batch costs no round trip and
 * stores nothing; the catalogue check of the movies happens in the insert
 * statement itself (lib/store_feedback.c), which then stores nothing either.
 */
#include "feedback.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body.h"
#include "live.h"
#include "serve.h"
#include "util.h"

/* Timestamps from 1970 to the end of 9999: what a rating's time can be. */
#define TS_MAX INT64_C(253402300799)

void feedback_batch_free(struct feedback_batch *b)
{
	free(b->ev);
	json_decref(b->json);
	memset(b, 0, sizeof *b);
}

static int request_id_ok(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= FEEDBACK_REQUEST_ID_MAX &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* One event object into *e; 0, or -1 with msg (prefixed by where). */
static int parse_event(json_t *o, const char *where, int64_t now, struct feedback_event *e,
		       char *msg, size_t msg_len)
{
	if (!json_is_object(o)) {
		snprintf(msg, msg_len, "%s must be an object {\"user_id\", \"movie_id\", \"rating\"}",
			 where);
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (strcmp(key, "user_id") != 0 && strcmp(key, "movie_id") != 0 &&
		    strcmp(key, "rating") != 0 && strcmp(key, "timestamp") != 0 &&
		    strcmp(key, "request_id") != 0) {
			snprintf(msg, msg_len, "%s has an unknown field; expected user_id, movie_id, "
				 "rating, timestamp, request_id", where);
			return -1;
		}
	}
	json_t *u = json_object_get(o, "user_id"), *m = json_object_get(o, "movie_id");
	json_t *r = json_object_get(o, "rating"), *t = json_object_get(o, "timestamp");
	json_t *q = json_object_get(o, "request_id");
	if (!json_is_integer(u) || json_integer_value(u) < 1 || json_integer_value(u) > INT32_MAX) {
		snprintf(msg, msg_len, "%s.user_id must be an integer from 1 to 2147483647", where);
		return -1;
	}
	if (!json_is_integer(m) || json_integer_value(m) < 1 || json_integer_value(m) > INT32_MAX) {
		snprintf(msg, msg_len, "%s.movie_id must be a positive integer movie id", where);
		return -1;
	}
	double stars = json_is_number(r) ? json_number_value(r) : NAN;
	if (!(stars >= 0.5 && stars <= 5) || stars * 2 != floor(stars * 2)) {
		snprintf(msg, msg_len, "%s.rating must be a number from 0.5 to 5 in steps of 0.5",
			 where);
		return -1;
	}
	if (t && (!json_is_integer(t) || json_integer_value(t) < 0 ||
		  json_integer_value(t) > TS_MAX)) {
		snprintf(msg, msg_len, "%s.timestamp must be an integer of unix seconds", where);
		return -1;
	}
	if (q && (!json_is_string(q) || !request_id_ok(json_string_value(q)))) {
		snprintf(msg, msg_len, "%s.request_id must be 1 to %d of A-Z a-z 0-9 . _ : -", where,
			 FEEDBACK_REQUEST_ID_MAX);
		return -1;
	}
	e->user_id = (int32_t)json_integer_value(u);
	e->movie_id = (int32_t)json_integer_value(m);
	e->half_stars = (int)(stars * 2);
	e->rated_at = t ? json_integer_value(t) : now;
	e->request_id = q ? json_string_value(q) : NULL;
	return 0;
}

int feedback_parse(const char *text, size_t len, int64_t now, struct feedback_batch *b,
		   char *msg, size_t msg_len)
{
	memset(b, 0, sizeof *b);
	if (json_too_deep(text, len)) {
		snprintf(msg, msg_len, "the JSON body is nested more deeply than its schema");
		return 422;
	}
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(msg, msg_len, "the body is not valid JSON: %s (line %d, column %d)", je.text,
			 je.line, je.column);
		return 422;
	}
	b->json = root;
	json_t *events = json_object_get(root, "events");
	if (!json_is_object(root)) {
		snprintf(msg, msg_len, "the body must be one event {\"user_id\", \"movie_id\", "
			 "\"rating\"} or {\"events\": [...]}");
		goto fail;
	}
	if (events) {
		if (json_object_size(root) != 1) {
			snprintf(msg, msg_len, "a batch has only the field \"events\"");
			goto fail;
		}
		if (!json_is_array(events) || json_array_size(events) == 0) {
			snprintf(msg, msg_len, "events must be a list of 1 to %d events",
				 FEEDBACK_MAX_EVENTS);
			goto fail;
		}
		if (json_array_size(events) > FEEDBACK_MAX_EVENTS) {
			snprintf(msg, msg_len, "events has %zu events; send at most %d a request",
				 json_array_size(events), FEEDBACK_MAX_EVENTS);
			goto fail;
		}
	}
	size_t n = events ? json_array_size(events) : 1;
	b->ev = calloc(n, sizeof *b->ev);
	if (!b->ev) {
		snprintf(msg, msg_len, "out of memory");
		feedback_batch_free(b);
		return 503;
	}
	b->single = !events;
	for (size_t i = 0; i < n; i++) {
		char where[32];
		if (events)
			snprintf(where, sizeof where, "events[%zu]", i);
		else
			snprintf(where, sizeof where, "the event");
		if (parse_event(events ? json_array_get(events, i) : root, where, now, &b->ev[i], msg,
				msg_len) < 0)
			goto fail;
	}
	b->n = n;
	return 0;
fail:
	feedback_batch_free(b);
	return 422;
}

/* Stores the batch on a feedback connection: 0 (counts set), 1 (*bad), -1 (err). */
static int store(struct serve_app *app, const struct feedback_batch *b, size_t *accepted,
		 size_t *duplicates, size_t *bad, lf_error *err)
{
	struct worker *w = db_pool_get(&app->feedback_pool, app->cfg.timeout_ms);
	if (!w)
		return lf_fail(err, EX_UNAVAILABLE, "every feedback connection is busy");
	int rc = -1;
	double start = now_seconds();
	for (int attempt = 0; attempt < 2; attempt++) {
		int fresh = !w->conn;
		PGconn *c = db_worker_conn(w, err);
		if (!c)
			break;
		if (!w->feedback_prepared) {
			if (store_feedback_prepare(c, err) < 0)
				goto broken;
			w->feedback_prepared = 1;
		}
		/* Idempotent (ON CONFLICT DO NOTHING): a batch that committed before
		 * the connection broke is found again, as duplicates. */
		rc = store_feedback_insert(c, b->ev, b->n, accepted, duplicates, bad, err);
		if (rc >= 0)
			break;
broken:
		rc = -1;
		int lost = PQstatus(c) != CONNECTION_OK;
		db_worker_close(w);
		if (!lost || fresh)
			break;
	}
	prom_db(Q_FEEDBACK, now_seconds() - start);
	if (rc < 0)
		prom_db_error(Q_FEEDBACK);
	db_pool_put(&app->feedback_pool, w);
	return rc;
}

int op_feedback(struct req *rq)
{
	int refused = bearer_refused(rq, rq->app->cfg.feedback_token,
				     "feedback is disabled: set LENSFLOW_FEEDBACK_TOKEN");
	if (refused)
		return refused;
	if (!content_type_is_json(mg_get_header(rq->conn, "Content-Type")))
		return reply_error(rq, 415, "the body must be JSON: send Content-Type: "
				   "application/json");
	char *text = NULL;
	size_t len = 0, max = rq->app->cfg.max_feedback_body;
	int status = read_body(rq, max, &text, &len);
	if (status == 413)
		return reply_error(rq, 413, "request body exceeds %zu bytes; send at most %d "
				   "events a request", max, FEEDBACK_MAX_EVENTS);
	if (status)
		return reply_error(rq, status, "the request body could not be read");
	char msg[256];
	struct feedback_batch b;
	status = feedback_parse(text, len, (int64_t)time(NULL), &b, msg, sizeof msg);
	free(text);
	if (status) {
		prom_feedback(FEEDBACK_REJECTED, 1);
		return reply_error(rq, status, "%s", msg);
	}
	size_t accepted = 0, duplicates = 0, bad = 0;
	lf_error err = {0};
	int rc = store(rq->app, &b, &accepted, &duplicates, &bad, &err);
	if (rc == 1) {
		prom_feedback(FEEDBACK_REJECTED, 1);
		char where[32];
		if (b.single)
			snprintf(where, sizeof where, "the event");
		else
			snprintf(where, sizeof where, "events[%zu]", bad);
		rc = reply_error(rq, 422, "%s.movie_id: movie %lld is not in the catalogue; nothing "
				 "of this request was stored", where, (long long)b.ev[bad].movie_id);
	} else if (rc < 0) {
		rc = reply_unavailable(rq, err.msg);
	} else {
		prom_feedback(FEEDBACK_ACCEPTED, accepted);
		prom_feedback(FEEDBACK_DUPLICATE, duplicates);
		rc = reply_json(rq, 202, json_pack("{s:I, s:I}", "accepted", (json_int_t)accepted,
						   "duplicates", (json_int_t)duplicates));
	}
	feedback_batch_free(&b);
	return rc;
}
