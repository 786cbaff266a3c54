/*
 * ml-pgload — loads the catalogue and model embeddings into PostgreSQL +
 * pgvector, and moves the served set. Options and wiring only; the work is in
 * catalogue.c, sets.c, registry.c and lib/pg.c.
 *
 * `--switch N` takes its number as the next word (or `--switch=N`);
 * `--version` is only the program's version: a model version is `--load N`,
 * and the old spelling `--version N` is refused with a hint naming it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "opts.h"
#include "pg.h"
#include "pgload.h"
#include "store.h"
#include "store_serving.h"
#include "util.h"

#define LFE_INPUT_MAX ((size_t)8 << 30)
#define CONNECT_TIMEOUT_S 10

typedef struct pgload_args {
	int catalogue, serving, list, prune, index, verbosity, halfvec, arms;
	int switch_flag, keep_given; /* given, with or without a number */
	int64_t load, switch_to, keep; /* 0 when no number */
	const char *movies, *ratings, *model, *run_id, *metrics, *db;
	const char *challenger_arg; /* --challenger M|none */
	int64_t challenger;         /* from it: the version, or -1 for none */
	double share;
	int share_given;
} pgload_args;

static pgload_args args = {.index = -1, .keep = 5, .model = "lensflow", .verbosity = 1,
			   .share = 0.1};

static const opts_choice indexes[] = {{"auto", -1},
				       {"hnsw", STORE_INDEX_HNSW},
				       {"norm", STORE_INDEX_NORM},
				       {"none", STORE_INDEX_NONE},
				       {NULL, 0}};
static const opts_choice vtypes[] = {{"vector", 0}, {"halfvec", 1}, {NULL, 0}};

static const opts_opt options[] = {
	OPTS_SET(0, "catalogue", &args.catalogue, 1,
		 "load movies and ratings TSV (skipped when unchanged)"),
	OPTS_STRING(0, "movies", &args.movies, "FILE", "movies TSV, with --catalogue"),
	OPTS_STRING(0, "ratings", &args.ratings, "FILE", "ratings TSV, with --catalogue"),
	OPTS_I64(0, "load", &args.load, 1, INT32_MAX, "N",
		 "load the .lfe on stdin as version N; prints loaded|unchanged"),
	{.type = OPTS_T_I64, .long_name = "switch", .value = &args.switch_to, .imin = 1,
	 .imax = INT32_MAX, .argh = "N", .flags = OPTS_OPTARG, .seen = &args.switch_flag,
	 .help = "serve version N (after a load: the loaded one)"},
	OPTS_STRING(0, "challenger", &args.challenger_arg, "M|none",
		    "answer a stable share of users from version M beside the\n"
		    "champion (alone, or after --switch N or --load M); none: stop"),
	{.type = OPTS_T_DOUBLE, .long_name = "share", .value = &args.share, .dmin = 0, .dmax = 1,
	 .argh = "S", .seen = &args.share_given,
	 .help = "the challenger's share of users, 0..1 (default 0.1)"},
	OPTS_SET(0, "serving", &args.serving, 1, "print the serving version (66 when none)"),
	OPTS_SET(0, "arms", &args.arms, 1,
		 "TSV: champion N, challenger M (0: none), share S (66 when\n"
		 "nothing is served)"),
	OPTS_SET(0, "list", &args.list, 1,
		 "TSV: model, version, dim, users, items, index, serving,\n"
		 "loaded_at, run_id, checksum"),
	OPTS_SET(0, "prune", &args.prune, 1,
		 "drop old sets, keeping the --keep newest (default 5), the\n"
		 "serving one and the one it replaced; prints model, version"),
	{.type = OPTS_T_I64, .long_name = "keep", .value = &args.keep, .imin = 0,
	 .imax = INT32_MAX, .argh = "N", .seen = &args.keep_given,
	 .help = "how many sets --prune keeps (default 5)"},
	OPTS_STRING(0, "model-name", &args.model, "NAME", "[a-z][a-z0-9_]{0,31} (default lensflow)"),
	OPTS_STRING(0, "run-id", &args.run_id, "ID", "MLflow run recorded with the set"),
	OPTS_STRING(0, "metrics", &args.metrics, "FILE",
		    "metrics TSV recorded with the set (as jsonb)"),
	OPTS_CHOICE(0, "index", &args.index, indexes, "auto|hnsw|norm|none",
		    "how movies are ranked: hnsw (pgvector's HNSW on items and\n"
		    "directions, approximate), norm (exact, reading only movies\n"
		    "whose norm can reach the k-th score), none (every movie);\n"
		    "auto (default): hnsw from 20000 movies on, else norm"),
	OPTS_CHOICE(0, "vector-type", &args.halfvec, vtypes, "vector|halfvec",
		    "pgvector type of users, movies and directions: vector\n"
		    "(float4, default) or halfvec (float2: half the bytes)"),
	OPTS_STRING(0, "db", &args.db, "URL", "libpq URL (default $DATABASE_URL)"),
	OPTS_SET('q', "quiet", &args.verbosity, 0, "no progress on stderr"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-pgload",
	.usage = "usage: ml-pgload --catalogue --movies FILE --ratings FILE\n"
		 "       ml-pgload --load N [--model-name NAME] [--run-id ID] [--metrics FILE]\n"
		 "                 [--index auto|hnsw|norm|none] [--vector-type vector|halfvec] [--switch]\n"
		 "                 < model.lfe\n"
		 "       ml-pgload --switch N | --serving | --list | --prune [--keep 5]\n"
		 "       ml-pgload [--switch N] --challenger M|none [--share 0.1] | --arms\n"
		 "\n"
		 "Loads MovieLens' catalogue and model embeddings into PostgreSQL + pgvector.\n"
		 "A model version becomes three tables lf_<model>_v<N>_{users,items,dirs}, created,\n"
		 "filled, indexed and registered in one transaction; loading the same .lfe again\n"
		 "prints \"unchanged\", another .lfe under a loaded version is refused (65).\n",
	.opts = options,
	.footer = "example: ml-train < train.tsv | ml-pgload --load 3 --metrics m.tsv --switch\n"
		  "exit: 0 ok, 64 usage, 65 bad input, 66 nothing serving, 69 Postgres "
		  "unavailable,\n"
		  "71 out of memory\n",
	.version_value_hint = "load a model version with --load N",
};

/* What the table cannot say: one mode, and the options each mode takes. */
static int check_args(void)
{
	int load = args.load != 0;
	int challenger = args.challenger_arg != NULL;
	int modes = args.catalogue + load + (args.switch_flag && !load) + args.serving +
		    args.list + args.prune + args.arms + (challenger && !load && !args.switch_flag);
	if (modes != 1)
		return opts_error(&cmd, "give exactly one of --catalogue, --load N, --switch N, "
					"--challenger M, --serving, --arms, --list, --prune");
	if (challenger && strcmp(args.challenger_arg, "none") == 0)
		args.challenger = -1;
	else if (challenger && parse_i64(args.challenger_arg, 1, INT32_MAX, &args.challenger) < 0)
		return opts_error(&cmd, "--challenger wants a version or none, not '%s'",
				  args.challenger_arg);
	if (args.share_given && (!challenger || args.challenger < 0))
		return opts_error(&cmd, "--share goes with --challenger M");
	if (args.catalogue && (!args.movies || !args.ratings))
		return opts_error(&cmd, "--catalogue needs --movies FILE and --ratings FILE");
	if (!args.catalogue && (args.movies || args.ratings))
		return opts_error(&cmd, "--movies and --ratings go with --catalogue");
	if (!load && (args.run_id || args.metrics))
		return opts_error(&cmd, "--run-id and --metrics go with --load N");
	if (load && args.switch_to && args.switch_to != args.load)
		return opts_error(&cmd, "--switch after a load switches to the loaded version");
	if (args.switch_flag && !load && !args.switch_to)
		return opts_error(&cmd, "--switch wants a version: --switch N");
	if (args.keep_given && !args.prune)
		return opts_error(&cmd, "--keep goes with --prune");
	if (!store_model_name_ok(args.model))
		return opts_error(&cmd, "model name '%s' must match [a-z][a-z0-9_]{0,31}",
				  args.model);
	if (args.run_id && (strlen(args.run_id) == 0 || strlen(args.run_id) > 256))
		return opts_error(&cmd, "--run-id must be 1..256 characters");
	if (!args.db || !*args.db)
		args.db = getenv("DATABASE_URL");
	if (!args.db || !*args.db)
		return opts_error(&cmd, "no database: give --db URL or set DATABASE_URL");
	if (load && isatty(STDIN_FILENO))
		return opts_error(&cmd, "the .lfe comes on stdin: ml-pgload --load N < model.lfe");
	log_set_level(args.verbosity);
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
	if (store_switch(c, model, version, stdout, err) < 0)
		return -1;
	return store_serving_drop_promoted(c, model, err);
}

/* --challenger M (or none) with its share. */
static int challenge(PGconn *c, const pgload_args *o, lf_error *err)
{
	int v = o->challenger > 0 ? (int)o->challenger : 0;
	if (store_serving_set_challenger(c, o->model, v, o->share, err) < 0)
		return -1;
	if (v)
		printf("challenger %d share %g\n", v, o->share);
	else
		printf("challenger none\n");
	return 0;
}

static int run(const pgload_args *o, PGconn *c, lf_error *err)
{
	int loaded = 0;

	if (store_schema_apply(c, err) < 0)
		return -1;
	if (o->catalogue) {
		if (catalogue_load(c, o->movies, o->ratings, &loaded, err) < 0)
			return -1;
		printf("%s\n", loaded ? "loaded" : "unchanged");
		return 0;
	}
	if (o->load) {
		input in = {0};
		set_opts so = {o->model, (int32_t)o->load, o->run_id, o->metrics, o->index,
			       o->halfvec};
		if (input_read(&in, err) < 0)
			return -1;
		int rc = set_load(c, &so, in.buf, in.len, "stdin", &loaded, err);
		input_free(&in);
		if (rc < 0)
			return -1;
		printf("%s\n", loaded ? "loaded" : "unchanged");
		if (o->switch_flag && switch_to(c, o->model, so.version, err) < 0)
			return -1;
		if (o->challenger_arg)
			return challenge(c, o, err);
		return 0;
	}
	if (o->switch_flag && switch_to(c, o->model, (int32_t)o->switch_to, err) < 0)
		return -1;
	if (o->challenger_arg)
		return challenge(c, o, err);
	if (o->switch_flag)
		return 0;
	if (o->serving)
		return store_serving(c, o->model, stdout, err);
	if (o->arms) {
		struct serving_row row;
		if (store_serving_get(c, o->model, &row, err) < 0)
			return -1;
		if (!row.version)
			return lf_fail(err, EX_NOINPUT, "no version of %s is serving; switch one with "
				       "--switch N", o->model);
		printf("champion\t%d\nchallenger\t%d\nshare\t%g\n", row.version, row.challenger,
		       row.share);
		return 0;
	}
	if (o->list)
		return store_list(c, stdout, err);
	return store_prune(c, o->model, o->keep, stdout, err);
}

int main(int argc, char **argv)
{
	lf_error err = {0};
	PGconn *c = NULL;
	int argi, rc;

	log_set_prog(cmd.prog);
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE || (rc = check_args()))
		return rc;
	if (pg_connect(args.db, cmd.prog, CONNECT_TIMEOUT_S, &c, &err) < 0 ||
	    run(&args, c, &err) < 0 || close_stream(stdout, "stdout", &err) < 0)
		rc = err.code ? err.code : EX_SOFTWARE;
	else
		rc = 0;
	PQfinish(c);
	if (rc)
		log_error("%s", err.msg);
	return rc;
}
