/*
 * fuzz_ratings_parse.c — libFuzzer target for the ratings TSV reader
 * (lib/tsv.c, ratings_parse). Whatever it accepts must be well formed
 * (ratings 0.5..5 in steps of 0.5, ids >= 0, no repeated pair) and must survive a round trip:
 * ratings_write then ratings_parse gives the same rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "tsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ratings r = {0};
	lf_error err = {0};
	if (ratings_parse((const char *)data, size, "fuzz.tsv", &r, &err) < 0) {
		FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
		FUZZ_CHECK(r.n == 0 || r.rows != NULL);
		ratings_free(&r);
		return 0;
	}
	/* Text files hold no NUL byte; one would cut a C string made from a field. */
	FUZZ_CHECK(memchr(data, 0, size) == NULL);
	FUZZ_CHECK(r.n > 0);
	for (size_t i = 0; i < r.n; i++) {
		float twice = r.rows[i].rating * 2; /* exact: halves are exact in binary */
		FUZZ_CHECK(r.rows[i].rating >= 0.5f && r.rows[i].rating <= 5);
		FUZZ_CHECK(twice == (float)(int)twice);
		FUZZ_CHECK(r.rows[i].user >= 0 && r.rows[i].item >= 0);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(ratings_write(f, "fuzz-out.tsv", &r, &err) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	ratings again = {0};
	if (ratings_parse(text, len, "fuzz-out.tsv", &again, &err) < 0)
		fuzz_fail("written ratings do not parse again", err.msg);
	FUZZ_CHECK(again.n == r.n);
	for (size_t i = 0; i < r.n; i++) {
		FUZZ_CHECK(again.rows[i].user == r.rows[i].user);
		FUZZ_CHECK(again.rows[i].item == r.rows[i].item);
		FUZZ_CHECK(again.rows[i].rating == r.rows[i].rating);
		FUZZ_CHECK(again.rows[i].ts == r.rows[i].ts);
	}
	ratings_free(&again);
	ratings_free(&r);
	free(text);
	return 0;
}
