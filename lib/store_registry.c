/*
 * store_registry.c — which set serves, and the sets' lifecycle: switch (one
 * upsert of the serving row plus a serving_history row, in one transaction),
 * the serving version, the list of sets, and pruning old sets.
 *
 * Moves of one model's serving row are serialised by an advisory lock, so
 * that serving_history's from_version is always the version really replaced.
 */
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "store.h"
#include "store_compact.h"
#include "util.h"

static int serving_lock(PGconn *c, const char *model, lf_error *err)
{
	char key[80];
	snprintf(key, sizeof key, "lensflow:serving:%s", model);
	return pg_xact_lock(c, key, err);
}

static int switch_tx(PGconn *c, const char *model, int32_t version, lf_error *err)
{
	char ver[16];
	PGresult *res;

	snprintf(ver, sizeof ver, "%d", version);
	const char *p2[] = {model, ver};
	if (pg_begin(c, err) < 0 || serving_lock(c, model, err) < 0)
		return -1;
	res = pg_query(c, "SELECT 1 FROM embedding_sets WHERE model_name = $1 AND version = $2", 2,
		       p2, err);
	if (!res)
		return -1;
	int known = PQntuples(res) == 1;
	PQclear(res);
	if (!known)
		return lf_fail(err, EX_DATAERR,
			       "%s version %d is not loaded; load it first: ml-pgload --load %d "
			       "< model.lfe",
			       model, version, version);
	const char *p1[] = {model};
	res = pg_query(c, "SELECT version FROM serving WHERE model_name = $1", 1, p1, err);
	if (!res)
		return -1;
	char from[16] = "";
	if (PQntuples(res) == 1)
		snprintf(from, sizeof from, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (strcmp(from, ver) == 0) /* already served: no move to record */
		return pg_commit(c, err);
	const char *p3[] = {model, ver, *from ? from : NULL};
	if (pg_exec(c,
		    "INSERT INTO serving (model_name, version, switched_at) VALUES ($1, $2, now()) "
		    "ON CONFLICT (model_name) DO UPDATE SET version = EXCLUDED.version, "
		    "switched_at = EXCLUDED.switched_at",
		    2, p3, err) < 0 ||
	    pg_exec(c,
		    "INSERT INTO serving_history (model_name, from_version, to_version, "
		    "switched_at) "
		    "VALUES ($1, $3, $2, now())",
		    3, p3, err) < 0)
		return -1;
	return pg_commit(c, err);
}

int store_switch(PGconn *c, const char *model, int32_t version, FILE *out, lf_error *err)
{
	if (switch_tx(c, model, version, err) < 0) {
		pg_rollback(c);
		return -1;
	}
	fprintf(out, "serving %d\n", version);
	return 0;
}

int store_serving(PGconn *c, const char *model, FILE *out, lf_error *err)
{
	const char *p1[] = {model};
	PGresult *res =
		pg_query(c, "SELECT version FROM serving WHERE model_name = $1", 1, p1, err);

	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return lf_fail(err, EX_NOINPUT,
			       "no version of %s is serving; switch one with --switch N", model);
	}
	fprintf(out, "%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int store_list(PGconn *c, FILE *out, lf_error *err)
{
	PGresult *res = pg_query(
		c,
		"SELECT e.model_name, e.version, e.dim, e.n_users, e.n_items, e.index_kind, "
		"CASE WHEN s.version IS NULL THEN 'no' ELSE 'yes' END, "
		"to_char(e.loaded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
		"coalesce(e.run_id, ''), e.checksum "
		"FROM embedding_sets e LEFT JOIN serving s "
		"ON s.model_name = e.model_name AND s.version = e.version "
		"ORDER BY e.model_name, e.version",
		0, NULL, err);
	if (!res)
		return -1;
	for (int r = 0; r < PQntuples(res); r++)
		for (int f = 0; f < PQnfields(res); f++)
			fprintf(out, "%s%c", PQgetvalue(res, r, f),
				f + 1 < PQnfields(res) ? '\t' : '\n');
	PQclear(res);
	return 0;
}

static int drop_set(PGconn *c, const char *model, const PGresult *sets, int row, lf_error *err)
{
	char q[4][PG_IDENT_MAX], sql[4 * PG_IDENT_MAX + 64], key[96];
	const char *ver = PQgetvalue(sets, row, 0);
	int n = PQgetvalue(sets, row, 4)[0] ? 4 : 3; /* the EASE fold-in table, if any */

	snprintf(key, sizeof key, "lensflow:set:%s:%s", model, ver);
	for (int i = 0; i < n; i++)
		if (pg_ident(c, PQgetvalue(sets, row, 1 + i), q[i], sizeof q[i], err) < 0)
			return -1;
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s, %s, %s%s%s", q[0], q[1], q[2],
		 n == 4 ? ", " : "", n == 4 ? q[3] : "");
	const char *p2[] = {model, ver};
	if (pg_xact_lock(c, key, err) < 0 || pg_exec(c, sql, 0, NULL, err) < 0 ||
	    store_compact_drop(c, model, ver, err) < 0 ||
	    pg_exec(c, "DELETE FROM embedding_sets WHERE model_name = $1 AND version = $2", 2, p2,
		    err) < 0)
		return -1;
	return 0;
}

static int prune_tx(PGconn *c, const char *model, int64_t keep, FILE *out, lf_error *err)
{
	const char *p1[] = {model};
	PGresult *res, *sets;
	char serving[16] = "", previous[16] = "";

	if (pg_begin(c, err) < 0 || serving_lock(c, model, err) < 0)
		return -1;
	/* the serving version and the one it replaced (the rollback target) stay */
	res = pg_query(c,
		       "SELECT s.version, (SELECT h.from_version FROM serving_history h "
		       "WHERE h.model_name = s.model_name AND h.to_version = s.version "
		       "ORDER BY h.id DESC LIMIT 1) FROM serving s WHERE s.model_name = $1",
		       1, p1, err);
	if (!res)
		return -1;
	if (PQntuples(res) == 1) {
		snprintf(serving, sizeof serving, "%s", PQgetvalue(res, 0, 0));
		snprintf(previous, sizeof previous, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	sets = pg_query(c,
			"SELECT version, users_table, items_table, directions_table, "
			"coalesce(foldin->>'ease_table', '') FROM embedding_sets WHERE model_name = $1 ORDER BY version DESC",
			1, p1, err);
	if (!sets)
		return -1;
	for (int r = 0; r < PQntuples(sets); r++) {
		const char *v = PQgetvalue(sets, r, 0);
		if (r < keep || strcmp(v, serving) == 0 || strcmp(v, previous) == 0)
			continue;
		if (drop_set(c, model, sets, r, err) < 0) {
			PQclear(sets);
			return -1;
		}
		fprintf(out, "%s\t%s\n", model, v);
	}
	PQclear(sets);
	return pg_commit(c, err);
}

int store_prune(PGconn *c, const char *model, int64_t keep, FILE *out, lf_error *err)
{
	/* what was dropped is printed only once the drop is committed */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);

	if (!mem)
		return lf_fail(err, EX_OSERR, "out of memory");
	int rc = prune_tx(c, model, keep, mem, err);
	if (fclose(mem) != 0 && rc == 0)
		rc = lf_fail(err, EX_OSERR, "out of memory");
	if (rc < 0)
		pg_rollback(c);
	else
		fwrite(buf, 1, len, out);
	free(buf);
	return rc;
}
