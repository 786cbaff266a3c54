/*
 * store_compact.c — see store_compact.h. Vectors are written by binary COPY
 * and read back in binary (pgvector's send format: int16 dim, int16 unused,
 * dim big-endian float4).
 */
#include "store_compact.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

void store_compact_names(const char *model, int version, char *fold, char *map, size_t cap)
{
	snprintf(fold, cap, "lf_%s_v%d_fold", model, version);
	snprintf(map, cap, "lf_%s_v%d_map", model, version);
}

static int copy_rows(PGconn *c, const char *qtable, const char *cols, const lfe_table *t,
		     lf_error *err)
{
	char sql[PG_IDENT_MAX + 96];
	pg_copy cp;
	snprintf(sql, sizeof sql, "COPY %s (%s) FROM STDIN (FORMAT binary)", qtable, cols);
	if (pg_copy_begin(&cp, c, sql, err) < 0)
		return -1;
	for (uint32_t r = 0; r < t->rows; r++) {
		if (pg_copy_row(&cp, 2, err) < 0) {
			pg_copy_abort(&cp);
			return -1;
		}
		pg_copy_int4(&cp, t->ids[r]);
		pg_copy_vector(&cp, t->values + (size_t)r * t->dim, t->dim);
	}
	return pg_copy_end(&cp, err);
}

int store_compact_write(PGconn *c, const char *model, int version, const lfe_table *fold,
			const lfe_table *map, lf_error *err)
{
	char raw[2][PG_IDENT_MAX], q[2][PG_IDENT_MAX], sql[2 * PG_IDENT_MAX + 160];
	store_compact_names(model, version, raw[0], raw[1], PG_IDENT_MAX);
	if (pg_ident(c, raw[0], q[0], sizeof q[0], err) < 0 ||
	    pg_ident(c, raw[1], q[1], sizeof q[1], err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s, %s", q[0], q[1]);
	if (pg_exec(c, sql, 0, NULL, err) < 0)
		return -1;
	snprintf(sql, sizeof sql,
		 "CREATE TABLE %s (movie_id integer NOT NULL, embedding vector(%u) NOT NULL)", q[0],
		 fold->dim);
	if (pg_exec(c, sql, 0, NULL, err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "CREATE TABLE %s (k integer NOT NULL, m vector(%u) NOT NULL)",
		 q[1], map->dim);
	if (pg_exec(c, sql, 0, NULL, err) < 0 ||
	    copy_rows(c, q[0], "movie_id, embedding", fold, err) < 0 ||
	    copy_rows(c, q[1], "k, m", map, err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "ALTER TABLE %s ADD PRIMARY KEY (movie_id)", q[0]);
	if (pg_exec(c, sql, 0, NULL, err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "ALTER TABLE %s ADD PRIMARY KEY (k)", q[1]);
	return pg_exec(c, sql, 0, NULL, err);
}

char *store_compact_foldin(const char *foldin_json, const char *model, int version,
			   uint32_t wdim)
{
	char fold[PG_IDENT_MAX], map[PG_IDENT_MAX];
	store_compact_names(model, version, fold, map, sizeof fold);
	json_t *o = json_loads(foldin_json, 0, NULL);
	json_t *c = json_pack("{s:i, s:s, s:s}", "full_dim", (json_int_t)wdim, "fold_table", fold,
			      "map_table", map);
	char *out = NULL;
	if (json_is_object(o) && c && json_object_set(o, "compact", c) == 0)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(c);
	json_decref(o);
	return out;
}

int store_compact_drop(PGconn *c, const char *model, const char *version, lf_error *err)
{
	char raw[2][PG_IDENT_MAX], q[2][PG_IDENT_MAX], sql[2 * PG_IDENT_MAX + 40];
	snprintf(raw[0], sizeof raw[0], "lf_%s_v%s_fold", model, version);
	snprintf(raw[1], sizeof raw[1], "lf_%s_v%s_map", model, version);
	if (pg_ident(c, raw[0], q[0], sizeof q[0], err) < 0 ||
	    pg_ident(c, raw[1], q[1], sizeof q[1], err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s, %s", q[0], q[1]);
	return pg_exec(c, sql, 0, NULL, err);
}

/* Row i of a binary (int4, vector(dim)) result into *id and out (dim doubles). */
static int binrow(const PGresult *r, int i, size_t dim, int32_t *id, double *out)
{
	if (PQgetisnull(r, i, 0) || PQgetlength(r, i, 0) != 4 || PQgetisnull(r, i, 1) ||
	    (size_t)PQgetlength(r, i, 1) != 4 + 4 * dim)
		return -1;
	uint32_t u;
	memcpy(&u, PQgetvalue(r, i, 0), 4);
	*id = (int32_t)ntohl(u);
	const char *v = PQgetvalue(r, i, 1);
	uint16_t d;
	memcpy(&d, v, 2);
	if (ntohs(d) != dim)
		return -1;
	for (size_t k = 0; k < dim; k++) {
		float f;
		memcpy(&u, v + 4 + 4 * k, 4);
		u = ntohl(u);
		memcpy(&f, &u, 4);
		out[k] = f;
	}
	return 0;
}

static int read_table(PGconn *c, const char *raw, const char *cols, const int32_t *ids,
		      size_t n, size_t dim, double *out, lf_error *err)
{
	char q[PG_IDENT_MAX], sql[PG_IDENT_MAX + 64];
	if (pg_ident(c, raw, q, sizeof q, err) < 0)
		return -1;
	snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY 1", cols, q);
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *m = PQerrorMessage(c);
		lf_fail(err, PQstatus(c) == CONNECTION_OK ? EX_DATAERR : EX_UNAVAILABLE,
			"reading the compact form's %s: %.*s", raw, (int)strcspn(m, "\n"), m);
		PQclear(r);
		return -1;
	}
	int ok = (size_t)PQntuples(r) == n;
	for (size_t i = 0; ok && i < n; i++) {
		int32_t id;
		ok = binrow(r, (int)i, dim, &id, out + i * dim) == 0 &&
		     id == (ids ? ids[i] : (int32_t)i);
	}
	PQclear(r);
	return ok ? 0
		  : lf_fail(err, EX_DATAERR, "the compact form's %s does not match the set", raw);
}

int store_compact_read(PGconn *c, const char *fold_table, const char *map_table,
		       const int32_t *item_ids, size_t n, size_t w, size_t r, double *fold,
		       double *map, lf_error *err)
{
	if (read_table(c, fold_table, "movie_id, embedding", item_ids, n, w, fold, err) < 0)
		return -1;
	return read_table(c, map_table, "k, m", NULL, w, r, map, err);
}
