/*
 * ml-split — ratings on stdin → train on stdout (or -o), test to --test.
 *
 * Options and wiring only: split.c decides which rows go to test. Both
 * outputs keep the input's row order. Neither output is left behind on a
 * failure: the test file is written to a temporary name and renamed only
 * after the train output is complete; -o is atomic the same way, and a
 * stdout that is a regular file is truncated back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "opts.h"
#include "split.h"
#include "tsv.h"
#include "util.h"

static const opts_choice protocols[] = {{"stratified", SPLIT_STRATIFIED},
					{"temporal", SPLIT_TEMPORAL},
					{"random", SPLIT_RANDOM},
					{NULL, 0}};

typedef struct split_args {
	const char *test_path, *train_path;
	int proto, verbosity;
	double ratio;
	int64_t seed;
} split_args;

static split_args args = {.proto = SPLIT_STRATIFIED, .verbosity = 1, .ratio = 0.75, .seed = 42};

static const opts_opt options[] = {
	OPTS_STRING('t', "test", &args.test_path, "FILE", "where the test ratings go (required)"),
	OPTS_CHOICE('p', "protocol", &args.proto, protocols, "P",
		    "stratified (default): per user, a seeded shuffle keeps\n"
		    "round(R·n) ratings in train (Microsoft recommenders'\n"
		    "python_stratified_split; defaults = ms-stratified-75-25-seed42)\n"
		    "temporal: per user, the latest n − round(R·n) ratings to test\n"
		    "random: one global shuffle, the first round(R·n) to train"),
	{.type = OPTS_T_DOUBLE, .short_name = 'r', .long_name = "ratio", .value = &args.ratio,
	 .dmin = 0.0, .dmax = 1.0, .flags = OPTS_EXCLUSIVE, .argh = "R",
	 .help = "train share, strictly between 0 and 1 (default 0.75)"},
	OPTS_I64('s', "seed", &args.seed, 0, INT64_MAX, "N",
		 "random seed, 0..9223372036854775807 (default 42)"),
	OPTS_STRING('o', "output", &args.train_path, "FILE",
		    "write train to FILE (atomically) instead of stdout"),
	OPTS_SET('q', "quiet", &args.verbosity, 0, "no summary on stderr"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-split",
	.usage = "usage: ml-split --test FILE [--protocol P] [--ratio R] [--seed N] [-o FILE] [INPUT]\n"
		 "Splits ratings TSV (stdin, or INPUT) into train (stdout, or -o) and test (--test).\n"
		 "Rows keep their input order in both outputs; the same input and seed give the same\n"
		 "bytes on every machine.\n",
	.opts = options,
	.footer = "exit: 0 ok, 64 usage, 65 bad input line (named file:line), 66 no input, 71 out of\n"
		  "memory, 73/74 output\n"
		  "\n"
		  "example:\n"
		  "  ml-fetch ratings | ml-split --test test.tsv --seed 42 > train.tsv\n",
	.max_args = 1,
};

static int write_outputs(const ratings *r, const unsigned char *is_test, const char *test_path,
			 const char *train_path, lf_error *err)
{
	ratings parts[2] = {{0}, {0}}; /* [0] train, [1] test: views, rows borrowed */
	rating_row *rows = lf_calloc(r->n, sizeof *rows);
	if (!rows)
		return lf_fail(err, EX_OSERR, "out of memory");
	/* one array: the train rows, then the test rows, each in input order */
	size_t nt = 0, ns = 0;
	for (size_t i = 0; i < r->n; i++)
		if (!is_test[i])
			rows[nt++] = r->rows[i];
	for (size_t i = 0; i < r->n; i++)
		if (is_test[i])
			rows[nt + ns++] = r->rows[i];
	parts[0] = (ratings){.rows = rows, .n = nt, .cap = nt};
	parts[1] = (ratings){.rows = rows + nt, .n = ns, .cap = ns};

	atomic_out test, train;
	int rc = -1;
	if (atomic_out_open(&test, test_path, err))
		goto out;
	if (ratings_write(test.f, test_path, &parts[1], err))
		goto abort_test;
	if (train_path) {
		if (atomic_out_open(&train, train_path, err))
			goto abort_test;
		if (ratings_write(train.f, train_path, &parts[0], err)) {
			atomic_out_abort(&train);
			goto abort_test;
		}
		if (atomic_out_commit(&train, err))
			goto abort_test;
		if (atomic_out_commit(&test, err)) {
			/* keep the pair whole: no train without its test (a regular file
			 * only: a device such as /dev/stdout is never removed) */
			struct stat st;
			if (lstat(train_path, &st) == 0 && S_ISREG(st.st_mode))
				unlink(train_path);
			goto out;
		}
	} else {
		stdout_mark();
		if (ratings_write(stdout, "stdout", &parts[0], err) ||
		    close_stream(stdout, "stdout", err)) {
			stdout_rollback();
			goto abort_test;
		}
		if (atomic_out_commit(&test, err)) {
			stdout_rollback();
			goto out;
		}
	}
	log_info("%zu train, %zu test ratings", nt, ns);
	rc = 0;
	goto out;
abort_test:
	atomic_out_abort(&test);
out:
	free(rows);
	return rc;
}

/* The checks that involve more than one option. */
static int check_args(void)
{
	if (!args.test_path || !args.test_path[0])
		return opts_error(&cmd, "--test FILE is required (where the test ratings go)");
	if (args.train_path && !args.train_path[0])
		return opts_error(&cmd, "-o needs a file name");
	if (args.train_path && strcmp(args.train_path, args.test_path) == 0)
		return opts_error(&cmd, "--test and -o name the same file");
	return 0;
}

/* Reads path (NULL: stdin), splits, writes both outputs. */
static int run(const char *path, lf_error *err)
{
	ratings r = {0};
	unsigned char *is_test = NULL;
	const char *in_name = path ? path : "stdin";
	FILE *in = path ? fopen(path, "r") : stdin;
	if (!in)
		return lf_fail_errno(err, errno == ENOENT ? EX_NOINPUT : EX_IOERR, errno, "%s",
				     in_name);
	int rc = ratings_read(in, in_name, &r, err);
	if (in != stdin)
		fclose(in);
	if (rc == 0 && !(is_test = lf_calloc(r.n, 1))) {
		lf_fail(err, EX_OSERR, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		rc = split_assign(&r, (split_protocol)args.proto, args.ratio, (uint64_t)args.seed,
				  is_test, err);
	if (rc == 0)
		rc = write_outputs(&r, is_test, args.test_path, args.train_path, err);
	free(is_test);
	ratings_free(&r);
	return rc;
}

int main(int argc, char **argv)
{
	int argi, rc;
	log_set_prog(cmd.prog);
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE || (rc = check_args()))
		return rc;
	log_set_level(args.verbosity);
	lf_error err = {0};
	if (run(argi < argc ? argv[argi] : NULL, &err) < 0) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
