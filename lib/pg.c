/*
 * pg.c — see pg.h. libpq's messages are multi-line; everything that reaches
 * an lf_error is squashed to one line, and a password given in the URL is
 * masked wherever libpq echoes it.
 */
#include "pg.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Copies src into dst (cap bytes) on one line: runs of whitespace become one
 * space ("; " where they held a line break), trailing whitespace goes, every occurrence of secret becomes "***". */
static void one_line(char *dst, size_t cap, const char *src, const char *secret)
{
	size_t n = 0, slen = secret ? strlen(secret) : 0;
	int space = 0;

	if (cap == 0)
		return;
	for (const char *p = src ? src : ""; *p && n + 1 < cap;) {
		if (slen > 0 && strncmp(p, secret, slen) == 0) {
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
		return lf_fail(err, EX_SOFTWARE, "out of memory connecting to Postgres");
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

int pg_begin(PGconn *c, lf_error *err)
{
	return pg_exec(c, "BEGIN", 0, NULL, err);
}

int pg_commit(PGconn *c, lf_error *err)
{
	return pg_exec(c, "COMMIT", 0, NULL, err);
}

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

/* ---- COPY (FORMAT binary) ------------------------------------------------ */

static void copy_failed(pg_copy *cp, int code, const char *what)
{
	if (!cp->failed)
		lf_fail(&cp->err, code, "%s", what);
	cp->failed = 1;
}

/* Room for n more bytes; grows the buffer (remembering a failure). */
static int copy_room(pg_copy *cp, size_t n)
{
	if (cp->failed)
		return -1;
	if (cp->len + n <= cp->cap)
		return 0;
	size_t cap = cp->cap ? cp->cap : PG_COPY_CHUNK;
	while (cap < cp->len + n) {
		if (cap > SIZE_MAX / 2) {
			copy_failed(cp, EX_SOFTWARE, "COPY row too large");
			return -1;
		}
		cap *= 2;
	}
	unsigned char *b = realloc(cp->buf, cap);
	if (!b) {
		copy_failed(cp, EX_SOFTWARE, "out of memory building a COPY buffer");
		return -1;
	}
	cp->buf = b;
	cp->cap = cap;
	return 0;
}

static void put_u16(unsigned char *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static void put_u32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void put_u64(unsigned char *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p + 4, (uint32_t)v);
}

static int copy_send(pg_copy *cp)
{
	if (cp->failed)
		return -1;
	if (cp->len > 0 && PQputCopyData(cp->conn, (const char *)cp->buf, (int)cp->len) != 1) {
		char msg[LF_ERROR_MAX];
		one_line(msg, sizeof msg, PQerrorMessage(cp->conn), NULL);
		lf_fail(&cp->err, EX_UNAVAILABLE, "COPY: sending data to Postgres failed: %s", msg);
		cp->failed = 1;
		return -1;
	}
	cp->len = 0;
	return 0;
}

int pg_copy_begin(pg_copy *cp, PGconn *c, const char *sql, lf_error *err)
{
	static const unsigned char header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r',
						  '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};
	memset(cp, 0, sizeof *cp);
	cp->conn = c;
	PGresult *res = PQexec(c, sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		char what[64];
		one_line(what, sizeof what, sql, NULL);
		pg_fail_result(err, c, res, what);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (copy_room(cp, PG_COPY_CHUNK + 65536) < 0) {
		*err = cp->err;
		pg_copy_abort(cp);
		return -1;
	}
	memcpy(cp->buf, header, sizeof header);
	cp->len = sizeof header;
	return 0;
}

int pg_copy_row(pg_copy *cp, int16_t nfields, lf_error *err)
{
	if (cp->len >= PG_COPY_CHUNK)
		copy_send(cp);
	if (copy_room(cp, 2) < 0) {
		*err = cp->err;
		return -1;
	}
	put_u16(cp->buf + cp->len, (uint16_t)nfields);
	cp->len += 2;
	cp->rows++;
	return 0;
}

void pg_copy_null(pg_copy *cp)
{
	if (copy_room(cp, 4) < 0)
		return;
	put_u32(cp->buf + cp->len, UINT32_MAX); /* length -1 */
	cp->len += 4;
}

void pg_copy_int2(pg_copy *cp, int16_t v)
{
	if (copy_room(cp, 6) < 0)
		return;
	put_u32(cp->buf + cp->len, 2);
	put_u16(cp->buf + cp->len + 4, (uint16_t)v);
	cp->len += 6;
}

void pg_copy_int4(pg_copy *cp, int32_t v)
{
	if (copy_room(cp, 8) < 0)
		return;
	put_u32(cp->buf + cp->len, 4);
	put_u32(cp->buf + cp->len + 4, (uint32_t)v);
	cp->len += 8;
}

void pg_copy_text(pg_copy *cp, const char *s, size_t len)
{
	if (len > INT32_MAX) {
		copy_failed(cp, EX_DATAERR, "COPY: a text field over 2 GiB");
		return;
	}
	if (copy_room(cp, 4 + len) < 0)
		return;
	put_u32(cp->buf + cp->len, (uint32_t)len);
	memcpy(cp->buf + cp->len + 4, s, len);
	cp->len += 4 + len;
}

/* Postgres' timestamp range in unix seconds (julian day 0 .. 294276-12-31). */
#define PG_UNIX_MIN INT64_C(-210866803200)
#define PG_UNIX_MAX INT64_C(9224318015999)
#define PG_EPOCH_UNIX INT64_C(946684800) /* 2000-01-01 00:00:00 UTC */

int pg_unix_time_ok(int64_t s)
{
	return s >= PG_UNIX_MIN && s <= PG_UNIX_MAX;
}

void pg_copy_timestamptz(pg_copy *cp, int64_t s)
{
	if (!pg_unix_time_ok(s)) {
		copy_failed(cp, EX_DATAERR, "COPY: timestamp outside Postgres' range");
		return;
	}
	if (copy_room(cp, 12) < 0)
		return;
	put_u32(cp->buf + cp->len, 8);
	put_u64(cp->buf + cp->len + 4, (uint64_t)((s - PG_EPOCH_UNIX) * INT64_C(1000000)));
	cp->len += 12;
}

void pg_copy_text_array(pg_copy *cp, const char *const *s, const size_t *len, size_t n)
{
	enum { TEXTOID = 25 };
	size_t body = n ? 20 : 12;

	for (size_t i = 0; i < n; i++) {
		if (len[i] > INT32_MAX || body > INT32_MAX - 4 - len[i]) {
			copy_failed(cp, EX_DATAERR, "COPY: a text[] field over 2 GiB");
			return;
		}
		body += 4 + len[i];
	}
	if (copy_room(cp, 4 + body) < 0)
		return;
	unsigned char *p = cp->buf + cp->len;
	put_u32(p, (uint32_t)body);
	put_u32(p + 4, n ? 1 : 0); /* ndim */
	put_u32(p + 8, 0);         /* no NULLs */
	put_u32(p + 12, TEXTOID);
	p += 16;
	if (n) {
		put_u32(p, (uint32_t)n); /* elements */
		put_u32(p + 4, 1);       /* lower bound */
		p += 8;
	}
	for (size_t i = 0; i < n; i++) {
		put_u32(p, (uint32_t)len[i]);
		memcpy(p + 4, s[i], len[i]);
		p += 4 + len[i];
	}
	cp->len += 4 + body;
}

void pg_copy_vector(pg_copy *cp, const float *v, uint32_t dim)
{
	size_t body = 4 + (size_t)dim * 4;

	if (dim == 0 || dim > PG_VECTOR_MAX_DIM) {
		copy_failed(cp, EX_DATAERR, "COPY: vector dimension outside pgvector's 1..16000");
		return;
	}
	if (copy_room(cp, 4 + body) < 0)
		return;
	unsigned char *p = cp->buf + cp->len;
	put_u32(p, (uint32_t)body);
	put_u16(p + 4, (uint16_t)dim);
	put_u16(p + 6, 0);
	p += 8;
	for (uint32_t i = 0; i < dim; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		put_u32(p + 4 * (size_t)i, bits);
	}
	cp->len += 4 + body;
}

int pg_copy_end(pg_copy *cp, lf_error *err)
{
	int rc = 0;

	if (copy_room(cp, 2) == 0) {
		put_u16(cp->buf + cp->len, UINT16_MAX); /* trailer: -1 */
		cp->len += 2;
	}
	if (copy_send(cp) < 0) {
		*err = cp->err;
		pg_copy_abort(cp);
		return -1;
	}
	free(cp->buf);
	cp->buf = NULL;
	cp->cap = 0;
	if (PQputCopyEnd(cp->conn, NULL) != 1)
		return pg_fail_result(err, cp->conn, NULL, "COPY end");
	PGresult *res;
	while ((res = PQgetResult(cp->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = pg_fail_result(err, cp->conn, res, "COPY");
		PQclear(res);
	}
	return rc;
}

void pg_copy_abort(pg_copy *cp)
{
	free(cp->buf);
	cp->buf = NULL;
	cp->cap = cp->len = 0;
	if (cp->conn && PQstatus(cp->conn) == CONNECTION_OK &&
	    PQputCopyEnd(cp->conn, "aborted by the client") == 1) {
		PGresult *res;
		while ((res = PQgetResult(cp->conn)) != NULL)
			PQclear(res);
	}
}
