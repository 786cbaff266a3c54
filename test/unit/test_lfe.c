/* test_lfe.c — the embedding file: byte layout, round trip, and every
 * rejection (magic, truncation at every offset, sizes beyond the file, CRC,
 * repeated ids, non-finite values, repeated or badly padded names). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lfe.h"
#include "rng.h"
#include "tap.h"

/* A small model: users 2x3, items 3x3. */
static int build(lfe *m)
{
	lf_error err = {0};
	lfe_table *u, *it;
	memset(m, 0, sizeof *m);
	if (lfe_add_table(m, "users", 2, 3, &u, &err) || lfe_add_table(m, "items", 3, 3, &it, &err))
		return -1;
	for (uint32_t i = 0; i < 2; i++)
		u->ids[i] = (int32_t)(10 + i);
	for (uint32_t i = 0; i < 3; i++)
		it->ids[i] = (int32_t)(100 - (int)i);
	for (int i = 0; i < 6; i++)
		u->values[i] = (float)i * 0.5f - 1.0f;
	for (int i = 0; i < 9; i++)
		it->values[i] = (float)i * -0.25f;
	return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* Rewrites the CRC after a deliberate edit, so the check under test is the one that fails. */
static void fix_crc(unsigned char *b, size_t len)
{
	put_u32(b + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)));
}

static int parse_fails(const unsigned char *b, size_t len, const char *want)
{
	lfe m;
	lf_error err = {0};
	int rc = lfe_parse(b, len, "model.lfe", &m, &err);
	int ok = rc == -1 && err.code == EX_DATAERR && strstr(err.msg, "model.lfe") &&
		 strstr(err.msg, want) && m.tables == NULL && m.n_tables == 0;
	if (!ok)
		printf("# len %zu: rc %d msg '%s' (wanted '%s')\n", len, rc, err.msg, want);
	lfe_free(&m);
	return ok;
}

TEST(layout_and_round_trip)
{
	lfe m, back;
	lf_error err = {0};
	unsigned char *b;
	size_t len;
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	/* 8 magic + 4 count + 2 * (16 name + 8 sizes) + ids (2+3)*4 + values (6+9)*4 + 4 CRC */
	CHECK_EQ_INT(len, 8 + 4 + 2 * 24 + 5 * 4 + 15 * 4 + 4);
	CHECK(memcmp(b, "LFEMB001", 8) == 0);
	CHECK(b[8] == 2 && b[9] == 0 && b[10] == 0 && b[11] == 0);
	CHECK(memcmp(b + 12, "users\0\0\0\0\0\0\0\0\0\0\0", 16) == 0);
	CHECK(b[28] == 2 && b[32] == 3); /* rows, dim little-endian */
	CHECK(b[36] == 10 && b[40] == 11);
	uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4));
	CHECK(b[len - 4] == (crc & 0xff) && b[len - 1] == crc >> 24);
	CHECK(lfe_parse(b, len, "m", &back, &err) == 0);
	CHECK_EQ_INT(back.n_tables, 2);
	const lfe_table *u = lfe_find(&back, "users"), *it = lfe_find(&back, "items");
	CHECK(u && it && !lfe_find(&back, "foldin"));
	CHECK_EQ_INT(u->rows, 2);
	CHECK_EQ_INT(it->dim, 3);
	CHECK(memcmp(u->values, m.tables[0].values, 6 * sizeof(float)) == 0);
	CHECK(memcmp(it->ids, m.tables[1].ids, 3 * sizeof(int32_t)) == 0);
	CHECK_EQ_INT(lfe_row_of(it, 99), 1);
	CHECK_EQ_INT(lfe_row_of(it, 5), -1);
	free(b);
	lfe_free(&m);
	lfe_free(&back);
	lfe_free(&back); /* twice is harmless */
}

TEST(write_read_stream)
{
	lfe m, back;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	FILE *f = tmpfile();
	CHECK(f);
	CHECK(lfe_write(f, "t.lfe", &m, &err) == 0);
	rewind(f);
	CHECK(lfe_read(f, "t.lfe", &back, &err) == 0);
	fclose(f);
	CHECK_EQ_INT(back.n_tables, 2);
	CHECK(back.tables[1].values[8] == m.tables[1].values[8]);
	lfe_free(&m);
	lfe_free(&back);
}

TEST(empty_and_unknown_tables_kept)
{
	lfe m = {0}, back;
	lf_error err = {0};
	lfe_table *t;
	unsigned char *b;
	size_t len;
	CHECK(lfe_add_table(&m, "zero_rows", 0, 4, &t, &err) == 0);
	CHECK(lfe_add_table(&m, "exactly16chars__", 1, 1, &t, &err) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	CHECK(lfe_parse(b, len, "m", &back, &err) == 0);
	CHECK(lfe_find(&back, "exactly16chars__") != NULL);
	CHECK_EQ_INT(lfe_find(&back, "zero_rows")->rows, 0);
	free(b);
	lfe_free(&m);
	lfe_free(&back);
}

TEST(add_table_rejections)
{
	lfe m = {0};
	lf_error err = {0};
	lfe_table *t;
	CHECK(lfe_add_table(&m, "users", 1, 2, &t, &err) == 0);
	CHECK(lfe_add_table(&m, "users", 1, 2, &t, &err) == -1);
	CHECK(lfe_add_table(&m, "x", 1, 0, &t, &err) == -1);
	CHECK(lfe_add_table(&m, "x", 1, LFE_MAX_DIM + 1, &t, &err) == -1);
	CHECK(lfe_add_table(&m, "", 1, 1, &t, &err) == -1);
	CHECK(lfe_add_table(&m, "seventeen_chars__", 1, 1, &t, &err) == -1);
	CHECK(lfe_add_table(&m, "has space", 1, 1, &t, &err) == -1);
	const lfe_table *first = lfe_find(&m, "users");
	char name[16];
	for (int i = 1; i < LFE_MAX_TABLES; i++) {
		snprintf(name, sizeof name, "t%d", i);
		CHECK(lfe_add_table(&m, name, 1, 1, &t, &err) == 0);
	}
	CHECK(lfe_add_table(&m, "one_more", 1, 1, &t, &err) == -1);
	CHECK(lfe_find(&m, "users") == first); /* borrowed pointers stay valid */
	lfe_free(&m);
}

TEST(serialize_refuses_bad_content)
{
	lfe m;
	lf_error err = {0};
	unsigned char *b = NULL;
	size_t len;
	CHECK(build(&m) == 0);
	m.tables[1].ids[2] = m.tables[1].ids[0];
	CHECK(lfe_serialize(&m, &b, &len, &err) == -1);
	CHECK(strstr(err.msg, "repeated") != NULL);
	m.tables[1].ids[2] = 1;
	m.tables[0].values[4] = INFINITY;
	CHECK(lfe_serialize(&m, &b, &len, &err) == -1);
	CHECK(strstr(err.msg, "not finite") != NULL);
	lfe_free(&m);
}

TEST(bad_magic)
{
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	b[7] = '2';
	CHECK(parse_fails(b, len, "magic"));
	CHECK(parse_fails((const unsigned char *)"", 0, "magic"));
	free(b);
	lfe_free(&m);
}

TEST(truncated_at_every_offset)
{
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	for (size_t cut = 0; cut < len; cut++) {
		unsigned char *c = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
		CHECK(c);
		memcpy(c, b, cut);
		int ok = parse_fails(c, cut, "");
		free(c);
		CHECK(ok);
	}
	free(b);
	lfe_free(&m);
}

TEST(sizes_beyond_the_file)
{
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	put_u32(b + 28, 0x7fffffffu); /* users rows: 8 GiB of ids+values claimed */
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "only"));
	put_u32(b + 28, 2);
	put_u32(b + 32, LFE_MAX_DIM); /* a big dim that the file cannot hold */
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "only"));
	put_u32(b + 32, 0);
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "dim"));
	put_u32(b + 32, 0xffffffffu);
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "dim"));
	put_u32(b + 32, 3);
	put_u32(b + 8, 3); /* one table more than there is */
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "truncated"));
	put_u32(b + 8, 65);
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "at most"));
	put_u32(b + 8, 1); /* one table fewer: the second is trailing garbage */
	fix_crc(b, len);
	CHECK(parse_fails(b, len, "unexpected bytes"));
	free(b);
	lfe_free(&m);
}

TEST(crc_mismatch_on_any_flipped_byte)
{
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	/* a value byte, an id byte, and the CRC itself */
	size_t where[] = {len - 5, 36, len - 1};
	for (size_t k = 0; k < 3; k++) {
		b[where[k]] ^= 0x01;
		CHECK(parse_fails(b, len, "CRC"));
		b[where[k]] ^= 0x01;
	}
	free(b);
	lfe_free(&m);
}

TEST(content_rejections)
{
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	unsigned char *c = malloc(len);
	CHECK(c);
	/* repeated id in users: ids at 36 and 40 */
	memcpy(c, b, len);
	put_u32(c + 40, 10);
	fix_crc(c, len);
	CHECK(parse_fails(c, len, "id 10 repeated"));
	/* NaN and Inf values: users values start at 44 */
	float bad[] = {NAN, INFINITY, -INFINITY};
	for (int i = 0; i < 3; i++) {
		uint32_t bits;
		memcpy(&bits, &bad[i], 4);
		memcpy(c, b, len);
		put_u32(c + 44 + 8, bits);
		fix_crc(c, len);
		CHECK(parse_fails(c, len, "not finite"));
	}
	/* repeated table name: the second table (at 12 + 24 + 8 + 24) renamed "users" */
	memcpy(c, b, len);
	memcpy(c + 68, "users\0\0\0\0\0\0\0\0\0\0\0", 16);
	fix_crc(c, len);
	CHECK(parse_fails(c, len, "appears twice"));
	/* a name not NUL-padded: a byte after the terminator */
	memcpy(c, b, len);
	c[12 + 10] = 'x';
	fix_crc(c, len);
	CHECK(parse_fails(c, len, "NUL"));
	/* an empty name and a non-ASCII name */
	memcpy(c, b, len);
	memset(c + 12, 0, 16);
	fix_crc(c, len);
	CHECK(parse_fails(c, len, "name"));
	memcpy(c, b, len);
	c[12] = 0xc3;
	fix_crc(c, len);
	CHECK(parse_fails(c, len, "name"));
	free(c);
	free(b);
	lfe_free(&m);
}

TEST(random_corruption_never_crashes)
{
	/* 3000 copies with 1-4 random bytes changed: each parses to a well-formed
	 * model or fails with EX_DATAERR; ASan/valgrind see any bad access */
	lfe m;
	unsigned char *b;
	size_t len;
	lf_error err = {0};
	CHECK(build(&m) == 0);
	CHECK(lfe_serialize(&m, &b, &len, &err) == 0);
	unsigned char *c = malloc(len);
	CHECK(c);
	rng g;
	rng_seed(&g, 2024);
	int accepted = 0;
	for (int k = 0; k < 3000; k++) {
		memcpy(c, b, len);
		int flips = 1 + (int)rng_below(&g, 4);
		for (int f = 0; f < flips; f++)
			c[rng_below(&g, len - 4)] = (unsigned char)rng_next(&g);
		if (k % 2)
			fix_crc(c, len); /* half with a valid CRC, to reach the checks behind it */
		lfe out;
		lf_error e = {0};
		if (lfe_parse(c, len, "fuzz", &out, &e) == 0) {
			accepted++;
			for (uint32_t t = 0; t < out.n_tables; t++)
				CHECK(out.tables[t].dim >= 1 && out.tables[t].dim <= LFE_MAX_DIM);
			lfe_free(&out);
		} else {
			CHECK_EQ_INT(e.code, EX_DATAERR);
			CHECK(out.tables == NULL);
		}
	}
	printf("# %d of 3000 corrupted files still well-formed (value bytes changed)\n", accepted);
	free(c);
	free(b);
	lfe_free(&m);
}

int main(void)
{
	RUN(layout_and_round_trip);
	RUN(write_read_stream);
	RUN(empty_and_unknown_tables_kept);
	RUN(add_table_rejections);
	RUN(serialize_refuses_bad_content);
	RUN(bad_magic);
	RUN(truncated_at_every_offset);
	RUN(sizes_beyond_the_file);
	RUN(crc_mismatch_on_any_flipped_byte);
	RUN(content_rejections);
	RUN(random_corruption_never_crashes);
	return tap_done();
}
