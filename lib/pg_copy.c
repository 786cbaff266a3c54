/*
 * pg_copy.c — the COPY ... (FORMAT binary) writer of pg.h. Rows are encoded
 * straight into one buffer (network byte order, each field preceded by its
 * length) and handed to PQputCopyData once the buffer passes PG_COPY_CHUNK,
 * so libpq sees about 1 MB at a time rather than one call per row. Put
 * functions cannot fail on their own: a failure is remembered (cp->failed)
 * and surfaces at the next pg_copy_row or at pg_copy_end.
 *
 * Formats: Postgres' binary COPY (header "PGCOPY\n\377\r\n\0", flags,
 * extension length; per row an int16 field count; per field an int32 length
 * or -1 for NULL; trailer int16 -1), the binary send formats of int2, int4,
 * text, timestamptz (int64 microseconds since 2000-01-01 UTC) and arrays, and
 * pgvector's vector_recv (int16 dim, int16 unused, float4[dim]).
 */
#include "pg.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		copy_failed(cp, EX_OSERR, "out of memory building a COPY buffer");
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
		pg_fail_result(&cp->err, cp->conn, NULL, "COPY: sending data");
		cp->failed = 1;
		return -1;
	}
	cp->len = 0;
	return 0;
}

int pg_copy_begin(pg_copy *cp, PGconn *c, const char *sql, lf_error *err)
{
	static const unsigned char header[19] = {
		'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};
	memset(cp, 0, sizeof *cp);
	cp->conn = c;
	PGresult *res = PQexec(c, sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		char what[64];
		snprintf(what, sizeof what, "%s", sql);
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

void pg_copy_float4(pg_copy *cp, float v)
{
	uint32_t bits;
	memcpy(&bits, &v, sizeof bits);
	pg_copy_int4(cp, (int32_t)bits);
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

int pg_unix_time_ok(int64_t s) { return s >= PG_UNIX_MIN && s <= PG_UNIX_MAX; }

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

void pg_copy_timestamptz_us(pg_copy *cp, int64_t us)
{
	int64_t s = us / 1000000;
	if (!pg_unix_time_ok(s) || !pg_unix_time_ok(s + 1)) {
		copy_failed(cp, EX_DATAERR, "COPY: timestamp outside Postgres' range");
		return;
	}
	if (copy_room(cp, 12) < 0)
		return;
	put_u32(cp->buf + cp->len, 8);
	put_u64(cp->buf + cp->len + 4, (uint64_t)(us - PG_EPOCH_UNIX * INT64_C(1000000)));
	cp->len += 12;
}

/* A one-dimensional array field's length and header at p (empty: no
 * dimension); returns where its n elements go. */
static unsigned char *array_header(unsigned char *p, size_t body, uint32_t oid, size_t n)
{
	put_u32(p, (uint32_t)body);
	put_u32(p + 4, n ? 1 : 0); /* ndim */
	put_u32(p + 8, 0);	   /* no NULLs */
	put_u32(p + 12, oid);
	p += 16;
	if (n) {
		put_u32(p, (uint32_t)n); /* elements */
		put_u32(p + 4, 1);	 /* lower bound */
		p += 8;
	}
	return p;
}

void pg_copy_int4_array(pg_copy *cp, const int32_t *v, size_t n)
{
	enum { INT4OID = 23 };
	if (n > (INT32_MAX - 20) / 8) {
		copy_failed(cp, EX_DATAERR, "COPY: an int4[] field over 2 GiB");
		return;
	}
	size_t body = n ? 20 + 8 * n : 12;
	if (copy_room(cp, 4 + body) < 0)
		return;
	unsigned char *p = array_header(cp->buf + cp->len, body, INT4OID, n);
	for (size_t i = 0; i < n; i++) {
		put_u32(p, 4);
		put_u32(p + 4, (uint32_t)v[i]);
		p += 8;
	}
	cp->len += 4 + body;
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
	unsigned char *p = array_header(cp->buf + cp->len, body, TEXTOID, n);
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
