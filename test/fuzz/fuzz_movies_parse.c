/*
 * fuzz_movies_parse.c — libFuzzer target for the movies TSV reader
 * (lib/tsv_text.c, movies_parse). What it accepts must be writable by
 * movies_write and read back as the same rows (ids, title, date, genres).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "tsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	movies m = {0};
	lf_error err = {0};
	if (movies_parse((const char *)data, size, "fuzz.tsv", &m, &err) < 0) {
		FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
		movies_free(&m);
		return 0;
	}
	/* Text files hold no NUL byte; one would cut a C string made from a field. */
	FUZZ_CHECK(memchr(data, 0, size) == NULL);
	FUZZ_CHECK(m.n > 0);
	for (size_t i = 0; i < m.n; i++) {
		FUZZ_CHECK(m.rows[i].id >= 0);
		FUZZ_CHECK(m.rows[i].title[0] != '\0');
		FUZZ_CHECK(utf8_valid(m.rows[i].title, strlen(m.rows[i].title)));
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL);
	if (movies_write(f, "fuzz-out.tsv", &m, &err) < 0)
		fuzz_fail("accepted movies cannot be written", err.msg);
	FUZZ_CHECK(fclose(f) == 0);
	movies again = {0};
	if (movies_parse(text, len, "fuzz-out.tsv", &again, &err) < 0)
		fuzz_fail("written movies do not parse again", err.msg);
	FUZZ_CHECK(again.n == m.n);
	for (size_t i = 0; i < m.n; i++) {
		FUZZ_CHECK(again.rows[i].id == m.rows[i].id);
		FUZZ_CHECK(strcmp(again.rows[i].title, m.rows[i].title) == 0);
		FUZZ_CHECK(strcmp(again.rows[i].release_date, m.rows[i].release_date) == 0);
		FUZZ_CHECK(strcmp(again.rows[i].genres, m.rows[i].genres) == 0);
	}
	movies_free(&again);
	movies_free(&m);
	free(text);
	return 0;
}
