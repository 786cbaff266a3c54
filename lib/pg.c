/*
 * pg.c — see pg.h (the COPY writer is in pg_copy.c). libpq's messages are
 * multi-line; everything that reaches an lf_error is squashed to one line,
 * and a password given in the URL is masked wherever libpq echoes it.
 */
#include "pg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Copies src into dst (cap bytes) on one line: runs of whitespace become one
 * space ("; " where they held a line break), trailing whitespace goes, every occurrence of secret
 * becomes "***". */
static void one_line(char *dst, size_t cap, const char *src, const char *secret)
{
	size_t n = 0, slen = secret ? strlen(secret) : 0;
	int space = 0;

	if (cap == 0)
		return;
	for (const char *p = src ? src : ""; *p && n + 1 < cap;) {
		if (secret && slen > 0 && strncmp(p, secret, slen) == 0) {
			for (const char *m = "***"; *m && n + 1 < cap; m++)
				dst[n++] = *m;
			p += slen;
			space = 0;
			continue;
		}
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = *p == '\n' ? 2 : space ? space : 1;
			p++;
			continue;
		}
		if (space == 2 && n > 0 && n + 2 < cap)
			dst[n++] = ';';
		if (space && n > 0 && n + 1 < cap)
			dst[n++] = ' ';
		space = 0;
		dst[n++] = *p++;
	}
	dst[n] = '\0';
}

/* The password of a URL, or NULL (caller frees with PQfreemem via free_opts). */
static char *url_password(const char *url, PQconninfoOption **opts_out)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);

	PQfreemem(perr);
	*opts_out = opts;
	if (!opts)
		return NULL;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			return o->val;
	return NULL;
}

int pg_url_check(const char *url, lf_error *err)
{
	char *perr = NULL, line[LF_ERROR_MAX];
	PQconninfoOption *opts;

	if (!url || !*url)
		return lf_fail(err, EX_USAGE, "empty database URL");
	opts = PQconninfoParse(url, &perr);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	/* libpq may quote the string: mask what looks like a URI's password. */
	one_line(line, sizeof line, perr ? perr : "out of memory", NULL);
	PQfreemem(perr);
	const char *at = strchr(url, '@'), *scheme = strstr(url, "://");
	if (at && scheme && scheme < at) {
		const char *colon = memchr(scheme + 3, ':', (size_t)(at - scheme - 3));
		if (colon && at - colon > 1) {
			char secret[256];
			size_t sl = (size_t)(at - colon - 1);
			if (sl < sizeof secret) {
				char copy[LF_ERROR_MAX];
				memcpy(secret, colon + 1, sl);
				secret[sl] = '\0';
				one_line(copy, sizeof copy, line, secret);
				memcpy(line, copy, sizeof line);
			}
		}
	}
	return lf_fail(err, EX_USAGE, "bad database URL: %s", line);
}

/* Server notices ("relation already exists, skipping") are not for the user. */
static void drop_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int pg_session(PGconn *c, PGconn **out, lf_error *err)
{
	PQsetNoticeProcessor(c, drop_notice, NULL);
	/* A client killed during a long statement (an index build) would leave
	 * its backend working, and holding its locks, until the statement ends:
	 * let the server look for the client every second (Postgres >= 14). */
	if (PQserverVersion(c) >= 140000 &&
	    pg_exec(c, "SET client_connection_check_interval = 1000", 0, NULL, err) < 0) {
		PQfinish(c);
		return -1;
	}
	*out = c;
	return 0;
}

int pg_connect(const char *url, const char *app, int timeout_s, PGconn **out, lf_error *err)
{
	char tmo[16], msg[LF_ERROR_MAX];
	const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
			      NULL};
	const char *vals[] = {tmo, app, "UTF8", url, NULL};
	PQconninfoOption *opts = NULL;
	PGconn *c;

	*out = NULL;
	if (pg_url_check(url, err) < 0)
		return -1;
	snprintf(tmo, sizeof tmo, "%d", timeout_s > 0 ? timeout_s : 10);
	c = PQconnectdbParams(keys, vals, 1);
	if (!c)
		return lf_fail(err, EX_OSERR, "out of memory connecting to Postgres");
	if (PQstatus(c) != CONNECTION_OK) {
		const char *pw = url_password(url, &opts);
		const char *host = PQhost(c), *port = PQport(c);
		one_line(msg, sizeof msg, PQerrorMessage(c), pw);
		lf_fail(err, EX_UNAVAILABLE, "cannot connect to Postgres at %s:%s: %s",
			host && *host ? host : "(default)", port && *port ? port : "5432", msg);
		if (opts)
			PQconninfoFree(opts);
		PQfinish(c);
		return -1;
	}
	return pg_session(c, out, err);
}

/* sysexits code for a server error, by SQLSTATE class. */
static int code_of(const char *state)
{
	if (!state || strlen(state) != 5)
		return EX_SOFTWARE;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return EX_UNAVAILABLE;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		return EX_DATAERR;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strncmp(state, "53", 2) == 0)
		return EX_TEMPFAIL;
	if (strcmp(state, "42501") == 0)
		return EX_NOPERM;
	return EX_SOFTWARE;
}

int pg_fail_result(lf_error *err, PGconn *c, const PGresult *res, const char *what)
{
	char msg[LF_ERROR_MAX];

	if (!res || PQstatus(c) == CONNECTION_BAD) {
		one_line(msg, sizeof msg, PQerrorMessage(c), NULL);
		return lf_fail(err, EX_UNAVAILABLE, "%s: lost the connection to Postgres: %s", what,
			       *msg ? msg : "no answer");
	}
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	one_line(msg, sizeof msg, primary ? primary : PQresultErrorMessage(res), NULL);
	if (!*msg)
		snprintf(msg, sizeof msg, "unexpected result %s", PQresStatus(PQresultStatus(res)));
	return lf_fail(err, code_of(state), "%s: %s%s%s%s", what, msg, state ? " (SQLSTATE " : "",
		       state ? state : "", state ? ")" : "");
}

PGresult *pg_query(PGconn *c, const char *sql, int n, const char *const *vals, lf_error *err)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	/* the first words of the statement say which one failed */
	char what[48];
	one_line(what, sizeof what, sql, NULL);
	pg_fail_result(err, c, res, what);
	PQclear(res);
	return NULL;
}

int pg_exec(PGconn *c, const char *sql, int n, const char *const *vals, lf_error *err)
{
	PGresult *res = pg_query(c, sql, n, vals, err);

	if (!res)
		return -1;
	PQclear(res);
	return 0;
}

int pg_begin(PGconn *c, lf_error *err) { return pg_exec(c, "BEGIN", 0, NULL, err); }

int pg_commit(PGconn *c, lf_error *err) { return pg_exec(c, "COMMIT", 0, NULL, err); }

void pg_rollback(PGconn *c)
{
	if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

int pg_xact_lock(PGconn *c, const char *key, lf_error *err)
{
	const char *vals[] = {key};
	return pg_exec(c, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, vals, err);
}

int pg_ident(PGconn *c, const char *name, char *out, size_t cap, lf_error *err)
{
	char *q = PQescapeIdentifier(c, name, strlen(name));

	if (!q)
		return pg_fail_result(err, c, NULL, "quoting an identifier");
	if (strlen(q) >= cap) {
		PQfreemem(q);
		return lf_fail(err, EX_SOFTWARE, "identifier too long: %s", name);
	}
	strcpy(out, q);
	PQfreemem(q);
	return 0;
}
