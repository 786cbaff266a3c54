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
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "split.h"
#include "tsv.h"
#include "util.h"

static const char usage[] =
	"usage: ml-split --test FILE [--protocol P] [--ratio R] [--seed N] [-o FILE] [INPUT]\n"
	"Splits ratings TSV (stdin, or INPUT) into train (stdout, or -o) and test (--test).\n"
	"Rows keep their input order in both outputs; the same input and seed give the same\n"
	"bytes on every machine.\n"
	"\n"
	"  -t, --test FILE        where the test ratings go (required)\n"
	"  -p, --protocol P       stratified (default): per user, a seeded shuffle keeps\n"
	"                         round(R·n) ratings in train (Microsoft recommenders'\n"
	"                         python_stratified_split; defaults = ms-stratified-75-25-seed42)\n"
	"                         temporal: per user, the latest n − round(R·n) ratings to test\n"
	"                         random: one global shuffle, the first round(R·n) to train\n"
	"  -r, --ratio R          train share, strictly between 0 and 1 (default 0.75)\n"
	"  -s, --seed N           random seed, 0..9223372036854775807 (default 42)\n"
	"  -o, --output FILE      write train to FILE (atomically) instead of stdout\n"
	"  -q, --quiet            no summary on stderr\n"
	"  -h, --help             this help\n"
	"      --version          version\n"
	"\n"
	"exit: 0 ok, 64 usage, 65 bad input line (named file:line), 66 no input, 73/74 output\n"
	"\n"
	"example:\n"
	"  ml-fetch ratings | ml-split --test test.tsv --seed 42 > train.tsv\n";

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

int main(int argc, char **argv)
{
	enum { OPT_VERSION = 256 };
	static const struct option longopts[] = {{"test", required_argument, NULL, 't'},
						 {"protocol", required_argument, NULL, 'p'},
						 {"ratio", required_argument, NULL, 'r'},
						 {"seed", required_argument, NULL, 's'},
						 {"output", required_argument, NULL, 'o'},
						 {"quiet", no_argument, NULL, 'q'},
						 {"help", no_argument, NULL, 'h'},
						 {"version", no_argument, NULL, OPT_VERSION},
						 {NULL, 0, NULL, 0}};
	const char *test_path = NULL, *train_path = NULL;
	split_protocol proto = SPLIT_STRATIFIED;
	double ratio = 0.75;
	int64_t seed = 42;
	int c;
	log_set_prog("ml-split");
	while ((c = getopt_long(argc, argv, "t:p:r:s:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			test_path = optarg;
			break;
		case 'p':
			if (split_protocol_parse(optarg, &proto)) {
				log_error("--protocol '%s': use stratified, temporal or random",
					  optarg);
				return EX_USAGE;
			}
			break;
		case 'r':
			if (parse_double(optarg, 0.0, 1.0, &ratio) || ratio <= 0.0 ||
			    ratio >= 1.0) {
				log_error("--ratio '%s' is not a number strictly between 0 and 1",
					  optarg);
				return EX_USAGE;
			}
			break;
		case 's':
			if (parse_i64(optarg, 0, INT64_MAX, &seed)) {
				log_error("--seed '%s' is not an integer in 0..%lld", optarg,
					  (long long)INT64_MAX);
				return EX_USAGE;
			}
			break;
		case 'o':
			train_path = optarg;
			break;
		case 'q':
			log_set_level(0);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case OPT_VERSION:
			printf("ml-split lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
			return 0;
		default:
			log_error("try 'ml-split --help'");
			return EX_USAGE;
		}
	}
	if (!test_path || !test_path[0]) {
		log_error("--test FILE is required (where the test ratings go); try 'ml-split "
			  "--help'");
		return EX_USAGE;
	}
	if (train_path && !train_path[0]) {
		log_error("-o needs a file name");
		return EX_USAGE;
	}
	if (train_path && strcmp(train_path, test_path) == 0) {
		log_error("--test and -o name the same file");
		return EX_USAGE;
	}
	if (argc - optind > 1) {
		log_error("one INPUT at most; try 'ml-split --help'");
		return EX_USAGE;
	}
	const char *in_name = optind < argc ? argv[optind] : "stdin";
	FILE *in = stdin;
	if (optind < argc && !(in = fopen(in_name, "r"))) {
		log_error("%s: %s", in_name, strerror(errno));
		return errno == ENOENT ? EX_NOINPUT : EX_IOERR;
	}

	lf_error err = {0};
	ratings r = {0};
	unsigned char *is_test = NULL;
	int rc = ratings_read(in, in_name, &r, &err);
	if (in != stdin)
		fclose(in);
	if (rc == 0 && !(is_test = lf_calloc(r.n, 1))) {
		lf_fail(&err, EX_OSERR, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		rc = split_assign(&r, proto, ratio, (uint64_t)seed, is_test, &err);
	if (rc == 0)
		rc = write_outputs(&r, is_test, test_path, train_path, &err);
	free(is_test);
	ratings_free(&r);
	if (rc) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
