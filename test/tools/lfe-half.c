/*
 * lfe-half — a .lfe with its users and items rounded to IEEE half precision
 * (what pgvector's halfvec stores: round to nearest even), so that ml-eval
 * scores the ranking a halfvec set serves.
 *
 *   lfe-half < model.lfe > half.lfe
 *
 * A test and bench helper, not a tool: errors are one line on stderr and exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "lfe.h"

int main(void)
{
	lfe m = {0};
	lf_error err = {0};
	if (lfe_read(stdin, "stdin", &m, &err) < 0) {
		fprintf(stderr, "lfe-half: %s\n", err.msg);
		return 1;
	}
	for (uint32_t t = 0; t < m.n_tables; t++) {
		lfe_table *x = &m.tables[t];
		if (strcmp(x->name, "users") != 0 && strcmp(x->name, "items") != 0)
			continue;
		for (size_t i = 0; i < (size_t)x->rows * x->dim; i++)
			x->values[i] = (float)(_Float16)x->values[i];
	}
	int rc = lfe_write(stdout, "stdout", &m, &err);
	lfe_free(&m);
	if (rc < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "lfe-half: %s\n", err.msg[0] ? err.msg : "write failed");
		return 1;
	}
	return 0;
}
