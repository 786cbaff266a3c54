/*
 * store_schema.c — sql/schema.sql compiled into the binary (so an installed
 * ml-pgload needs no file beside it) and applied on every run: every
 * statement of the file is idempotent, and an advisory lock keeps two tools
 * starting at the same moment from racing on CREATE EXTENSION / TABLE.
 *
 * The file is pulled in by the assembler's .incbin, relative to the directory
 * make runs in (the repository root); the Makefile makes this object depend
 * on sql/schema.sql.
 */
#include <ctype.h>
#include <string.h>

#include "pg.h"
#include "store.h"

__asm__(".section .rodata\n"
	".global store_schema_sql\n"
	".type store_schema_sql, @object\n"
	"store_schema_sql:\n"
	".incbin \"sql/schema.sql\"\n"
	".byte 0\n"
	".size store_schema_sql, . - store_schema_sql\n"
	".previous\n");

int store_model_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 32 || !islower((unsigned char)name[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return 0;
	return 1;
}

int store_schema_apply(PGconn *c, lf_error *err)
{
	if (pg_begin(c, err) < 0 || pg_xact_lock(c, "lensflow:schema", err) < 0)
		goto fail;
	/* a constant of our own, several statements: the simple protocol */
	PGresult *res = PQexec(c, store_schema_sql);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		pg_fail_result(err, c, res, "applying sql/schema.sql");
		/* no pgvector in this server: a missing service, not our bug */
		if (state && (strcmp(state, "0A000") == 0 || strcmp(state, "58P01") == 0)) {
			err->code = EX_UNAVAILABLE;
			lf_error_prefix(err, "this Postgres lacks pgvector >= 0.8");
		}
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if (pg_commit(c, err) < 0)
		goto fail;
	return 0;
fail:
	pg_rollback(c);
	return -1;
}
