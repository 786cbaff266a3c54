/*
 * store_serving.c — see store_serving.h. Moves of a model's serving row take
 * the same advisory lock as ml-pgload's switch ("lensflow:serving:<model>"),
 * so that history rows record the values really replaced.
 */
#include "store_serving.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "util.h"

int store_serving_get(PGconn *c, const char *model, struct serving_row *out, lf_error *err)
{
	const char *p[] = {model};
	PGresult *r = pg_query(c,
			       "SELECT version, coalesce(challenger, 0), challenger_share"
			       " FROM serving WHERE model_name = $1",
			       1, p, err);
	memset(out, 0, sizeof *out);
	if (!r)
		return -1;
	int rc = 0;
	if (PQntuples(r) == 1) {
		int64_t v, ch;
		if (parse_i64(PQgetvalue(r, 0, 0), 1, INT32_MAX, &v) < 0 ||
		    parse_i64(PQgetvalue(r, 0, 1), 0, INT32_MAX, &ch) < 0 ||
		    parse_double(PQgetvalue(r, 0, 2), 0, 1, &out->share) < 0)
			rc = lf_fail(err, EX_DATAERR, "the serving row of %s is malformed", model);
		else {
			out->version = (int)v;
			out->challenger = (int)ch;
			if (!ch)
				out->share = 0;
		}
	}
	PQclear(r);
	return rc;
}

static int set_tx(PGconn *c, const char *model, int challenger, double share, lf_error *err)
{
	char key[80], ver[16], sh[FMT_DOUBLE_MAX];
	snprintf(key, sizeof key, "lensflow:serving:%s", model);
	snprintf(ver, sizeof ver, "%d", challenger);
	fmt_double(sh, challenger ? share : 0.0);
	if (pg_begin(c, err) < 0 || pg_xact_lock(c, key, err) < 0)
		return -1;
	struct serving_row cur;
	if (store_serving_get(c, model, &cur, err) < 0)
		return -1;
	if (!cur.version)
		return lf_fail(err, EX_DATAERR, "no version of %s is served; switch a champion "
			       "first: ml-pgload --switch N", model);
	if (challenger) {
		if (challenger == cur.version)
			return lf_fail(err, EX_DATAERR, "version %d is the champion; a challenger "
				       "is another version", challenger);
		const char *p2[] = {model, ver};
		PGresult *r = pg_query(c, "SELECT 1 FROM embedding_sets WHERE model_name = $1"
				       " AND version = $2", 2, p2, err);
		if (!r)
			return -1;
		int known = PQntuples(r) == 1;
		PQclear(r);
		if (!known)
			return lf_fail(err, EX_DATAERR, "%s version %d is not loaded; load it first: "
				       "ml-pgload --version %d < model.lfe", model, challenger,
				       challenger);
	}
	const char *p3[] = {model, challenger ? ver : NULL, sh};
	if (pg_exec(c, "UPDATE serving SET challenger = $2, challenger_share = $3"
		       " WHERE model_name = $1", 3, p3, err) < 0 ||
	    pg_exec(c, "INSERT INTO serving_history (model_name, from_version, to_version,"
		       " switched_at, challenger, challenger_share)"
		       " SELECT model_name, version, version, now(), challenger, challenger_share"
		       " FROM serving WHERE model_name = $1", 1, p3, err) < 0)
		return -1;
	return pg_commit(c, err);
}

int store_serving_set_challenger(PGconn *c, const char *model, int challenger, double share,
				 lf_error *err)
{
	if (challenger < 0 || !(share >= 0 && share <= 1))
		return lf_fail(err, EX_USAGE, "a challenger's share is from 0 to 1");
	if (set_tx(c, model, challenger, share, err) < 0) {
		pg_rollback(c);
		return -1;
	}
	return 0;
}

int store_serving_drop_promoted(PGconn *c, const char *model, lf_error *err)
{
	const char *p[] = {model};
	return pg_exec(c, "UPDATE serving SET challenger = NULL, challenger_share = 0"
		       " WHERE model_name = $1 AND challenger = version", 1, p, err);
}
