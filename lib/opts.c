/*
 * opts.c — the table-driven option parser of opts.h.
 *
 * The table is turned into getopt_long's two forms (a struct option array
 * and a short-option string) on the stack, getopt_long runs with its own
 * messages off (opterr = 0, a leading ':'), and every answer is mapped back
 * to its table entry, which says how to check and store the value. Each
 * entry's getopt "val" is its short name when it has one, else 256 + its
 * index, so the mapping back needs no search beyond the table.
 */
#include "opts.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define OPTS_MAX 64
#define VAL_BASE 256
#define VAL_HELP (VAL_BASE + OPTS_MAX)
#define VAL_VERSION (VAL_BASE + OPTS_MAX + 1)
#define HELP_COL_MAX 28

static int vusage_error(const opts_cmd *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cmd->prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "; try '%s --help'\n", cmd->prog);
	return EX_USAGE;
}

int opts_error(const opts_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vusage_error(cmd, fmt, ap);
	va_end(ap);
	return rc;
}

void opts_list_free(opts_list *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static int takes_value(const opts_opt *o)
{
	return o->type != OPTS_T_SET && !(o->type == OPTS_T_MODE && !o->argh);
}

/* "  -t, --test FILE" into buf; its length. */
static int left_column(const opts_opt *o, char *buf, size_t n)
{
	char s[8] = "    ";
	if (o->short_name)
		snprintf(s, sizeof s, "-%c, ", o->short_name);
	const char *argh = takes_value(o) && o->argh ? o->argh : "";
	int opt = (o->flags & OPTS_OPTARG) != 0;
	int len = snprintf(buf, n, "  %s--%s%s%s%s", s, o->long_name,
			   !*argh ? "" : opt ? " [" : " ", argh, *argh && opt ? "]" : "");
	return len < 0 ? 0 : len >= (int)n ? (int)n - 1 : len;
}

/* One option of the help: its left column, then its help text from column
 * col (on the next line when the left column reaches it), '\n' in the help
 * starting a continuation line at col. */
static void print_option(FILE *f, const opts_opt *o, int col)
{
	char left[160];
	int at = left_column(o, left, sizeof left);
	fputs(left, f);
	if (at + 2 > col) {
		fputc('\n', f);
		at = 0;
	}
	const char *p = o->help ? o->help : "";
	for (;;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		fprintf(f, "%*s%.*s\n", col - at, "", len, p);
		if (!nl)
			break;
		p = nl + 1;
		at = 0;
	}
}

static const opts_opt help_opt = {.type = OPTS_T_SET, .short_name = 'h', .long_name = "help",
				  .help = "this help"};
static const opts_opt version_opt = {.type = OPTS_T_SET, .long_name = "version",
				     .help = "the program's version"};

void opts_usage(const opts_cmd *cmd, FILE *f)
{
	char left[160];
	int col = 20;
	for (const opts_opt *o = cmd->opts; o->type != OPTS_T_END; o++) {
		if (o->type == OPTS_T_TEXT)
			continue;
		int len = left_column(o, left, sizeof left) + 2;
		if (len <= HELP_COL_MAX && len > col)
			col = len;
	}
	fputs(cmd->usage, f);
	fputc('\n', f);
	for (const opts_opt *o = cmd->opts; o->type != OPTS_T_END; o++) {
		if (o->type == OPTS_T_TEXT)
			fprintf(f, "%s\n", o->help);
		else
			print_option(f, o, col);
	}
	print_option(f, &help_opt, col);
	print_option(f, &version_opt, col);
	if (cmd->footer) {
		fputc('\n', f);
		fputs(cmd->footer, f);
	}
}

/* What a value must be, for the message of a bad one. */
static void want_text(const opts_opt *o, char *buf, size_t n)
{
	switch (o->type) {
	case OPTS_T_INT:
	case OPTS_T_I64:
	case OPTS_T_SIZE:
		snprintf(buf, n, "an integer in %lld..%lld", (long long)o->imin, (long long)o->imax);
		break;
	case OPTS_T_DOUBLE:
		snprintf(buf, n, o->flags & OPTS_EXCLUSIVE ? "a number strictly between %g and %g"
							   : "a number in %g..%g",
			 o->dmin, o->dmax);
		break;
	case OPTS_T_CHOICE: {
		size_t at = 0;
		buf[0] = 0;
		for (const opts_choice *c = o->choices; c->name && at < n; c++) {
			const char *sep = c == o->choices ? "" : c[1].name ? ", " : " or ";
			int w = snprintf(buf + at, n - at, "%s%s", sep, c->name);
			at += w > 0 ? (size_t)w : 0;
		}
		break;
	}
	default:
		snprintf(buf, n, "a value");
	}
}

static int bad_value(const opts_cmd *cmd, const opts_opt *o, const char *arg)
{
	char want[256];
	want_text(o, want, sizeof want);
	return opts_error(cmd, "--%s: bad value '%s' (want %s)", o->long_name, arg, want);
}

/* The --long names of the modes that share o's variable: "--a, --b or --c". */
static void mode_names(const opts_cmd *cmd, const opts_opt *o, char *buf, size_t n)
{
	size_t at = 0, count = 0, i = 0;
	for (const opts_opt *m = cmd->opts; m->type != OPTS_T_END; m++)
		count += m->type == OPTS_T_MODE && m->value == o->value;
	buf[0] = 0;
	for (const opts_opt *m = cmd->opts; m->type != OPTS_T_END && at < n; m++) {
		if (m->type != OPTS_T_MODE || m->value != o->value)
			continue;
		i++;
		int w = snprintf(buf + at, n - at, "%s--%s", i == 1 ? "" : i == count ? " or " : ", ",
				 m->long_name);
		at += w > 0 ? (size_t)w : 0;
	}
}

/* getopt's val of table entry k: its short name, else VAL_BASE + k. */
static int val_of(const opts_opt *o, size_t k)
{
	return o->short_name ? o->short_name : VAL_BASE + (int)k;
}

/* The index of the entry whose val is c, or n. */
static size_t find(const opts_opt *t, size_t n, int c)
{
	size_t k = 0;
	while (k < n && (t[k].type == OPTS_T_TEXT || val_of(&t[k], k) != c))
		k++;
	return k;
}

/* Checks arg and stores it as o says; 0, or an exit status. */
static int apply(const opts_cmd *cmd, const opts_opt *o, const char *arg)
{
	int64_t i = 0;
	double x = 0;
	switch (o->type) {
	case OPTS_T_SET:
		*(int *)o->value = o->ival;
		return 0;
	case OPTS_T_STRING:
		*(const char **)o->value = arg;
		return 0;
	case OPTS_T_INT:
	case OPTS_T_I64:
	case OPTS_T_SIZE:
		if (!arg) /* an optional value left out */
			return 0;
		if (parse_i64(arg, o->imin, o->imax, &i) < 0)
			return bad_value(cmd, o, arg);
		if (o->type == OPTS_T_INT)
			*(int *)o->value = (int)i;
		else if (o->type == OPTS_T_I64)
			*(int64_t *)o->value = i;
		else
			*(size_t *)o->value = (size_t)i;
		return 0;
	case OPTS_T_DOUBLE:
		if (parse_double(arg, o->dmin, o->dmax, &x) < 0 ||
		    (o->flags & OPTS_EXCLUSIVE && (x <= o->dmin || x >= o->dmax)))
			return bad_value(cmd, o, arg);
		*(double *)o->value = x;
		return 0;
	case OPTS_T_CHOICE:
		for (const opts_choice *c = o->choices; c->name; c++)
			if (strcmp(c->name, arg) == 0) {
				*(int *)o->value = c->value;
				return 0;
			}
		return bad_value(cmd, o, arg);
	case OPTS_T_LIST: {
		opts_list *l = o->value;
		const char **items = lf_reallocarray(l->items, l->n + 2, sizeof *items);
		if (!items) {
			fprintf(stderr, "%s: out of memory\n", cmd->prog);
			return EX_OSERR;
		}
		items[l->n++] = arg;
		items[l->n] = NULL;
		l->items = items;
		return 0;
	}
	case OPTS_T_MODE: {
		int *mode = o->value;
		if (*mode && *mode != o->ival) {
			char names[512];
			mode_names(cmd, o, names, sizeof names);
			return opts_error(cmd, "choose one of %s", names);
		}
		*mode = o->ival;
		if (o->arg_out)
			*o->arg_out = arg;
		return 0;
	}
	default:
		return 0;
	}
}

/* The word after an option with an optional value, taken when it starts
 * with a digit (ml-pgload's "--switch 3"). */
static const char *next_number(int argc, char **argv)
{
	if (optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
		return argv[optind++];
	return NULL;
}

/* "unknown option" or "ambiguous option" for the word getopt refused. */
static int refuse_word(const opts_cmd *cmd, const char *word)
{
	const char *name = word + 2, *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	int matches = 0;
	if (strncmp(word, "--", 2) == 0)
		for (const opts_opt *o = cmd->opts; o->type != OPTS_T_END; o++)
			matches += o->long_name && strncmp(o->long_name, name, len) == 0;
	return opts_error(cmd, "%s option '%.*s'", matches > 1 ? "ambiguous" : "unknown",
			  (int)(len + 2), word);
}

static int print_and_flush(const opts_cmd *cmd, int version)
{
	if (version)
		printf("%s lensflow %s (%s)\n", cmd->prog, LENSFLOW_VERSION, LENSFLOW_COMMIT);
	else
		opts_usage(cmd, stdout);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: stdout: write failed\n", cmd->prog);
		return EX_IOERR;
	}
	return 0;
}

int opts_parse(const opts_cmd *cmd, int argc, char **argv, int *argi)
{
	struct option longopts[OPTS_MAX + 3];
	char shortopts[3 * OPTS_MAX + 8];
	int seen[OPTS_MAX] = {0};
	size_t ns = 0, n = 0, nl = 0;
	const opts_opt *t = cmd->opts;

	shortopts[ns++] = ':';
	shortopts[ns++] = 'h';
	for (; t[n].type != OPTS_T_END; n++) {
		if (n >= OPTS_MAX) {
			fprintf(stderr, "%s: more than %d options in the table\n", cmd->prog, OPTS_MAX);
			return EX_SOFTWARE;
		}
		const opts_opt *o = &t[n];
		if (o->type == OPTS_T_TEXT)
			continue;
		int has = !takes_value(o)		 ? no_argument
			  : o->flags & OPTS_OPTARG ? optional_argument
						   : required_argument;
		longopts[nl++] = (struct option){o->long_name, has, NULL, val_of(o, n)};
		if (o->short_name) {
			shortopts[ns++] = o->short_name;
			if (has != no_argument)
				shortopts[ns++] = ':';
			if (has == optional_argument)
				shortopts[ns++] = ':';
		}
	}
	shortopts[ns] = 0;
	longopts[nl] = (struct option){"help", no_argument, NULL, VAL_HELP};
	longopts[nl + 1] = (struct option){"version", cmd->version_value_hint ? optional_argument
									      : no_argument,
					   NULL, VAL_VERSION};
	longopts[nl + 2] = (struct option){NULL, 0, NULL, 0};

	opterr = 0;
	optind = 0; /* glibc: start afresh (a test may parse twice) */
	int c, rc;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h' || c == VAL_HELP)
			return print_and_flush(cmd, 0);
		if (c == VAL_VERSION) {
			const char *v = optarg ? optarg : next_number(argc, argv);
			if (v)
				return opts_error(cmd, "--version prints the program's version and "
						       "takes no value ('%s'); %s",
						  v, cmd->version_value_hint);
			return print_and_flush(cmd, 1);
		}
		if (c == ':' || c == '?') {
			size_t k = optopt ? find(t, n, optopt) : n;
			const opts_opt *o = k < n ? &t[k] : NULL;
			if (c == ':' && o)
				return opts_error(cmd, "--%s needs a value (%s)", o->long_name,
						  o->argh ? o->argh : "an argument");
			if (o) /* a long option without a value given one with '=' */
				return opts_error(cmd, "--%s takes no value", o->long_name);
			if (optopt == VAL_HELP || optopt == VAL_VERSION)
				return opts_error(cmd, "--%s takes no value",
						  optopt == VAL_HELP ? "help" : "version");
			if (optopt > 0 && optopt < VAL_BASE)
				return opts_error(cmd, "unknown option '-%c'", optopt);
			return refuse_word(cmd, argv[optind - 1]);
		}
		size_t k = find(t, n, c);
		if (k == n)
			return opts_error(cmd, "unknown option");
		const opts_opt *o = &t[k];
		const char *arg = optarg;
		if (!arg && o->flags & OPTS_OPTARG)
			arg = next_number(argc, argv);
		if ((rc = apply(cmd, o, arg)) != 0)
			return rc;
		seen[k]++;
		if (o->seen)
			(*o->seen)++;
	}
	for (size_t k = 0; k < n; k++)
		if (t[k].flags & OPTS_REQUIRED && !seen[k])
			return opts_error(cmd, "--%s %s is required", t[k].long_name,
					  t[k].argh ? t[k].argh : "");
	if (argc - optind > cmd->max_args)
		return opts_error(cmd, "unexpected argument '%s'%s%s", argv[optind + cmd->max_args],
				  cmd->args_hint ? "; " : "", cmd->args_hint ? cmd->args_hint : "");
	*argi = optind;
	return OPTS_CONTINUE;
}
