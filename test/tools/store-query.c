/*
 * store-query — test helper: runs one of ml-serve's statements exactly as
 * lib/store writes it (store_query_sql), on the set MODEL vN of
 * $DATABASE_URL, with k and the given text parameters, and prints the rows
 * as TSV (text values). --print prints the statement instead. The tests use
 * it where they would otherwise type the query again.
 *
 *   store-query [--print] QUERY MODEL VERSION K [PARAM...]
 *   QUERY: user_recs new_user_recs similar search movie user_ratings ping
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"
#include "store.h"
#include "util.h"

int main(int argc, char **argv)
{
	log_set_prog("store-query");
	int print = argc > 1 && strcmp(argv[1], "--print") == 0;
	argv += print;
	argc -= print;
	int64_t version, k;
	if (argc < 5 || parse_i64(argv[3], 1, INT32_MAX, &version) < 0 ||
	    parse_i64(argv[4], 1, 1000, &k) < 0 || !store_model_name_ok(argv[2])) {
		log_error("usage: store-query [--print] QUERY MODEL VERSION K [PARAM...]");
		return EX_USAGE;
	}
	int q = 0;
	while (q < STORE_N_QUERIES && strcmp(store_query_names[q], argv[1]) != 0)
		q++;
	if (q == STORE_N_QUERIES) {
		log_error("unknown query '%s'", argv[1]);
		return EX_USAGE;
	}
	const char *url = getenv("DATABASE_URL");
	PGconn *c = NULL;
	lf_error err = {0};
	if (!url || pg_connect(url, "store-query", 5, &c, &err) < 0) {
		log_error("%s", url ? err.msg : "no DATABASE_URL");
		return url ? err.code : EX_USAGE;
	}
	struct store_set_names raw = {0};
	char qu[PG_IDENT_MAX], qi[PG_IDENT_MAX], qd[PG_IDENT_MAX], sql[4096];
	store_set_names(argv[2], (int32_t)version, &raw);
	/* the set's index kind picks the statement, as in ml-serve */
	enum store_index index = STORE_INDEX_NONE;
	PGresult *set = store_set_row(c, argv[2], (int)version, &err);
	if (set && PQntuples(set) == 1)
		index = store_index_parse(PQgetvalue(set, 0, 8));
	PQclear(set);
	if (pg_ident(c, raw.users, qu, sizeof qu, &err) < 0 ||
	    pg_ident(c, raw.items, qi, sizeof qi, &err) < 0 ||
	    pg_ident(c, raw.dirs, qd, sizeof qd, &err) < 0 ||
	    store_query_sql((enum store_query)q, qu, qi, qd, index, (int)k, sql, sizeof sql) < 0) {
		log_error("%s", err.msg[0] ? err.msg : "statement too long");
		PQfinish(c);
		return EX_SOFTWARE;
	}
	if (print) {
		puts(sql);
		PQfinish(c);
		return 0;
	}
	PGresult *r = pg_query(c, sql, argc - 5, (const char *const *)argv + 5, &err);
	if (!r) {
		log_error("%s", err.msg);
		PQfinish(c);
		return err.code;
	}
	for (int row = 0; row < PQntuples(r); row++)
		for (int f = 0; f < PQnfields(r); f++)
			printf("%s%c", PQgetvalue(r, row, f), f + 1 < PQnfields(r) ? '\t' : '\n');
	PQclear(r);
	PQfinish(c);
	return 0;
}
