/*
 * store_online.c — see store_online.h. Exports stream COPY (query) TO STDOUT,
 * text format, into one buffer: tab-separated, a newline a row; the values
 * (integers, reals, validated request ids) need none of COPY's escapes.
 */
#include "store_online.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util.h"

static const struct {
	const char *name, *sql;
} EXPORTS[] = {
	{"ratings",
	 "COPY (SELECT user_id, movie_id, rating, ts FROM (SELECT DISTINCT ON (user_id, movie_id)"
	 " user_id, movie_id, rating, ts FROM (SELECT user_id, movie_id, rating::real AS rating,"
	 " floor(extract(epoch FROM rated_at))::bigint AS ts, 0 AS src FROM ratings UNION ALL"
	 " SELECT user_id, movie_id, rating, floor(extract(epoch FROM rated_at))::bigint, 1"
	 " FROM feedback) e ORDER BY user_id, movie_id, ts DESC, src DESC) l"
	 " ORDER BY user_id, movie_id) TO STDOUT"},
	{"feedback",
	 "COPY (SELECT user_id, movie_id, rating, floor(extract(epoch FROM rated_at))::bigint,"
	 " coalesce(request_id, '') FROM feedback ORDER BY rated_at, user_id, movie_id)"
	 " TO STDOUT"},
	{"impressions",
	 "COPY (SELECT request_id, to_char(extract(epoch FROM served_at), 'FM9999999999990.000000'),"
	 " coalesce(user_id::text, ''), model_name, model_version, arm,"
	 " array_to_string(movie_ids, ',') FROM impressions ORDER BY served_at, request_id)"
	 " TO STDOUT"},
};

int store_export_known(const char *name)
{
	for (size_t i = 0; i < sizeof EXPORTS / sizeof EXPORTS[0]; i++)
		if (strcmp(name, EXPORTS[i].name) == 0)
			return 1;
	return 0;
}

int store_export(PGconn *c, const char *name, char **out, size_t *len, lf_error *err)
{
	const char *sql = NULL;
	for (size_t i = 0; i < sizeof EXPORTS / sizeof EXPORTS[0]; i++)
		if (strcmp(name, EXPORTS[i].name) == 0)
			sql = EXPORTS[i].sql;
	if (!sql)
		return lf_fail(err, EX_USAGE, "no table '%s' to export", name);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		pg_fail_result(err, c, r, name);
		PQclear(r);
		return -1;
	}
	PQclear(r);
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *row = NULL;
	int got, rc = 0;
	/* every row is read, even after an allocation failed, so the connection stays usable */
	while ((got = PQgetCopyData(c, &row, 0)) > 0) {
		if (buf && n + (size_t)got + 1 > cap) {
			while (n + (size_t)got + 1 > cap)
				cap *= 2;
			char *b = realloc(buf, cap);
			if (!b)
				free(buf);
			buf = b;
		}
		if (buf) {
			memcpy(buf + n, row, (size_t)got);
			n += (size_t)got;
		}
		PQfreemem(row);
	}
	if (!buf) {
		rc = lf_fail(err, EX_OSERR, "out of memory exporting %s", name);
	} else if (got == -2) {
		rc = pg_fail_result(err, c, NULL, name);
	}
	while ((r = PQgetResult(c)) != NULL) {
		if (rc == 0 && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = pg_fail_result(err, c, r, name);
		PQclear(r);
	}
	if (rc < 0 || !buf) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static const char AGGREGATE_SQL[] =
	"SELECT i.model_version, i.arm = 'challenger', count(*), count(*) FILTER (WHERE"
	" EXISTS (SELECT 1 FROM feedback f WHERE f.user_id = i.user_id"
	"  AND f.movie_id = ANY (i.movie_ids[1:$3]) AND f.rated_at >= date_trunc('second', i.served_at)"
	"  AND f.rated_at <= i.served_at + make_interval(secs => $2))"
	" OR EXISTS (SELECT 1 FROM feedback f WHERE f.request_id = i.request_id"
	"  AND f.movie_id = ANY (i.movie_ids[1:$3]) AND f.rated_at >= date_trunc('second', i.served_at)"
	"  AND f.rated_at <= i.served_at + make_interval(secs => $2)))"
	" FROM impressions i WHERE i.model_name = $1"
	" AND i.served_at > now() - make_interval(secs => $2)"
	" GROUP BY 1, 2 ORDER BY 1, 2";

int store_online_aggregate(PGconn *c, const char *model, double window_s, int k,
			   struct online_row *rows, int max, lf_error *err)
{
	char w[32], kk[16];
	snprintf(w, sizeof w, "%.3f", window_s);
	snprintf(kk, sizeof kk, "%d", k);
	const char *p[] = {model, w, kk};
	PGresult *r = pg_query(c, AGGREGATE_SQL, 3, p, err);
	if (!r)
		return -1;
	int n = 0;
	for (int i = 0; i < PQntuples(r) && n < max; i++) {
		int64_t v, imp, hits;
		if (parse_i64(PQgetvalue(r, i, 0), 1, INT32_MAX, &v) < 0 ||
		    parse_i64(PQgetvalue(r, i, 2), 0, INT64_MAX, &imp) < 0 ||
		    parse_i64(PQgetvalue(r, i, 3), 0, INT64_MAX, &hits) < 0)
			continue;
		rows[n].version = (int)v;
		rows[n].challenger = PQgetvalue(r, i, 1)[0] == 't';
		rows[n].impressions = imp;
		rows[n].hits = hits;
		n++;
	}
	PQclear(r);
	return n;
}

static const char DRIFT_SQL[] =
	"WITH f AS (SELECT movie_id, rating FROM feedback"
	"  WHERE rated_at > now() - make_interval(secs => $1)),"
	" e AS (SELECT movie_id, count(*)::float8 / sum(count(*)) OVER () AS p FROM ratings GROUP BY 1),"
	" a AS (SELECT movie_id, count(*)::float8 / sum(count(*)) OVER () AS p FROM f GROUP BY 1)"
	" SELECT (SELECT count(*) FROM f), (SELECT avg(rating)::float8 FROM f),"
	" (SELECT avg(rating)::float8 FROM ratings),"
	" (SELECT coalesce(sum((coalesce(a.p, 0) - coalesce(e.p, 0))"
	"   * ln((coalesce(a.p, 0) + 1e-4) / (coalesce(e.p, 0) + 1e-4))), 0)"
	"  FROM e FULL JOIN a USING (movie_id) WHERE EXISTS (SELECT 1 FROM f))";

int store_drift(PGconn *c, double window_s, struct drift_row *out, lf_error *err)
{
	char w[32];
	snprintf(w, sizeof w, "%.3f", window_s);
	const char *p[] = {w};
	PGresult *r = pg_query(c, DRIFT_SQL, 1, p, err);
	if (!r)
		return -1;
	int rc = 0;
	out->feedback_mean = out->training_mean = NAN;
	out->psi = 0;
	if (PQntuples(r) != 1 || parse_i64(PQgetvalue(r, 0, 0), 0, INT64_MAX, &out->events) < 0 ||
	    (!PQgetisnull(r, 0, 1) && parse_double(PQgetvalue(r, 0, 1), 0, 10, &out->feedback_mean) < 0) ||
	    (!PQgetisnull(r, 0, 2) && parse_double(PQgetvalue(r, 0, 2), 0, 10, &out->training_mean) < 0) ||
	    parse_double(PQgetvalue(r, 0, 3), -1e9, 1e9, &out->psi) < 0)
		rc = lf_fail(err, EX_DATAERR, "the drift aggregate answered something unexpected");
	PQclear(r);
	return rc;
}
