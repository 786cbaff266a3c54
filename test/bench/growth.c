/*
 * growth — the growth table of `make bench-scale` from its measurements:
 *
 *   growth --json F --md F --svg F [--title T] < runs.tsv
 *
 *   growth ... [--note TEXT]   (TEXT: a paragraph added under the md tables)
 *
 * runs.tsv: one row per (size, stage): size name, ratings, stage, wall
 * seconds, CPU seconds (user + system), peak RSS in KiB, and optionally
 * the database server's CPU seconds during the stage and the seconds of
 * its HNSW index builds (ml-pgload's load: the tool's own CPU is a small
 * part of it). Per stage the growth exponent b of cost ~ ratings^b is the
 * least-squares slope of log(cost) on log(ratings) over the sizes from 1M
 * ratings on (b of wall, of CPU and of CPU with the server's; none with
 * fewer than two such sizes). The SVG is a log-log plot of CPU seconds
 * (the server's included) against ratings, one line per stage. A bench
 * helper, not a tool.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define MAXR 256
#define MAXS 16
#define FIT_FROM 5e5 /* the 1M size on (synthetic releases fall a little short) */

typedef struct row {
	char size[32], stage[32];
	double ratings, wall, cpu, rss_kb;
	double server_cpu, hnsw; /* the database server's CPU s, its HNSW builds' s */
} row;

static row rows[MAXR];
static size_t n_rows;
static char stages[MAXS][32];
static size_t n_stages;

enum cost { WALL, CPU, CPU_SERVER };

static double cost_of(const row *r, enum cost c)
{
	return c == WALL ? r->wall : c == CPU ? r->cpu : r->cpu + r->server_cpu;
}

/* least-squares slope of log y on log x over rows of stage s with x >= FIT_FROM */
static double slope(const char *s, enum cost cpu, int *points)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;
	int n = 0;
	for (size_t r = 0; r < n_rows; r++) {
		double y = cost_of(&rows[r], cpu);
		if (strcmp(rows[r].stage, s) != 0 || rows[r].ratings < FIT_FROM || !(y > 0))
			continue;
		double lx = log(rows[r].ratings), ly = log(y);
		sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly, n++;
	}
	*points = n;
	double den = n * sxx - sx * sx;
	return n >= 2 && den > 0 ? (n * sxy - sx * sy) / den : NAN;
}

static int read_rows(void)
{
	char line[512];
	while (fgets(line, sizeof line, stdin)) {
		row r = {0};
		int got = sscanf(line, "%31s %lf %31s %lf %lf %lf %lf %lf", r.size, &r.ratings,
				 r.stage, &r.wall, &r.cpu, &r.rss_kb, &r.server_cpu, &r.hnsw);
		if (n_rows == MAXR || (got != 6 && got != 8)) {
			fprintf(stderr, "growth: bad row: %s", line);
			return -1;
		}
		rows[n_rows++] = r;
		size_t s = 0;
		while (s < n_stages && strcmp(stages[s], r.stage) != 0)
			s++;
		if (s == n_stages && n_stages < MAXS)
			snprintf(stages[n_stages++], sizeof stages[0], "%s", r.stage);
	}
	return n_rows ? 0 : -1;
}

static int has_server(void)
{
	for (size_t r = 0; r < n_rows; r++)
		if (rows[r].server_cpu > 0)
			return 1;
	return 0;
}

static void num(FILE *f, double v)
{
	if (isnan(v))
		fputs("null", f);
	else
		fprintf(f, "%.4g", v);
}

static void write_json(FILE *f, const char *title)
{
	fprintf(f, "{\"title\": \"%s\", \"fit_from_ratings\": %.0f, \"runs\": [", title, FIT_FROM);
	for (size_t r = 0; r < n_rows; r++)
		fprintf(f,
			"%s\n  {\"size\": \"%s\", \"ratings\": %.0f, \"stage\": \"%s\", "
			"\"wall_s\": %.3f, \"cpu_s\": %.3f, \"peak_rss_mb\": %.1f, "
			"\"server_cpu_s\": %.3f, \"hnsw_s\": %.3f}",
			r ? "," : "", rows[r].size, rows[r].ratings, rows[r].stage, rows[r].wall,
			rows[r].cpu, rows[r].rss_kb / 1024.0, rows[r].server_cpu, rows[r].hnsw);
	fputs("],\n \"exponents\": {", f);
	for (size_t s = 0; s < n_stages; s++) {
		int pw, pc;
		double bw = slope(stages[s], WALL, &pw), bc = slope(stages[s], CPU, &pc);
		fprintf(f, "%s\n  \"%s\": {\"wall\": ", s ? "," : "", stages[s]);
		num(f, bw);
		fputs(", \"cpu\": ", f);
		num(f, bc);
		fputs(", \"cpu_with_server\": ", f);
		num(f, slope(stages[s], CPU_SERVER, &pc));
		fprintf(f, ", \"points\": %d}", pw);
	}
	fputs("}}\n", f);
}

static const char *note;

static void write_md(FILE *f, const char *title)
{
	int srv = has_server();
	fprintf(f, "# %s\n\n", title);
	fputs("| size | ratings | stage | wall s | CPU s | peak RSS MB |", f);
	fputs(srv ? " server CPU s | HNSW build s |\n" : "\n", f);
	fputs("| --- | ---: | --- | ---: | ---: | ---: |", f);
	fputs(srv ? " ---: | ---: |\n" : "\n", f);
	for (size_t r = 0; r < n_rows; r++) {
		fprintf(f, "| %s | %.0f | %s | %.2f | %.2f | %.0f |", rows[r].size, rows[r].ratings,
			rows[r].stage, rows[r].wall, rows[r].cpu, rows[r].rss_kb / 1024.0);
		if (!srv)
			fputs("\n", f);
		else if (rows[r].server_cpu > 0 || rows[r].hnsw > 0)
			fprintf(f, " %.2f | %.2f |\n", rows[r].server_cpu, rows[r].hnsw);
		else
			fputs(" | |\n", f);
	}
	fprintf(f,
		"\nGrowth exponent b (cost ~ ratings^b, least squares on log-log over the sizes "
		"of at least %.1fM ratings: the 1M size on):\n\n",
		FIT_FROM / 1e6);
	fputs(srv ? "| stage | b (wall) | b (CPU) | b (CPU + server CPU) | sizes fitted |\n"
		    "| --- | ---: | ---: | ---: | ---: |\n"
		  : "| stage | b (wall) | b (CPU) | sizes fitted |\n| --- | ---: | ---: | ---: |\n",
	      f);
	for (size_t s = 0; s < n_stages; s++) {
		int pw, pc;
		double b[3] = {slope(stages[s], WALL, &pw), slope(stages[s], CPU, &pc),
			       slope(stages[s], CPU_SERVER, &pc)};
		fprintf(f, "| %s |", stages[s]);
		for (int i = 0; i < (srv ? 3 : 2); i++)
			isnan(b[i]) ? fputs(" — |", f) : fprintf(f, " %.2f |", b[i]);
		fprintf(f, " %d |\n", pw);
	}
	if (note)
		fprintf(f, "\n%s\n", note);
}

static const char *const colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
				      "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

static void write_svg(FILE *f, const char *title)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
	for (size_t r = 0; r < n_rows; r++) {
		double y = fmax(cost_of(&rows[r], CPU_SERVER), 0.01);
		x0 = fmin(x0, log10(rows[r].ratings)), x1 = fmax(x1, log10(rows[r].ratings));
		y0 = fmin(y0, log10(y)), y1 = fmax(y1, log10(y));
	}
	x0 = floor(x0), x1 = ceil(x1), y0 = floor(y0), y1 = ceil(y1);
	if (x1 <= x0)
		x1 = x0 + 1;
	if (y1 <= y0)
		y1 = y0 + 1;
	const double W = 780, H = 440, L = 70, R = 170, T = 44, B = 50;
	double pw = W - L - R, ph = H - T - B;
#define PX(lx) (L + ((lx) - x0) / (x1 - x0) * pw)
#define PY(ly) (T + ph - ((ly) - y0) / (y1 - y0) * ph)
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"%.0f\" y=\"22\" font-size=\"13\">%s</text>\n",
		W, H, L, title);
	for (double d = x0; d <= x1 + 1e-9; d++)
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">1e%.0f</text>\n",
			PX(d), T, PX(d), T + ph, PX(d), T + ph + 18, d);
	for (double d = y0; d <= y1 + 1e-9; d++)
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g s</text>\n",
			L, PY(d), L + pw, PY(d), L - 6, PY(d) + 4, pow(10, d));
	fprintf(f,
		"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">ratings</text>\n"
		"<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" "
		"text-anchor=\"middle\">CPU seconds (the database server's included)</text>\n",
		L + pw / 2, H - 8, T + ph / 2, T + ph / 2);
	for (size_t s = 0; s < n_stages; s++) {
		const char *c = colours[s % 8];
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", c);
		for (size_t r = 0; r < n_rows; r++)
			if (strcmp(rows[r].stage, stages[s]) == 0)
				fprintf(f, "%.1f,%.1f ", PX(log10(rows[r].ratings)),
					PY(log10(fmax(cost_of(&rows[r], CPU_SERVER), 0.01))));
		fputs("\"/>\n", f);
		for (size_t r = 0; r < n_rows; r++)
			if (strcmp(rows[r].stage, stages[s]) == 0)
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
					PX(log10(rows[r].ratings)),
					PY(log10(fmax(cost_of(&rows[r], CPU_SERVER), 0.01))), c);
		int pts;
		double b = slope(stages[s], CPU_SERVER, &pts);
		char lab[64];
		if (isnan(b))
			snprintf(lab, sizeof lab, "%s", stages[s]);
		else
			snprintf(lab, sizeof lab, "%s (b = %.2f)", stages[s], b);
		fprintf(f,
			"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			L + pw + 10, T + 10 + 18.0 * (double)s, L + pw + 28, T + 10 + 18.0 * (double)s,
			c, L + pw + 32, T + 14 + 18.0 * (double)s, lab);
	}
	fputs("</svg>\n", f);
}

int main(int argc, char **argv)
{
	const char *json = NULL, *md = NULL, *svg = NULL, *title = "lensflow growth";
	static const struct option lo[] = {{"json", 1, NULL, 'j'},
					   {"md", 1, NULL, 'm'},
					   {"svg", 1, NULL, 's'},
					   {"title", 1, NULL, 't'},
					   {"note", 1, NULL, 'n'},
					   {NULL, 0, NULL, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (o == 'j')
			json = optarg;
		else if (o == 'm')
			md = optarg;
		else if (o == 's')
			svg = optarg;
		else if (o == 't')
			title = optarg;
		else if (o == 'n')
			note = optarg;
		else
			return 64;
	}
	if (read_rows() < 0) {
		fprintf(stderr, "growth: no measurements on stdin\n");
		return 65;
	}
	const char *paths[3] = {json, md, svg};
	void (*fns[3])(FILE *, const char *) = {write_json, write_md, write_svg};
	for (int i = 0; i < 3; i++) {
		if (!paths[i])
			continue;
		FILE *f = fopen(paths[i], "w");
		if (!f) {
			fprintf(stderr, "growth: cannot write %s\n", paths[i]);
			return 73;
		}
		fns[i](f, title);
		if (fclose(f) != 0) {
			fprintf(stderr, "growth: write failed on %s\n", paths[i]);
			return 74;
		}
	}
	return 0;
}
