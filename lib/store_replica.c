/*
 * store_replica.c — see store_replica.h.
 */
#include "store_replica.h"

#include <stdlib.h>
#include <string.h>

static const char *const STATE_SQL =
	"SELECT pg_is_in_recovery(),"
	" CASE WHEN NOT pg_is_in_recovery() THEN 0"
	"  WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
	"  ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)"
	" END::float8";

int store_replica_state(PGconn *c, int *standby, double *lag_s, lf_error *err)
{
	PGresult *r = PQexec(c, STATE_SQL);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		const char *msg = PQerrorMessage(c);
		size_t n = strcspn(msg, "\n");
		int code = PQstatus(c) == CONNECTION_OK ? EX_SOFTWARE : EX_UNAVAILABLE;
		lf_fail(err, code, "cannot read the replication state: %.*s", (int)n, msg);
		PQclear(r);
		return -1;
	}
	*standby = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	double lag = strtod(PQgetvalue(r, 0, 1), NULL);
	*lag_s = lag > 0 ? lag : 0;
	PQclear(r);
	return 0;
}
