/*
 * ml-fetch — prints one file of MovieLens 100k as TSV.
 *
 * Options and wiring only: source.c finds the data (directory, zip, URL,
 * cache), zipread.c reads archive members, convert.c turns u.item / u.user /
 * u.data into the project's TSVs and checks them with the strict readers.
 * The whole output is built and checked in memory before the first byte is
 * written, and its SHA-256 goes to stderr for the run's record.
 */
#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "hash.h"
#include "log.h"
#include "store_online.h"
#include "util.h"

static const char usage[] =
	"usage: ml-fetch [--source URL|DIR|FILE] [--md5 HEX] [-o FILE] [NAME]\n"
	"Prints one file of the MovieLens 100k dataset as TSV on stdout.\n"
	"\n"
	"NAME:\n"
	"  ratings             u.data: user_id, movie_id, rating, timestamp (default)\n"
	"  movies              u.item: movie_id, title (UTF-8), release_date, genres (|-joined)\n"
	"  users               u.user: user_id, age, gender, occupation, zip_code\n"
	"  u1.base … u5.test, ua.base, ua.test, ub.base, ub.test   the official splits\n"
	"\n"
	"  -s, --source SRC    http(s):// or file:// URL, a directory of the unpacked files, a\n"
	"                      zip archive, or your own ratings file in u.data's format\n"
	"                      (default: $LENSFLOW_DATA_URL, else GroupLens' ml-100k.zip,\n"
	"                      MD5-verified and cached in $LENSFLOW_HOME/cache); or a\n"
		"                      postgresql:// URL: NAME is ratings (the catalogue's with\n"
		"                      the feedback applied: the latest event per user and movie),\n"
		"                      feedback or impressions, the living data's tables\n"
	"      --md5 HEX       check the source file or download against this MD5\n"
	"  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
	"  -h, --help          this help\n"
	"      --version       version\n"
	"\n"
	"exit: 0 ok, 64 usage, 65 bad data, 66 missing input, 69 network, 73/74 output\n"
	"\n"
	"example:\n"
	"  ml-fetch --source ../data/ml-100k ratings | ml-split --test test.tsv > train.tsv\n";

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

/* Builds the TSV for name from src into *out. */
static int produce(const fetch_source *src, const char *name, const char *member, char **out,
		   size_t *olen, lf_error *err)
{
	unsigned char *buf = NULL, *gbuf = NULL;
	size_t len = 0, glen = 0;
	char *label = NULL, *glabel = NULL;
	int rc = -1;
	if (source_member(src, member, &buf, &len, &label, err))
		return -1;
	if (strcmp(name, "movies") == 0) {
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

static int emit(const char *path, const char *data, size_t len, lf_error *err)
{
	if (path) {
		atomic_out o;
		if (atomic_out_open(&o, path, err))
			return -1;
		if (fwrite(data, 1, len, o.f) != len) {
			int e = errno ? errno : EIO;
			atomic_out_abort(&o);
			return lf_fail_errno(err, EX_IOERR, e, "%s: write failed", path);
		}
		return atomic_out_commit(&o, err);
	}
	stdout_mark();
	if (fwrite(data, 1, len, stdout) != len) {
		lf_fail_errno(err, EX_IOERR, errno ? errno : EIO, "stdout: write failed");
		stdout_rollback();
		return -1;
	}
	if (close_stream(stdout, "stdout", err)) {
		stdout_rollback();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"source", required_argument, NULL, 's'}, {"md5", required_argument, NULL, 'm'},
		{"output", required_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {NULL, 0, NULL, 0}};
	const char *source = NULL, *md5 = NULL, *output = NULL;
	int c;
	log_set_prog("ml-fetch");
	while ((c = getopt_long(argc, argv, "s:o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			source = optarg;
			break;
		case 'm':
			md5 = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("ml-fetch lensflow %s (%s)\n", LENSFLOW_VERSION, LENSFLOW_COMMIT);
			return 0;
		default:
			log_error("try 'ml-fetch --help'");
			return EX_USAGE;
		}
	}
	if (argc - optind > 1) {
		log_error("one NAME at most; try 'ml-fetch --help'");
		return EX_USAGE;
	}
	const char *name = optind < argc ? argv[optind] : "ratings";
	if (!source || !source[0])
		source = getenv("LENSFLOW_DATA_URL");
	/* a database: the living data's tables (ratings with the feedback applied) */
	int from_db = source && db_url_is(source);
	if (from_db && !store_export_known(name)) {
		log_error("unknown NAME '%s' for a database source: ratings, feedback, impressions",
			  name);
		return EX_USAGE;
	}
	const char *member = from_db ? name : member_of(name);
	if (!member) {
		log_error("unknown NAME '%s': ratings, movies, users, u1.base … u5.test, ua.base, "
			  "ua.test, ub.base, ub.test",
			  name);
		return EX_USAGE;
	}
	if (md5 && !md5_arg_ok(md5)) {
		log_error("--md5 '%s' is not 32 hex digits", md5);
		return EX_USAGE;
	}
	if (output && !output[0]) {
		log_error("-o needs a file name");
		return EX_USAGE;
	}
	if (!source || !source[0])
		source = GROUPLENS_URL;
	const char *home = getenv("LENSFLOW_HOME");
	if (!home || !home[0])
		home = "./.lensflow";

	/* libcurl (and its TLS library) only for URLs: a local directory starts faster */
	int use_curl = strstr(source, "://") != NULL && !from_db;
	if (use_curl && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("cannot initialise libcurl");
		return EX_SOFTWARE;
	}
	lf_error err = {0};
	fetch_source src;
	char *out = NULL;
	size_t olen = 0;
	int rc;
	if (from_db) {
		rc = md5 ? lf_fail(&err, EX_USAGE, "--md5 checks files, not a database") :
			   db_export(source, name, &out, &olen, &err);
	} else {
		rc = source_open(source, md5, home, &src, &err);
		if (rc == 0)
			rc = produce(&src, name, member, &out, &olen, &err);
		source_free(&src);
	}
	if (rc == 0) {
		char hex[65];
		sha256_hex(out, olen, hex);
		rc = emit(output, out, olen, &err);
		if (rc == 0)
			log_info("sha256 %s %s", hex, name);
	}
	free(out);
	if (use_curl)
		curl_global_cleanup();
	if (rc) {
		log_error("%s", err.msg);
		return err.code ? err.code : EX_SOFTWARE;
	}
	return 0;
}
