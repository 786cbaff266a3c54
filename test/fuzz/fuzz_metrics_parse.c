/*
 * fuzz_metrics_parse.c — libFuzzer target for the metrics TSV reader
 * (lib/tsv_text.c, metrics_parse). Accepted values are finite, names unique
 * and valid; metrics_write's shortest form reads back bit for bit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "tsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	metric_set m = {0};
	lf_error err = {0};
	if (metrics_parse((const char *)data, size, "fuzz.tsv", &m, &err) < 0) {
		FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
		metrics_free(&m);
		return 0;
	}
	/* Text files hold no NUL byte; one would cut a C string made from a field. */
	FUZZ_CHECK(memchr(data, 0, size) == NULL);
	for (size_t i = 0; i < m.n; i++) {
		FUZZ_CHECK(isfinite(m.items[i].value));
		FUZZ_CHECK(strlen(m.items[i].name) > 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(m.items[i].name, m.items[j].name) != 0);
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(metrics_write(f, "fuzz-out.tsv", &m, &err) == 0);
	FUZZ_CHECK(fclose(f) == 0);
	metric_set again = {0};
	if (metrics_parse(text, len, "fuzz-out.tsv", &again, &err) < 0)
		fuzz_fail("written metrics do not parse again", err.msg);
	FUZZ_CHECK(again.n == m.n);
	for (size_t i = 0; i < m.n; i++) {
		FUZZ_CHECK(strcmp(again.items[i].name, m.items[i].name) == 0);
		FUZZ_CHECK(memcmp(&again.items[i].value, &m.items[i].value, sizeof(double)) == 0);
	}
	metrics_free(&again);
	metrics_free(&m);
	free(text);
	return 0;
}
