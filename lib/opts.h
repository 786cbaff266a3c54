/*
 * opts.h — one table-driven command-line parser for every tool (in the
 * spirit of git's parse_options): a tool describes its options once, in an
 * array of opts_opt ended by OPTS_END, and that one table gives the parsing
 * (getopt_long underneath: GNU permutation, --name=value, unique prefixes,
 * short clusters), the validation of numbers through parse_i64 /
 * parse_double, and the --help text. -h/--help and --version are added to
 * every table.
 *
 * Messages: every usage error is one line on stderr,
 *   "ml-x: <what was wrong>; try 'ml-x --help'"
 * and the parse returns EX_USAGE (64). A bad value always reads
 *   "--NAME: bad value 'ARG' (want <the range or the choices>)".
 *
 * Ownership: the parser stores pointers into argv (strings live as long as
 * main). An opts_list's items array is allocated by the parser; the caller
 * frees it with opts_list_free (also after a failed parse).
 */
#ifndef LENSFLOW_OPTS_H
#define LENSFLOW_OPTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum opts_type {
	OPTS_T_END = 0,
	OPTS_T_TEXT,    /* no option: a line of help text (a heading) */
	OPTS_T_SET,     /* no argument: *(int *)value = ival */
	OPTS_T_STRING,  /* *(const char **)value = arg */
	OPTS_T_INT,     /* *(int *)value, an integer in [imin, imax] */
	OPTS_T_I64,     /* *(int64_t *)value */
	OPTS_T_SIZE,    /* *(size_t *)value */
	OPTS_T_DOUBLE,  /* *(double *)value, finite, in [dmin, dmax] */
	OPTS_T_CHOICE,  /* *(int *)value = the value of the named choice */
	OPTS_T_LIST,    /* appended to *(opts_list *)value (repeatable) */
	OPTS_T_MODE,    /* *(int *)value = ival; two different modes are refused;
			 * with an argh the argument goes to *arg_out */
};

/* Flags of an option. */
#define OPTS_REQUIRED 1u   /* must be given */
#define OPTS_OPTARG 2u     /* the value is optional: "--x=V", or the next word
			    * when it starts with a digit */
#define OPTS_EXCLUSIVE 4u  /* a number strictly inside (min, max) */

typedef struct opts_choice {
	const char *name;
	int value;
} opts_choice;

typedef struct opts_list {
	const char **items; /* allocated by the parser; strings borrowed from argv */
	size_t n;
} opts_list;

typedef struct opts_opt {
	const char *long_name;
	void *value;
	const char *argh;         /* the value's name in the help ("N", "FILE") */
	const char *help;         /* '\n' starts a continuation line */
	int64_t imin, imax;
	double dmin, dmax;
	const opts_choice *choices; /* OPTS_T_CHOICE, ended by {NULL, 0} */
	const char **arg_out;     /* OPTS_T_MODE with an argument */
	int *seen;                /* when set, counts the option's occurrences */
	enum opts_type type;
	int ival;                 /* OPTS_T_SET / OPTS_T_MODE */
	unsigned flags;
	char short_name;          /* 0: none */
} opts_opt;

/* A command: its name, the text above the options ("usage: …" lines and a
 * description), its table, the text below (exit codes, an example), and how
 * many operands (non-option words) it takes at the most. */
typedef struct opts_cmd {
	const char *prog;
	const char *usage;
	const opts_opt *opts;
	const char *footer;       /* may be NULL */
	int max_args;
	const char *args_hint;    /* added to "unexpected argument" (where input comes from) */
	/* When set, "--version N" (a value after it) is refused with this hint
	 * (ml-pgload's old spelling of a model version). */
	const char *version_value_hint;
} opts_cmd;

/* Table entries (git's OPT_* macros). */
#define OPTS_END {.type = OPTS_T_END}
#define OPTS_TEXT(h) {.type = OPTS_T_TEXT, .help = (h)}
#define OPTS_SET(s, l, v, i, h) \
	{.type = OPTS_T_SET, .short_name = (s), .long_name = (l), .value = (v), .ival = (i), .help = (h)}
#define OPTS_STRING(s, l, v, a, h) \
	{.type = OPTS_T_STRING, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), .help = (h)}
#define OPTS_INT(s, l, v, lo, hi, a, h) \
	{.type = OPTS_T_INT, .short_name = (s), .long_name = (l), .value = (v), .imin = (lo), \
	 .imax = (hi), .argh = (a), .help = (h)}
#define OPTS_I64(s, l, v, lo, hi, a, h) \
	{.type = OPTS_T_I64, .short_name = (s), .long_name = (l), .value = (v), .imin = (lo), \
	 .imax = (hi), .argh = (a), .help = (h)}
#define OPTS_SIZE(s, l, v, lo, hi, a, h) \
	{.type = OPTS_T_SIZE, .short_name = (s), .long_name = (l), .value = (v), .imin = (lo), \
	 .imax = (hi), .argh = (a), .help = (h)}
#define OPTS_DOUBLE(s, l, v, lo, hi, a, h) \
	{.type = OPTS_T_DOUBLE, .short_name = (s), .long_name = (l), .value = (v), .dmin = (lo), \
	 .dmax = (hi), .argh = (a), .help = (h)}
#define OPTS_CHOICE(s, l, v, c, a, h) \
	{.type = OPTS_T_CHOICE, .short_name = (s), .long_name = (l), .value = (v), .choices = (c), \
	 .argh = (a), .help = (h)}
#define OPTS_LIST(s, l, v, a, h) \
	{.type = OPTS_T_LIST, .short_name = (s), .long_name = (l), .value = (v), .argh = (a), .help = (h)}
#define OPTS_MODE(s, l, v, i, out, a, h) \
	{.type = OPTS_T_MODE, .short_name = (s), .long_name = (l), .value = (v), .ival = (i), \
	 .arg_out = (out), .argh = (a), .help = (h)}

/* opts_parse's answer when main should go on; anything else is the exit
 * status to return at once (0 after --help or --version). */
#define OPTS_CONTINUE (-1)

/* Parses argv against cmd. On OPTS_CONTINUE, *argi is the index of the first
 * operand (argv is permuted as getopt_long does). Prints --help / --version on
 * stdout and usage errors on stderr itself; 71 (EX_OSERR) when out of memory. */
int opts_parse(const opts_cmd *cmd, int argc, char **argv, int *argi);

/* Writes the full --help text of cmd to f. */
void opts_usage(const opts_cmd *cmd, FILE *f);

/* For a tool's own checks after the parse: prints
 * "prog: <fmt…>; try 'prog --help'" and returns EX_USAGE. */
int opts_error(const opts_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void opts_list_free(opts_list *l);

#endif
