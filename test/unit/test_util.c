/* test_util.c — strict number parsing, checked allocation, read_all, the
 * atomic output file and stdout rollback. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

TEST(parse_i64_accepts)
{
	int64_t v = 0;
	CHECK(parse_i64("0", INT64_MIN, INT64_MAX, &v) == 0 && v == 0);
	CHECK(parse_i64("-17", -100, 100, &v) == 0 && v == -17);
	CHECK(parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v) == 0 && v == INT64_MAX);
	CHECK(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) == 0 && v == INT64_MIN);
	CHECK(parse_i64("2147483647", 0, INT32_MAX, &v) == 0 && v == INT32_MAX);
	CHECK(parse_i64("007", 0, 10, &v) == 0 && v == 7);
}

TEST(parse_i64_rejects_and_leaves_out_untouched)
{
	int64_t v = 42;
	const char *bad[] = {"",
			     "-",
			     "+1",
			     " 1",
			     "1 ",
			     "1x",
			     "0x10",
			     "1.0",
			     "--1",
			     "1e3",
			     "9223372036854775808",
			     "-9223372036854775809",
			     "99999999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(parse_i64(bad[i], INT64_MIN, INT64_MAX, &v) == -1);
		CHECK(v == 42);
	}
	CHECK(parse_i64("2147483648", 0, INT32_MAX, &v) == -1);
	CHECK(parse_i64("-1", 0, 10, &v) == -1);
	CHECK(v == 42);
}

TEST(parse_i64_n_uses_only_the_range)
{
	int64_t v = 0;
	CHECK(parse_i64_n("123\t456", 3, 0, 1000, &v) == 0 && v == 123);
	CHECK(parse_i64_n("123\t456", 4, 0, 1000, &v) == -1);
	CHECK(parse_i64_n("5", 0, 0, 1000, &v) == -1);
}

TEST(parse_double_cases)
{
	double d = 0;
	CHECK(parse_double("0.75", 0, 1, &d) == 0 && d == 0.75);
	CHECK(parse_double("-1e-3", -1, 1, &d) == 0 && d == -1e-3);
	CHECK(parse_double("1e-320", -1, 1, &d) == 0); /* underflow to a subnormal is fine */
	d = 7;
	const char *bad[] = {"", " 1", "1 ", "nan", "NaN", "inf", "-inf", "1e999", "0.5x", "abc"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(parse_double(bad[i], -HUGE_VAL, HUGE_VAL, &d) == -1);
	CHECK(parse_double("1.5", 0, 1, &d) == -1);
	CHECK(parse_double("0", 1e-9, 1, &d) == -1);
	CHECK(d == 7);
}

TEST(checked_allocation)
{
	CHECK(lf_calloc(SIZE_MAX / 2, 4) == NULL);
	void *p = lf_calloc(0, 8);
	CHECK(p != NULL);
	free(p);
	int *a = lf_reallocarray(NULL, 10, sizeof *a);
	CHECK(a != NULL);
	CHECK(lf_reallocarray(a, SIZE_MAX / 2, 8) == NULL); /* a is still valid */
	free(a);
}

TEST(read_all_whole_stream_and_limit)
{
	FILE *f = tmpfile();
	CHECK(f);
	for (int i = 0; i < 100000; i++)
		fputc('a' + i % 26, f);
	rewind(f);
	unsigned char *buf = NULL;
	size_t len = 0;
	lf_error err = {0};
	CHECK(read_all(f, "t", 1 << 20, &buf, &len, &err) == 0);
	CHECK_EQ_INT(len, 100000);
	CHECK(buf[0] == 'a' && buf[99999] == 'a' + 99999 % 26 && buf[len] == '\0');
	free(buf);
	rewind(f);
	CHECK(read_all(f, "big.tsv", 1000, &buf, &len, &err) == -1);
	CHECK_EQ_INT(err.code, EX_DATAERR);
	CHECK(strstr(err.msg, "big.tsv") != NULL);
	fclose(f);
}

static char dir[64];

static void make_dir(void)
{
	strcpy(dir, "/tmp/lf-test-util.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static int count_entries(const char *d)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", d);
	FILE *p = popen(cmd, "r");
	int n = -1;
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

TEST(atomic_out_commit_and_abort)
{
	make_dir();
	char path[128];
	snprintf(path, sizeof path, "%s/out.tsv", dir);
	atomic_out o;
	lf_error err = {0};
	CHECK(atomic_out_open(&o, path, &err) == 0);
	fputs("hello\n", o.f);
	CHECK(access(path, F_OK) != 0); /* nothing under the final name yet */
	CHECK(atomic_out_commit(&o, &err) == 0);
	FILE *f = fopen(path, "r");
	char line[16] = {0};
	CHECK(f && fgets(line, sizeof line, f));
	fclose(f);
	CHECK(strcmp(line, "hello\n") == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0044)); /* not left at mkstemp's 0600 */

	CHECK(atomic_out_open(&o, path, &err) == 0);
	fputs("half", o.f);
	atomic_out_abort(&o);
	atomic_out_abort(&o); /* twice is harmless */
	f = fopen(path, "r");
	CHECK(f && fgets(line, sizeof line, f));
	fclose(f);
	CHECK(strcmp(line, "hello\n") == 0); /* the old content stands */
	CHECK_EQ_INT(count_entries(dir), 1); /* no temporary left behind */

	snprintf(path, sizeof path, "%s/no/such/dir/x", dir);
	CHECK(atomic_out_open(&o, path, &err) == -1);
	CHECK_EQ_INT(err.code, EX_CANTCREAT);
	CHECK(strstr(err.msg, "no/such/dir/x") != NULL);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(atomic_out_writes_a_fifo_in_place)
{
	/* a device or FIFO must never be replaced by a renamed regular file */
	make_dir();
	char path[128];
	snprintf(path, sizeof path, "%s/pipe", dir);
	CHECK(mkfifo(path, 0600) == 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK); /* a reader, so the writer's open succeeds */
	CHECK(rd >= 0);
	atomic_out o;
	lf_error err = {0};
	CHECK(atomic_out_open(&o, path, &err) == 0);
	CHECK(o.tmp == NULL);
	fputs("through the pipe\n", o.f);
	CHECK(atomic_out_commit(&o, &err) == 0);
	char buf[64] = {0};
	CHECK(read(rd, buf, sizeof buf - 1) == 17);
	close(rd);
	CHECK(strcmp(buf, "through the pipe\n") == 0);
	struct stat st;
	CHECK(lstat(path, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK_EQ_INT(count_entries(dir), 1);
	snprintf(path, sizeof path, "%s", dir);
	CHECK(atomic_out_open(&o, path, &err) == -1); /* a directory */
	CHECK_EQ_INT(err.code, EX_CANTCREAT);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(stdout_rollback_truncates_to_mark)
{
	make_dir();
	char path[128];
	snprintf(path, sizeof path, "%s/stdout", dir);
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen(path, "w");
	CHECK(saved >= 0 && f);
	dup2(fileno(f), 1);
	fclose(f);
	fputs("keep\n", stdout);
	fflush(stdout);
	stdout_mark();
	fputs("drop this\n", stdout);
	stdout_rollback();
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	f = fopen(path, "r");
	char buf[64] = {0};
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	if (f)
		fclose(f);
	CHECK(strcmp(buf, "keep\n") == 0);
	CHECK_EQ_INT(n, 5);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

TEST(close_stream_reports_write_error)
{
	FILE *f = fopen("/dev/full", "w");
	if (!f)
		return; /* no /dev/full here: nothing to check */
	fputs("x", f);
	lf_error err = {0};
	CHECK(close_stream(f, "/dev/full", &err) == -1);
	CHECK_EQ_INT(err.code, EX_IOERR);
	CHECK(strstr(err.msg, "/dev/full") != NULL);
	fclose(f);
}

TEST(now_seconds_is_monotonic)
{
	double a = now_seconds(), b = now_seconds();
	CHECK(a > 0 && b >= a);
}

TEST(url_redact_masks_userinfo)
{
	char out[128];
	url_redact("http://u:S3cret@127.0.0.1:5000/api", out, sizeof out);
	CHECK(strcmp(out, "http://***@127.0.0.1:5000/api") == 0);
	url_redact("postgresql://lensflow:pw@host/db?x=a@b", out, sizeof out);
	CHECK(strcmp(out, "postgresql://***@host/db?x=a@b") == 0);
	url_redact("http://127.0.0.1:5000/a@b", out, sizeof out);
	CHECK(strcmp(out, "http://127.0.0.1:5000/a@b") == 0);
	url_redact("https://a@b@host", out, sizeof out);
	CHECK(strcmp(out, "https://***@host") == 0);
	url_redact("http://u:p@h", out, 8);
	CHECK(strlen(out) == 7);
}

/* Texts written by hand: the shortest decimal that reads back, as the
 * published shortest round-trip algorithms (Ryu, Grisu) print them, in
 * printf's %g form. */
TEST(ids_lower_bound_first_not_below)
{
	static const int32_t ids[] = {-5, 2, 2, 7, 2147483647};
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, -6), 0);
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, -5), 0);
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, 2), 1); /* the first of equal ids */
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, 3), 3);
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, 2147483647), 4);
	CHECK_EQ_INT((int)ids_lower_bound(ids, 5, INT64_C(2147483648)), 5); /* past int32 */
	CHECK_EQ_INT((int)ids_lower_bound(ids, 0, 2), 0);
}

TEST(fmt_double_shortest_text_that_reads_back)
{
	static const struct {
		double v;
		const char *want;
	} cases[] = {
		{0.1, "0.1"},
		{0.49249999999999999, "0.4925"},
		{1000, "1000"},
		{943, "943"},
		{0.1 + 0.2, "0.30000000000000004"},
		{0.7999999999999999, "0.7999999999999999"}, /* 16 digits */
		{1e20, "1e+20"},
		{1e-5, "1e-05"},
		{-2.5, "-2.5"},
		{0, "0"},
	};
	char out[FMT_DOUBLE_MAX];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fmt_double(out, cases[i].v);
		if (strcmp(out, cases[i].want) != 0)
			fprintf(stderr, "# fmt_double(%.17g): '%s', want '%s'\n", cases[i].v, out,
				cases[i].want);
		CHECK(strcmp(out, cases[i].want) == 0);
	}
	/* every double of a spread of magnitudes reads back exactly */
	uint64_t x = 88172645463325252ull;
	int bad = 0;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double v;
		memcpy(&v, &x, sizeof v);
		if (v != v || v - v != 0) /* NaN, infinities */
			continue;
		bad += strtod(fmt_double(out, v), NULL) != v || strlen(out) >= FMT_DOUBLE_MAX;
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	RUN(fmt_double_shortest_text_that_reads_back);
	RUN(url_redact_masks_userinfo);
	RUN(parse_i64_accepts);
	RUN(parse_i64_rejects_and_leaves_out_untouched);
	RUN(parse_i64_n_uses_only_the_range);
	RUN(parse_double_cases);
	RUN(checked_allocation);
	RUN(read_all_whole_stream_and_limit);
	RUN(atomic_out_commit_and_abort);
	RUN(atomic_out_writes_a_fifo_in_place);
	RUN(stdout_rollback_truncates_to_mark);
	RUN(close_stream_reports_write_error);
	RUN(now_seconds_is_monotonic);
	RUN(ids_lower_bound_first_not_below);
	return tap_done();
}
