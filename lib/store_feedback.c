/*
 * store_feedback.c — see store_feedback.h. The batch travels as five arrays
 * (text parameters in array syntax) unnested WITH ORDINALITY, so one
 * statement checks and inserts up to a thousand events: one round trip and
 * one commit per request, whatever its size.
 */
#include "store_feedback.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util.h"

static const char INSERT_SQL[] =
	"WITH ev AS (SELECT * FROM unnest($1::int[], $2::int[], $3::real[], $4::bigint[],"
	"  $5::text[]) WITH ORDINALITY AS e(user_id, movie_id, rating, ts, request_id, i)),"
	" bad AS (SELECT min(i) AS i FROM ev WHERE NOT EXISTS"
	"  (SELECT 1 FROM movies m WHERE m.movie_id = ev.movie_id)),"
	" ins AS (INSERT INTO feedback (user_id, movie_id, rating, rated_at, request_id)"
	"  SELECT user_id, movie_id, rating, to_timestamp(ts), request_id FROM ev"
	"  WHERE (SELECT i FROM bad) IS NULL ON CONFLICT DO NOTHING RETURNING 1)"
	" SELECT (SELECT i FROM bad), (SELECT count(*) FROM ins)";

int store_feedback_prepare(PGconn *c, lf_error *err)
{
	PGresult *r = PQprepare(c, FEEDBACK_STATEMENT, INSERT_SQL, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		pg_fail_result(err, c, r, "preparing the feedback insert");
		PQclear(r);
		return -1;
	}
	PQclear(r);
	return 0;
}

/* An array literal being written into a fixed buffer sized for its worst case. */
struct arr {
	char *p;
	size_t len;
};

static void arr_put(struct arr *a, const char *s, size_t n)
{
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
}

int store_feedback_insert(PGconn *c, const struct feedback_event *ev, size_t n,
			  size_t *accepted, size_t *duplicates, size_t *bad, lf_error *err)
{
	if (n == 0 || n > FEEDBACK_MAX_EVENTS)
		return lf_fail(err, EX_SOFTWARE, "a feedback batch of %zu events", n);
	/* worst cases per element: an int32 with a comma (12), a rating "4.5," (4),
	 * an int64 (21), a quoted request id (FEEDBACK_REQUEST_ID_MAX + 3) */
	size_t caps[5] = {n * 12 + 3, n * 12 + 3, n * 4 + 3, n * 21 + 3,
			  n * (FEEDBACK_REQUEST_ID_MAX + 3) + 3};
	struct arr a[5];
	char *mem = malloc(caps[0] + caps[1] + caps[2] + caps[3] + caps[4]);
	if (!mem)
		return lf_fail(err, EX_OSERR, "out of memory");
	for (size_t j = 0, off = 0; j < 5; off += caps[j], j++) {
		a[j].p = mem + off;
		a[j].len = 0;
		arr_put(&a[j], "{", 1);
	}
	char num[32];
	for (size_t i = 0; i < n; i++) {
		const char *sep = i ? "," : "";
		int len = snprintf(num, sizeof num, "%s%" PRId32, sep, ev[i].user_id);
		arr_put(&a[0], num, (size_t)len);
		len = snprintf(num, sizeof num, "%s%" PRId32, sep, ev[i].movie_id);
		arr_put(&a[1], num, (size_t)len);
		len = snprintf(num, sizeof num, "%s%d%s", sep, ev[i].half_stars / 2,
			       ev[i].half_stars % 2 ? ".5" : "");
		arr_put(&a[2], num, (size_t)len);
		len = snprintf(num, sizeof num, "%s%" PRId64, sep, ev[i].rated_at);
		arr_put(&a[3], num, (size_t)len);
		arr_put(&a[4], sep, strlen(sep));
		if (ev[i].request_id) {
			size_t rl = strnlen(ev[i].request_id, FEEDBACK_REQUEST_ID_MAX);
			arr_put(&a[4], "\"", 1);
			arr_put(&a[4], ev[i].request_id, rl);
			arr_put(&a[4], "\"", 1);
		} else {
			arr_put(&a[4], "NULL", 4);
		}
	}
	const char *vals[5];
	for (size_t j = 0; j < 5; j++) {
		arr_put(&a[j], "}", 1);
		vals[j] = a[j].p;
	}
	PGresult *r = PQexecPrepared(c, FEEDBACK_STATEMENT, 5, vals, NULL, NULL, 0);
	free(mem);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pg_fail_result(err, c, r, "storing feedback");
		if (PQstatus(c) != CONNECTION_OK)
			err->code = EX_UNAVAILABLE;
		PQclear(r);
		return -1;
	}
	int64_t first_bad = 0, stored = 0;
	if (!PQgetisnull(r, 0, 0)) {
		if (parse_i64(PQgetvalue(r, 0, 0), 1, (int64_t)n, &first_bad) < 0) {
			PQclear(r);
			return lf_fail(err, EX_SOFTWARE, "the feedback insert answered a bad index");
		}
		PQclear(r);
		*bad = (size_t)first_bad - 1;
		return 1;
	}
	if (parse_i64(PQgetvalue(r, 0, 1), 0, (int64_t)n, &stored) < 0) {
		PQclear(r);
		return lf_fail(err, EX_SOFTWARE, "the feedback insert answered a bad count");
	}
	PQclear(r);
	*accepted = (size_t)stored;
	*duplicates = n - (size_t)stored;
	return 0;
}
