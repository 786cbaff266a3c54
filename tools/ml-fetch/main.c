/*
 * ml-fetch — prints one file of a MovieLens release as TSV.
 *
 * Options and wiring only: dataset.c names the releases, source.c finds the
 * data (directory, zip, URL, cache), zipread.c and lines.c read members,
 * convert.c (ML-100k) and convert_ml.c (ML-1M, ML-10M, the CSV releases)
 * turn them into the project's TSVs, checked as strictly as the readers of
 * lib/tsv. Small files are built whole in memory before the first byte is
 * written; ratings past ML-100k are streamed through sink.c. The SHA-256 of
 * what was written goes to stderr for the run's record.
 */
#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "hash.h"
#include "log.h"
#include "opts.h"
#include "store_online.h"
#include "util.h"

static struct {
	const char *source, *md5, *output, *dataset, *name, *home, *base;
	const release *rel;
	char archive[4096];
} args;

static const opts_opt options[] = {
	OPTS_STRING('d', "dataset", &args.dataset, "NAME",
		    "ml-100k (default), ml-1m, ml-10m, ml-20m, ml-25m, ml-32m,\n"
		    "ml-latest-small: GroupLens' archive of that release, MD5-verified\n"
		    "(the published sum; ml-latest-small's from the .md5 beside it) and\n"
		    "cached in $LENSFLOW_HOME/cache; with --source, the files found there\n"
		    "must be that release's layout"),
	OPTS_STRING('s', "source", &args.source, "SRC",
		    "http(s):// or file:// URL, a directory of a release's files, a zip\n"
		    "of them (at its top or in one folder), or your own ratings file in\n"
		    "u.data's format (default: $LENSFLOW_DATA_URL, else the archive of\n"
		    "--dataset); the release is recognised by its files: u.data (100k),\n"
		    "ratings.dat + users.dat (1m), ratings.dat (10m), ratings.csv (20m on);\n"
		    "or a postgresql:// URL: NAME is ratings (the catalogue's with the\n"
		    "feedback applied: the latest event per user and movie), feedback\n"
		    "or impressions, the living data's tables"),
	OPTS_STRING(0, "md5", &args.md5, "HEX", "check the source file or download against this MD5"),
	OPTS_STRING('o', "output", &args.output, "FILE",
		    "write to FILE (atomically) instead of stdout"),
	OPTS_END,
};

static const opts_cmd cmd = {
	.prog = "ml-fetch",
	.usage = "usage: ml-fetch [--dataset NAME] [--source URL|DIR|FILE] [--md5 HEX] [-o FILE] [FILE-NAME]\n"
		 "Prints one file of a MovieLens release as TSV on stdout.\n"
		 "\n"
		 "FILE-NAME:\n"
		 "  ratings             user_id, movie_id, rating (0.5..5; whole stars as integers), timestamp\n"
		 "                      (the default)\n"
		 "  movies              movie_id, title (UTF-8), release_date, genres (|-joined)\n"
		 "  users               user_id, age, gender, occupation, zip_code (ml-100k, ml-1m)\n"
		 "  u1.base … u5.test, ua.base, ua.test, ub.base, ub.test   ml-100k's official splits\n",
	.opts = options,
	.max_args = 1,
	.footer = "Ratings of ml-1m and later are converted as they are read, in constant memory. Every\n"
		  "file is read strictly: a broken line is exit 65 naming file and line.\n"
		  "$LENSFLOW_GROUPLENS_URL replaces GroupLens' address (a mirror); archives from it are\n"
		  "checked like GroupLens' own.\n"
		  "\n"
		  "exit: 0 ok, 64 usage, 65 bad data, 66 missing input, 69 network, 71 out of memory,\n"
		  "73/74 output\n"
		  "\n"
		  "example:\n"
		  "  ml-fetch --dataset ml-1m ratings | ml-split --test test.tsv > train.tsv\n",
};

static const char *const split_names[] = {"u1.base", "u1.test", "u2.base", "u2.test", "u3.base",
					  "u3.test", "u4.base", "u4.test", "u5.base", "u5.test",
					  "ua.base", "ua.test", "ub.base", "ub.test"};

/* The member that NAME is made from, or NULL for an unknown NAME. */
static const char *member_of(const char *name)
{
	if (strcmp(name, "ratings") == 0)
		return "u.data";
	if (strcmp(name, "movies") == 0)
		return "u.item";
	if (strcmp(name, "users") == 0)
		return "u.user";
	for (size_t i = 0; i < sizeof split_names / sizeof split_names[0]; i++)
		if (strcmp(name, split_names[i]) == 0)
			return split_names[i];
	return NULL;
}

static int md5_arg_ok(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return n == 32;
}

/* The member of a release of this kind that NAME is made from, or NULL with
 * err (EX_NOINPUT) when the release has no such file. */
static const char *member_for(release_kind kind, const char *name, const char *label,
			      lf_error *err)
{
	if (kind == KIND_100K)
		return member_of(name);
	if (strcmp(name, "ratings") == 0)
		return kind == KIND_CSV ? "ratings.csv" : "ratings.dat";
	if (strcmp(name, "movies") == 0)
		return kind == KIND_CSV ? "movies.csv" : "movies.dat";
	if (strcmp(name, "users") == 0 && kind == KIND_1M)
		return "users.dat";
	if (strcmp(name, "users") == 0)
		lf_fail(err, EX_NOINPUT, "%s holds %s files: that release has no users file",
			label, kind_name(kind));
	else
		lf_fail(err, EX_NOINPUT,
			"%s holds %s files: the official splits u1.base … ub.test are "
			"ML-100k's (ML-10M's r1…r5, ra, rb are made by its split_ratings.sh, not "
			"shipped); ml-split makes the project's splits",
			label, kind_name(kind));
	return NULL;
}

/* Builds the TSV for name from src into *out (every file but the streamed
 * ratings of ML-1M and later). */
static int produce(const fetch_source *src, release_kind kind, const char *name,
		   const char *member, char **out, size_t *olen, lf_error *err)
{
	unsigned char *buf = NULL, *gbuf = NULL;
	size_t len = 0, glen = 0;
	char *label = NULL, *glabel = NULL;
	int rc = -1;
	if (source_member(src, member, &buf, &len, &label, err))
		return -1;
	if (kind != KIND_100K && strcmp(name, "movies") == 0) {
		rc = convert_movies_ml((char *)buf, len, label, kind, out, olen, err);
	} else if (kind != KIND_100K) {
		rc = convert_users_1m((char *)buf, len, label, out, olen, err);
	} else if (strcmp(name, "movies") == 0) {
		if (source_member(src, "u.genre", &gbuf, &glen, &glabel, err) == 0)
			rc = convert_movies((char *)buf, len, label, (char *)gbuf, glen, glabel,
					    out, olen, err);
	} else if (strcmp(name, "users") == 0) {
		rc = convert_users((char *)buf, len, label, out, olen, err);
	} else {
		rc = convert_ratings((char *)buf, len, label, out, olen, err);
	}
	free(buf);
	free(gbuf);
	free(label);
	free(glabel);
	return rc;
}

static int emit(const char *path, const char *data, size_t len, char hex[65], lf_error *err)
{
	out_sink o;
	if (sink_open(&o, path, err))
		return -1;
	sink_write(&o, data, len);
	return sink_commit(&o, hex, err);
}

/* Ratings of ML-1M and later, converted line by line into the output. */
static int stream_ratings(const fetch_source *src, release_kind kind, const char *member,
			  const char *path, char hex[65], lf_error *err)
{
	line_reader r;
	out_sink o;
	size_t rows = 0;
	if (lines_open(src, member, &r, err))
		return -1;
	if (sink_open(&o, path, err)) {
		lines_close(&r);
		return -1;
	}
	int rc = convert_ratings_stream(&r, kind, &o, &rows, err);
	lines_close(&r);
	if (rc) {
		sink_abort(&o);
		return -1;
	}
	if (sink_commit(&o, hex, err))
		return -1;
	log_info("%zu ratings", rows);
	return 0;
}

/* The release's layout must be the one asked for: --dataset ml-25m on a
 * directory of ML-1M's files is a mistake worth stopping. */
static int check_kind(const fetch_source *src, release_kind kind, const release *want,
		      lf_error *err)
{
	if (!want || kind == want->kind || (!src->dir && !src->is_zip))
		return 0;
	return lf_fail(err, EX_DATAERR, "%s holds %s files, not %s's; point --source at %s or drop "
		       "--dataset", src->label, kind_name(kind), want->name, want->name);
}

/* ml-fetch --source postgresql://... NAME: a table of the living data (db.c). */
static int fetch_db(const char *url, const char *name, const char *md5, const char *dataset,
		    const char *output)
{
	if (!store_export_known(name)) {
		log_error("unknown NAME '%s' for a database source: ratings, feedback, impressions",
			  name);
		return EX_USAGE;
	}
	if (md5 || dataset) {
		log_error("--md5 and --dataset are for files; a database is read as it is");
		return EX_USAGE;
	}
	lf_error err = {0};
	char *out = NULL, hex[65];
	size_t olen = 0;
	int rc = db_export(url, name, &out, &olen, &err);
	if (rc == 0)
		rc = emit(output, out, olen, hex, &err);
	free(out);
	if (rc) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	log_info("sha256 %s %s", hex, name);
	return 0;
}

/* What the table cannot say: the name, the release, the defaults of the
 * environment. */
static int check_args(void)
{
	if (!member_of(args.name)) {
		log_error("unknown NAME '%s': ratings, movies, users, u1.base … u5.test, ua.base, "
			  "ua.test, ub.base, ub.test",
			  args.name);
		return EX_USAGE;
	}
	if (!(args.rel = release_find(args.dataset ? args.dataset : "ml-100k"))) {
		log_error("unknown --dataset '%s': %s", args.dataset, release_names());
		return EX_USAGE;
	}
	if (args.md5 && !md5_arg_ok(args.md5)) {
		log_error("--md5 '%s' is not 32 hex digits", args.md5);
		return EX_USAGE;
	}
	if (args.output && !args.output[0]) {
		log_error("-o needs a file name");
		return EX_USAGE;
	}
	args.base = getenv("LENSFLOW_GROUPLENS_URL");
	if (!args.base || !args.base[0])
		args.base = GROUPLENS_BASE;
	if ((size_t)snprintf(args.archive, sizeof args.archive, "%s/%s", args.base, args.rel->zip) >=
	    sizeof args.archive) {
		log_error("LENSFLOW_GROUPLENS_URL is too long");
		return EX_USAGE;
	}
	if (!args.source || !args.source[0])
		args.source = getenv("LENSFLOW_DATA_URL");
	if (!args.source || !args.source[0])
		args.source = args.archive;
	args.home = getenv("LENSFLOW_HOME");
	if (!args.home || !args.home[0])
		args.home = "./.lensflow";
	return 0;
}

/* Opens the source, recognises the release, writes the file; the exit status. */
static int run(void)
{
	/* libcurl (and its TLS library) only for URLs: a local directory starts faster */
	int use_curl = strstr(args.source, "://") != NULL;
	if (use_curl && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return EX_SOFTWARE;
	}
	lf_error err = {0};
	fetch_source src;
	char *out = NULL, hex[65];
	size_t olen = 0;
	release_kind kind = KIND_100K;
	const char *member = NULL, *name = args.name;
	const release *want = args.dataset ? args.rel : NULL;
	int rc = source_open(args.source, args.md5, args.base, args.home, &src, &err);
	if (rc == 0)
		rc = source_kind(&src, &kind, &err);
	if (rc == 0)
		rc = check_kind(&src, kind, src.rel ? src.rel : want, &err);
	if (rc == 0 && !(member = member_for(kind, name, src.label, &err)))
		rc = -1;
	if (rc == 0 && kind != KIND_100K && strcmp(name, "ratings") == 0) {
		rc = stream_ratings(&src, kind, member, args.output, hex, &err);
	} else if (rc == 0) {
		rc = produce(&src, kind, name, member, &out, &olen, &err);
		if (rc == 0)
			rc = emit(args.output, out, olen, hex, &err);
	}
	if (rc == 0)
		log_info("sha256 %s %s", hex, name);
	source_free(&src);
	free(out);
	if (use_curl)
		curl_global_cleanup();
	if (rc) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int argi, rc;
	log_set_prog(cmd.prog);
	if ((rc = opts_parse(&cmd, argc, argv, &argi)) != OPTS_CONTINUE)
		return rc;
	args.name = argi < argc ? argv[argi] : "ratings";
	/* a database: the living data's tables (ratings with the feedback applied) */
	const char *db = args.source && args.source[0] ? args.source : getenv("LENSFLOW_DATA_URL");
	if (db && db_url_is(db))
		return fetch_db(db, args.name, args.md5, args.dataset, args.output);
	if ((rc = check_args()))
		return rc;
	return run();
}
