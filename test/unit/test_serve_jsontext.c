/*
 * test_serve_jsontext.c — ml-serve's directly written JSON text is what
 * jansson writes: reals with 9 significant digits (the ranked answers'
 * scores), quoted titles, integers; jansson's own json_dumps is the oracle.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/ml-serve/jsontext.h"
#include "rng.h"
#include "tap.h"

/* jansson's text of v with JSON_REAL_PRECISION(9); "" when it refuses v. */
static void oracle(double v, char *out, size_t cap)
{
	json_t *j = json_real(v);
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	snprintf(out, cap, "%s", t ? t : "");
	free(t);
	json_decref(j);
}

static int same_as_jansson(double v)
{
	char want[64], got[JSON_REAL_MAX];
	oracle(v, want, sizeof want);
	size_t n = json_real9(got, v);
	if (strcmp(want, got) != 0 || n != strlen(got)) {
		printf("# %.17g: jansson %s, json_real9 %s\n", v, want, got);
		return 0;
	}
	return 1;
}

TEST(reals_at_the_edges_are_written_as_jansson_writes_them)
{
	static const double cases[] = {
		0.0, -0.0, 1.0, -1.0, 10.0, 0.1, 0.5, 1e-5, 1e-4, 0.0001234567891, 123456789.0,
		1234567890.0, 999999999.0, 999999999.5, 999999998.5, 9999999995.0, 9999999994.0,
		123456788.5, 123456789.5, 12.2434778, 0.759633183, 1e-10, 9.99999999e-11, 1e10,
		9999999999.0, 1e300, -1e300, 5e-324, 1e-11, 4.5, 45.0, 0.00001, 1e9, 1e8,
		100000000.5, 2.5e-7, 3.14159265358979, -0.000123456789, 1e21, 123456.0,
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		CHECK(same_as_jansson(cases[i]));
}

TEST(random_floats_and_doubles_are_written_as_jansson_writes_them)
{
	rng g;
	rng_seed(&g, 7);
	for (int i = 0; i < 300000; i++) {
		uint32_t bits = (uint32_t)rng_next(&g);
		float f;
		memcpy(&f, &bits, 4);
		if (isfinite(f))
			CHECK(same_as_jansson((double)f));
		uint64_t b64 = rng_next(&g);
		double d;
		memcpy(&d, &b64, 8);
		if (isfinite(d))
			CHECK(same_as_jansson(d));
		/* scores as pgvector gives them (float sums), over the whole exact range */
		double s = ((double)(rng_next(&g) >> 11) / 9007199254740992.0 - 0.5) *
			   pow(10.0, (double)(int)(rng_next(&g) % 22) - 10);
		CHECK(same_as_jansson((double)(float)s));
		CHECK(same_as_jansson(s));
	}
}

TEST(titles_are_quoted_as_jansson_quotes_them_and_bad_utf8_is_refused)
{
	static const char *cases[] = {
		"Toy Story (1995)", "\"Quoted\" \\ back/slash", "tab\there\nnew\rline\b\f",
		"\x01\x1f control", "Misérables, Les (1995)", "日本語 🎬", "",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = json_string(cases[i]);
		char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
		char *got = json_quote(cases[i], strlen(cases[i]));
		CHECK(want && got && strcmp(want, got) == 0);
		free(want);
		free(got);
		json_decref(j);
	}
	CHECK(json_quote("bad \xff byte", 10) == NULL);
	CHECK(json_quote("\xed\xa0\x80 surrogate", 13) == NULL);
}

TEST(integers_are_decimal)
{
	char s[24];
	CHECK_EQ_INT(json_int(s, 0), 1);
	CHECK(strcmp(s, "0") == 0);
	json_int(s, 2147483647);
	CHECK(strcmp(s, "2147483647") == 0);
	json_int(s, -42);
	CHECK(strcmp(s, "-42") == 0);
	json_int(s, INT64_MIN);
	CHECK(strcmp(s, "-9223372036854775808") == 0);
}

int main(void)
{
	RUN(reals_at_the_edges_are_written_as_jansson_writes_them);
	RUN(random_floats_and_doubles_are_written_as_jansson_writes_them);
	RUN(titles_are_quoted_as_jansson_quotes_them_and_bad_utf8_is_refused);
	RUN(integers_are_decimal);
	return tap_done();
}
