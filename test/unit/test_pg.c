/* test_pg.c — lib/pg: the binary COPY encoding byte by byte (computed by
 * hand from the Postgres and pgvector wire formats), URL checks, and, against
 * the real embedded Postgres when one is up, a COPY across several chunks read
 * back, and the exit codes of server errors. */
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "tap.h"

static const char *db_url;

/* A pg_copy that only encodes: no connection, nothing sent (rows < chunk). */
static pg_copy enc(void)
{
	pg_copy cp;
	memset(&cp, 0, sizeof cp);
	return cp;
}

static int bytes_are(const pg_copy *cp, const unsigned char *want, size_t n)
{
	if (cp->len != n) {
		printf("# length %zu, want %zu\n", cp->len, n);
		return 0;
	}
	return memcmp(cp->buf, want, n) == 0;
}

TEST(int_and_null_fields_are_big_endian_with_lengths)
{
	pg_copy cp = enc();
	static const unsigned char want[] = {0,	   0,	 0,    4,   0x12, 0x34,
					     0x56, 0x78,			/* int4 */
					     0,	   0,	 0,    2,   0xff, 0xfe, /* int2 -2 */
					     0xff, 0xff, 0xff, 0xff};		/* NULL */
	pg_copy_int4(&cp, 0x12345678);
	pg_copy_int2(&cp, -2);
	pg_copy_null(&cp);
	CHECK(!cp.failed);
	CHECK(bytes_are(&cp, want, sizeof want));
	free(cp.buf);
}

TEST(vector_is_pgvectors_binary_format)
{
	pg_copy cp = enc();
	const float v[3] = {1.0f, -2.0f, 0.5f};
	/* length 16; int16 dim 3; int16 unused 0; float4 big-endian */
	static const unsigned char want[] = {0, 0, 0,	 16, 0, 3, 0,	 0, 0x3f, 0x80,
					     0, 0, 0xc0, 0,  0, 0, 0x3f, 0, 0,	  0};
	pg_copy_vector(&cp, v, 3);
	CHECK(!cp.failed);
	CHECK(bytes_are(&cp, want, sizeof want));
	free(cp.buf);
}

TEST(vector_dimension_outside_pgvector_fails)
{
	pg_copy cp = enc();
	float v[1] = {0};
	pg_copy_vector(&cp, v, 0);
	CHECK(cp.failed && cp.err.code == EX_DATAERR);
	free(cp.buf);
}

TEST(timestamptz_counts_microseconds_from_2000)
{
	pg_copy cp = enc();
	static const unsigned char want[] = {0, 0,    0,    8,	  0,	0,    0,    0,	  0,
					     0, 0,    0,    0,	  0,	0,    8,    0,	  0,
					     0, 0,    0,    0x0f, 0x42, 0x40, 0,    0,	  0,
					     8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0xbd, 0xc0};
	pg_copy_timestamptz(&cp, 946684800); /* 2000-01-01: 0 */
	pg_copy_timestamptz(&cp, 946684801); /* +1 s = 1000000 us */
	pg_copy_timestamptz(&cp, 946684799); /* -1 s */
	CHECK(bytes_are(&cp, want, sizeof want));
	CHECK(pg_unix_time_ok(0) && pg_unix_time_ok(INT64_C(-210866803200)));
	CHECK(!pg_unix_time_ok(INT64_C(-210866803201)) && !pg_unix_time_ok(INT64_MAX));
	free(cp.buf);
}

TEST(text_array_has_header_dims_and_elements)
{
	pg_copy cp = enc();
	const char *s[] = {"ab", "c"};
	size_t len[] = {2, 1};
	static const unsigned char want[] = {
		0,  0, 0, 31,		      /* field length: 20 + 6 + 5 */
		0,  0, 0, 1,  0,   0,	0, 0, /* ndim 1, no NULLs */
		0,  0, 0, 25,		      /* text */
		0,  0, 0, 2,  0,   0,	0, 1, /* 2 elements from index 1 */
		0,  0, 0, 2,  'a', 'b', 0, 0, 0, 1, 'c', 0, 0, 0,
		12, 0, 0, 0,  0,   0,	0, 0, 0, 0, 0,	 0, 25}; /* then the empty array */
	pg_copy_text_array(&cp, s, len, 2);
	pg_copy_text_array(&cp, NULL, NULL, 0);
	CHECK(bytes_are(&cp, want, sizeof want));
	free(cp.buf);
}

TEST(url_check_accepts_urls_and_masks_passwords_in_errors)
{
	lf_error err = {0};
	CHECK(pg_url_check("postgresql://u@127.0.0.1:5432/db", &err) == 0);
	CHECK(pg_url_check("host=127.0.0.1 dbname=x", &err) == 0);
	CHECK(pg_url_check("postgresql://u:s3cret@127.0.0.1/db?bogus=1", &err) == -1);
	CHECK_EQ_INT(err.code, EX_USAGE);
	CHECK(strstr(err.msg, "bad database URL") && !strstr(err.msg, "s3cret"));
	CHECK(pg_url_check("", &err) == -1 && err.code == EX_USAGE);
}

TEST(connection_refused_is_unavailable_and_names_host_port)
{
	lf_error err = {0};
	PGconn *c = NULL;
	CHECK(pg_connect("postgresql://u:s3cret@127.0.0.1:1/db", "test_pg", 2, &c, &err) == -1);
	CHECK(c == NULL);
	CHECK_EQ_INT(err.code, EX_UNAVAILABLE);
	CHECK(strstr(err.msg, "127.0.0.1:1") && !strstr(err.msg, "s3cret"));
	CHECK(!strchr(err.msg, '\n'));
}

/* ---- against the real server ---- */

TEST(copy_across_chunks_reads_back)
{
	lf_error err = {0};
	PGconn *c = NULL;
	pg_copy cp;
	enum { ROWS = 20000, DIM = 16 }; /* ~1.5 MB: at least two chunks */
	float v[DIM];

	CHECK(pg_connect(db_url, "test_pg", 5, &c, &err) == 0);
	CHECK(pg_exec(c, "CREATE TEMP TABLE t (id int, e vector(16), s text, ts timestamptz)", 0,
		      NULL, &err) == 0);
	CHECK(pg_copy_begin(&cp, c, "COPY t FROM STDIN (FORMAT binary)", &err) == 0);
	for (int r = 0; r < ROWS; r++) {
		for (int k = 0; k < DIM; k++)
			v[k] = (float)r + (float)k / 16.0f;
		CHECK(pg_copy_row(&cp, 4, &err) == 0);
		pg_copy_int4(&cp, r);
		pg_copy_vector(&cp, v, DIM);
		pg_copy_text(&cp, "é", strlen("é"));
		pg_copy_timestamptz(&cp, 881250949);
	}
	CHECK(pg_copy_end(&cp, &err) == 0);
	PGresult *res =
		pg_query(c,
			 "SELECT count(*), sum(id)::text, (SELECT e::text FROM t WHERE id = 3), "
			 "(SELECT s || ' ' || (ts AT TIME ZONE 'UTC')::text FROM t LIMIT 1) FROM t",
			 0, NULL, &err);
	CHECK(res != NULL);
	CHECK(strcmp(PQgetvalue(res, 0, 0), "20000") == 0);
	CHECK(strcmp(PQgetvalue(res, 0, 1), "199990000") == 0);
	CHECK(strcmp(PQgetvalue(res, 0, 2), "[3,3.0625,3.125,3.1875,3.25,3.3125,3.375,3.4375,3.5,"
					    "3.5625,3.625,3.6875,3.75,3.8125,3.875,3.9375]") == 0);
	CHECK(strcmp(PQgetvalue(res, 0, 3), "é 1997-12-04 15:55:49") == 0);
	PQclear(res);
	PQfinish(c);
}

TEST(server_errors_map_to_exit_codes)
{
	lf_error err = {0};
	PGconn *c = NULL;
	const char *p[] = {"0"};

	CHECK(pg_connect(db_url, "test_pg", 5, &c, &err) == 0);
	CHECK(pg_exec(c, "SELECT 1 / $1::int", 1, p, &err) == -1);
	CHECK_EQ_INT(err.code, EX_DATAERR);
	CHECK(strstr(err.msg, "division by zero") && strstr(err.msg, "22012"));
	CHECK(pg_exec(c, "SELEC 1", 0, NULL, &err) == -1);
	CHECK_EQ_INT(err.code, EX_SOFTWARE);
	/* a failed transaction rolls back and the connection stays usable */
	CHECK(pg_begin(c, &err) == 0 && pg_xact_lock(c, "test_pg", &err) == 0);
	CHECK(pg_exec(c, "SELECT 1 / $1::int", 1, p, &err) == -1);
	pg_rollback(c);
	CHECK(PQtransactionStatus(c) == PQTRANS_IDLE);
	CHECK(pg_exec(c, "SELECT 1", 0, NULL, &err) == 0);
	/* a COPY refused by the server (bad vector dimension) */
	CHECK(pg_exec(c, "CREATE TEMP TABLE w (e vector(2))", 0, NULL, &err) == 0);
	pg_copy cp;
	float v[3] = {1, 2, 3};
	CHECK(pg_copy_begin(&cp, c, "COPY w FROM STDIN (FORMAT binary)", &err) == 0);
	CHECK(pg_copy_row(&cp, 1, &err) == 0);
	pg_copy_vector(&cp, v, 3);
	CHECK(pg_copy_end(&cp, &err) == -1);
	CHECK(strstr(err.msg, "COPY") != NULL);
	PQfinish(c);
}

/* DATABASE_URL, else the one of the test services (services.env). */
static const char *find_db(void)
{
	static char line[512];
	const char *u = getenv("DATABASE_URL"), *home = getenv("LENSFLOW_TEST_HOME");
	char path[512];

	if (u && *u)
		return u;
	snprintf(path, sizeof path, "%s/services.env", home ? home : ".lensflow/test");
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "DATABASE_URL=", 13) == 0) {
			line[strcspn(line, "\n")] = '\0';
			fclose(f);
			return line + 13;
		}
	}
	fclose(f);
	return NULL;
}

#define RUN_DB(name)                                                                               \
	do {                                                                                       \
		if (db_url)                                                                        \
			RUN(name);                                                                 \
		else                                                                               \
			printf("ok %d - %s # SKIP no Postgres (scripts/services up)\n", ++tap_n,   \
			       #name);                                                             \
	} while (0)

int main(void)
{
	RUN(int_and_null_fields_are_big_endian_with_lengths);
	RUN(vector_is_pgvectors_binary_format);
	RUN(vector_dimension_outside_pgvector_fails);
	RUN(timestamptz_counts_microseconds_from_2000);
	RUN(text_array_has_header_dims_and_elements);
	RUN(url_check_accepts_urls_and_masks_passwords_in_errors);
	RUN(connection_refused_is_unavailable_and_names_host_port);
	db_url = find_db();
	RUN_DB(copy_across_chunks_reads_back);
	RUN_DB(server_errors_map_to_exit_codes);
	return tap_done();
}
