/*
 * ml-pgload — loads the catalogue and model embeddings into PostgreSQL +
 * pgvector, and moves the served set. Options and wiring only; the work is in
 * catalogue.c, sets.c, registry.c and lib/pg.c.
 *
 * `--version N` and `--switch N` take their number as the next word (or
 * `--version=N`); `--version` with no number is the usual version banner.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pg.h"
#include "pgload.h"
#include "store_serving.h"
#include "util.h"

#define LFE_INPUT_MAX ((size_t)8 << 30)
#define CONNECT_TIMEOUT_S 10

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ml-pgload --catalogue --movies FILE --ratings FILE\n"
		"       ml-pgload --version N [--model-name NAME] [--run-id ID] [--metrics FILE]\n"
		"                 [--index auto|hnsw|none] [--switch] < model.lfe\n"
		"       ml-pgload --switch N | --serving | --list | --prune [--keep 5]\n"
		"       ml-pgload [--switch N] --challenger M|none [--share 0.1]\n"
		"\n"
		"Loads MovieLens' catalogue and model embeddings into PostgreSQL + pgvector.\n"
		"A model version becomes three tables lf_<model>_v<N>_{users,items,dirs}, "
		"created,\n"
		"filled, indexed and registered in one transaction; loading the same .lfe again\n"
		"prints \"unchanged\", another .lfe under a loaded version is refused (65).\n"
		"\n"
		"  --catalogue           load movies and ratings TSV (skipped when unchanged)\n"
		"  --version N           load the .lfe on stdin as version N; prints "
		"loaded|unchanged\n"
		"  --switch [N]          serve version N (after a load: the loaded one)\n"
		"  --challenger M|none   answer a stable share of users from version M beside the\n"
		"                        champion (after a load: the loaded one); none: stop\n"
		"  --share S             the challenger's share of users, 0..1 (default 0.1)\n"
		"  --serving             print the serving version (66 when none)\n"
		"  --list                TSV: model, version, dim, users, items, index, serving,\n"
		"                        loaded_at, run_id, checksum\n"
		"  --prune               drop old sets, keeping the --keep newest (default 5), "
		"the\n"
		"                        serving one and the one it replaced; prints model, "
		"version\n"
		"  --model-name NAME     [a-z][a-z0-9_]{0,31} (default lensflow)\n"
		"  --run-id ID           MLflow run recorded with the set\n"
		"  --metrics FILE        metrics TSV recorded with the set (as jsonb)\n"
		"  --index auto|hnsw|none  HNSW indexes on items and directions; auto (default):\n"
		"                        from 20000 movies on (below, exact scans are exact and fast)\n"
		"  --db URL              libpq URL (default $DATABASE_URL)\n"
		"  -q, --quiet           no progress on stderr\n"
		"  -h, --help            this help;  --version: the program's version\n"
		"\n"
		"example: ml-train < train.tsv | ml-pgload --version 3 --metrics m.tsv --switch\n"
		"exit: 0 ok, 64 usage, 65 bad input, 66 nothing serving, 69 Postgres "
		"unavailable\n");
}

enum {
	O_CATALOGUE = 256,
	O_MOVIES,
	O_RATINGS,
	O_VERSION,
	O_MODEL,
	O_RUN,
	O_METRICS,
	O_INDEX,
	O_SWITCH,
	O_SERVING,
	O_LIST,
	O_PRUNE,
	O_KEEP,
	O_DB,
	O_CHALLENGER,
	O_SHARE
};

typedef struct opts {
	int catalogue, serving, list, prune, hnsw;
	int version_flag, switch_flag;	  /* given, with or without a number */
	int64_t version, switch_to, keep; /* 0 when no number */
	const char *movies, *ratings, *model, *run_id, *metrics, *db;
	int challenger_flag, share_given; /* --challenger given; challenger 0: none */
	int64_t challenger;
	double share;
} opts;

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", log_prog());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see ml-pgload --help\n");
	return EX_USAGE;
}

/* The number of --version / --switch: "=N", or the next word when it is one. */
static int take_number(int argc, char **argv, const char *opt, int64_t *out)
{
	const char *s = optarg;
	if (!s && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
		s = argv[optind++];
	if (!s)
		return 0;
	if (parse_i64(s, 1, INT32_MAX, out) < 0)
		return bad_usage("%s wants a version 1..2147483647, not '%s'", opt, s);
	return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
	static const struct option longopts[] = {{"catalogue", no_argument, NULL, O_CATALOGUE},
						 {"movies", required_argument, NULL, O_MOVIES},
						 {"ratings", required_argument, NULL, O_RATINGS},
						 {"version", optional_argument, NULL, O_VERSION},
						 {"model-name", required_argument, NULL, O_MODEL},
						 {"run-id", required_argument, NULL, O_RUN},
						 {"metrics", required_argument, NULL, O_METRICS},
						 {"index", required_argument, NULL, O_INDEX},
						 {"switch", optional_argument, NULL, O_SWITCH},
						 {"serving", no_argument, NULL, O_SERVING},
						 {"list", no_argument, NULL, O_LIST},
						 {"prune", no_argument, NULL, O_PRUNE},
						 {"keep", required_argument, NULL, O_KEEP},
						 {"db", required_argument, NULL, O_DB},
						 {"challenger", optional_argument, NULL, O_CHALLENGER},
						 {"share", required_argument, NULL, O_SHARE},
						 {"quiet", no_argument, NULL, 'q'},
						 {"help", no_argument, NULL, 'h'},
						 {NULL, 0, NULL, 0}};
	int c, rc, keep_given = 0;

	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (c) {
		case O_CATALOGUE:
			o->catalogue = 1;
			break;
		case O_MOVIES:
			o->movies = optarg;
			break;
		case O_RATINGS:
			o->ratings = optarg;
			break;
		case O_VERSION:
			o->version_flag = 1;
			if ((rc = take_number(argc, argv, "--version", &o->version)))
				return rc;
			break;
		case O_SWITCH:
			o->switch_flag = 1;
			if ((rc = take_number(argc, argv, "--switch", &o->switch_to)))
				return rc;
			break;
		case O_MODEL:
			o->model = optarg;
			break;
		case O_RUN:
			o->run_id = optarg;
			break;
		case O_METRICS:
			o->metrics = optarg;
			break;
		case O_INDEX:
			if (strcmp(optarg, "auto") == 0)
				o->hnsw = -1;
			else if (strcmp(optarg, "hnsw") == 0)
				o->hnsw = 1;
			else if (strcmp(optarg, "none") == 0)
				o->hnsw = 0;
			else
				return bad_usage("--index is auto, hnsw or none, not '%s'", optarg);
			break;
		case O_SERVING:
			o->serving = 1;
			break;
		case O_LIST:
			o->list = 1;
			break;
		case O_PRUNE:
			o->prune = 1;
			break;
		case O_KEEP:
			keep_given = 1;
			if (parse_i64(optarg, 0, INT32_MAX, &o->keep) < 0)
				return bad_usage("--keep wants a count >= 0, not '%s'", optarg);
			break;
		case O_DB:
			o->db = optarg;
			break;
		case O_CHALLENGER:
			o->challenger_flag = 1;
			if (!optarg && optind < argc && strcmp(argv[optind], "none") == 0)
				optind++, o->challenger = -1;
			else if (optarg && strcmp(optarg, "none") == 0)
				o->challenger = -1;
			else if ((rc = take_number(argc, argv, "--challenger", &o->challenger)))
				return rc;
			break;
		case O_SHARE:
			o->share_given = 1;
			if (parse_double(optarg, 0, 1, &o->share) < 0)
				return bad_usage("--share wants a share of users from 0 to 1, not '%s'",
						 optarg);
			break;
		case 'q':
			log_set_level(0);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return bad_usage("unknown option or missing value");
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	/* --version alone: the banner */
	if (o->version_flag && !o->version && !o->catalogue && !o->switch_flag && !o->serving &&
	    !o->list && !o->prune && !o->challenger_flag) {
		printf("ml-pgload lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
		exit(0);
	}
	int load = o->version != 0;
	int modes = o->catalogue + load + (o->switch_flag && !load) + o->serving + o->list +
		    o->prune + (o->challenger_flag && !load && !o->switch_flag);
	if (modes != 1)
		return bad_usage("give exactly one of --catalogue, --version N, --switch N, "
				 "--challenger M, --serving, --list, --prune");
	if (o->challenger_flag && !load && !o->challenger)
		return bad_usage("--challenger wants a version or none: --challenger M");
	if (o->share_given && (!o->challenger_flag || o->challenger < 0))
		return bad_usage("--share goes with --challenger M");
	if (!o->share_given)
		o->share = 0.1;
	if (o->catalogue && (!o->movies || !o->ratings))
		return bad_usage("--catalogue needs --movies FILE and --ratings FILE");
	if (!o->catalogue && (o->movies || o->ratings))
		return bad_usage("--movies and --ratings go with --catalogue");
	if (!load && (o->run_id || o->metrics))
		return bad_usage("--run-id and --metrics go with --version N");
	if (load && o->switch_to && o->switch_to != o->version)
		return bad_usage("--switch after a load switches to the loaded version");
	if (o->switch_flag && !load && !o->switch_to)
		return bad_usage("--switch wants a version: --switch N");
	if (keep_given && !o->prune)
		return bad_usage("--keep goes with --prune");
	if (!model_name_ok(o->model))
		return bad_usage("model name '%s' must match [a-z][a-z0-9_]{0,31}", o->model);
	if (o->run_id && (strlen(o->run_id) == 0 || strlen(o->run_id) > 256))
		return bad_usage("--run-id must be 1..256 characters");
	if (!o->db || !*o->db)
		o->db = getenv("DATABASE_URL");
	if (!o->db || !*o->db)
		return bad_usage("no database: give --db URL or set DATABASE_URL");
	if (load && isatty(STDIN_FILENO))
		return bad_usage("the .lfe comes on stdin: ml-pgload --version N < model.lfe");
	return 0;
}

/* The .lfe on stdin: mapped when stdin is a regular file (no copy, no fresh
 * pages to zero: a quarter of a second per 100 MB), else read whole. */
typedef struct input {
	unsigned char *buf;
	size_t len;
	int mapped;
} input;

static int input_read(input *in, lf_error *err)
{
	struct stat st;

	if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uintmax_t)st.st_size <= LFE_INPUT_MAX) {
		off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);
		if (at == 0) {
			void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
				       STDIN_FILENO, 0);
			if (p != MAP_FAILED) {
				in->buf = p;
				in->len = (size_t)st.st_size;
				in->mapped = 1;
				return 0;
			}
		}
	}
	return read_all(stdin, "stdin", LFE_INPUT_MAX, &in->buf, &in->len, err);
}

static void input_free(input *in)
{
	if (in->mapped)
		munmap(in->buf, in->len);
	else
		free(in->buf);
}

/* The champion switched; a challenger it replaced is no longer one. */
static int switch_to(PGconn *c, const char *model, int32_t version, lf_error *err)
{
	if (registry_switch(c, model, version, stdout, err) < 0)
		return -1;
	return store_serving_drop_promoted(c, model, err);
}

/* --challenger M (or none: version < 0) with its share. */
static int challenge(PGconn *c, const opts *o, int64_t version, lf_error *err)
{
	int v = version > 0 ? (int)version : 0;
	if (store_serving_set_challenger(c, o->model, v, o->share, err) < 0)
		return -1;
	if (v)
		printf("challenger %d share %g\n", v, o->share);
	else
		printf("challenger none\n");
	return 0;
}

static int run(const opts *o, PGconn *c, lf_error *err)
{
	int loaded = 0;

	if (schema_apply(c, err) < 0)
		return -1;
	if (o->catalogue) {
		if (catalogue_load(c, o->movies, o->ratings, &loaded, err) < 0)
			return -1;
		printf("%s\n", loaded ? "loaded" : "unchanged");
		return 0;
	}
	if (o->version) {
		input in = {0};
		set_opts so = {o->model, (int32_t)o->version, o->run_id, o->metrics, o->hnsw};
		if (input_read(&in, err) < 0)
			return -1;
		int rc = set_load(c, &so, in.buf, in.len, "stdin", &loaded, err);
		input_free(&in);
		if (rc < 0)
			return -1;
		printf("%s\n", loaded ? "loaded" : "unchanged");
		if (o->switch_flag && switch_to(c, o->model, so.version, err) < 0)
			return -1;
		if (o->challenger_flag)
			return challenge(c, o, o->challenger ? o->challenger : so.version, err);
		return 0;
	}
	if (o->switch_flag && switch_to(c, o->model, (int32_t)o->switch_to, err) < 0)
		return -1;
	if (o->challenger_flag)
		return challenge(c, o, o->challenger, err);
	if (o->switch_flag)
		return 0;
	if (o->serving)
		return registry_serving(c, o->model, stdout, err);
	if (o->list)
		return registry_list(c, stdout, err);
	return registry_prune(c, o->model, o->keep, stdout, err);
}

int main(int argc, char **argv)
{
	opts o = {.hnsw = -1, .keep = 5, .model = "lensflow"};
	lf_error err = {0};
	PGconn *c = NULL;
	int rc;

	log_set_prog("ml-pgload");
	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc;
	if (pg_connect(o.db, "ml-pgload", CONNECT_TIMEOUT_S, &c, &err) < 0 ||
	    run(&o, c, &err) < 0) {
		log_error("%s", err.msg);
		PQfinish(c);
		return err.code ? err.code : EX_SOFTWARE;
	}
	PQfinish(c);
	if (close_stream(stdout, "stdout", &err) < 0) {
		log_error("%s", err.msg);
		return err.code;
	}
	return 0;
}
