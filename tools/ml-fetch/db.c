/*
 * db.c — ml-fetch from a database: the living data's tables (ratings with
 * the feedback applied, feedback, impressions) as TSV, through
 * lib/store_online.h.
 */
#include <string.h>

#include "fetch.h"
#include "pg.h"
#include "store_online.h"

#define DB_CONNECT_TIMEOUT_S 10

int db_url_is(const char *src)
{
	return strncmp(src, "postgresql://", 13) == 0 || strncmp(src, "postgres://", 11) == 0;
}

int db_export(const char *url, const char *name, char **out, size_t *len, lf_error *err)
{
	PGconn *c = NULL;
	if (pg_connect(url, "ml-fetch", DB_CONNECT_TIMEOUT_S, &c, err) < 0)
		return -1;
	int rc = store_export(c, name, out, len, err);
	PQfinish(c);
	return rc;
}
