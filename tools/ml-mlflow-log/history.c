/*
 * history.c — see history.h.
 */
#include "history.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int version_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 9 && s[0] != '0' && strspn(s, "0123456789") == n;
}

void utc_now_iso(char *buf)
{
	time_t t = time(NULL);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(buf, "1970-01-01T00:00:00Z");
}

void history_free(history *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->items[i].reason);
	free(h->items);
	h->items = NULL;
	h->n = 0;
}

int history_append(history *h, const char *time, const char *action, const char *from,
		   const char *to, const char *reason, lf_error *err)
{
	if (strlen(time) >= sizeof h->items[0].time ||
	    strlen(action) >= sizeof h->items[0].action ||
	    strlen(from) >= sizeof h->items[0].from || strlen(to) >= sizeof h->items[0].to)
		return lf_fail(err, EX_SOFTWARE, "history entry field too long");
	history_entry *items = realloc(h->items, (h->n + 1) * sizeof *items);
	if (!items)
		return lf_fail(err, EX_OSERR, "out of memory");
	h->items = items;
	history_entry *e = &items[h->n];
	memset(e, 0, sizeof *e);
	/* cut on a character boundary: half a UTF-8 sequence would make the
	 * history JSON unwritable */
	size_t keep = strnlen(reason, HISTORY_REASON_MAX);
	while (keep > 0 && reason[keep] != '\0' && ((unsigned char)reason[keep] & 0xC0) == 0x80)
		keep--;
	e->reason = strndup(reason, keep);
	if (!e->reason)
		return lf_fail(err, EX_OSERR, "out of memory");
	strcpy(e->time, time);
	strcpy(e->action, action);
	strcpy(e->from, from);
	strcpy(e->to, to);
	h->n++;
	return 0;
}

/* obj[field] as a string of at most size-1 bytes into dst; null allowed when
 * nullable (gives ""). */
static int field(const json_t *obj, const char *name, char *dst, size_t size, int nullable)
{
	const json_t *v = json_object_get(obj, name);
	if (nullable && (!v || json_is_null(v))) {
		dst[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || json_string_length(v) >= size)
		return -1;
	strcpy(dst, json_string_value(v));
	return strlen(dst) == json_string_length(v) ? 0 : -1; /* no NUL inside */
}

int history_parse(const char *text, history *out, lf_error *err)
{
	out->items = NULL;
	out->n = 0;
	if (!text || !*text)
		return 0;
	json_error_t jerr;
	json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_array(a)) {
		json_decref(a);
		return lf_fail(err, EX_DATAERR, "tag %s is not a JSON array", HISTORY_TAG);
	}
	size_t i;
	json_t *o;
	json_array_foreach(a, i, o)
	{
		history_entry e = {0};
		const json_t *r = json_object_get(o, "reason");
		if (!json_is_object(o) || field(o, "time", e.time, sizeof e.time, 0) ||
		    field(o, "action", e.action, sizeof e.action, 0) ||
		    field(o, "from", e.from, sizeof e.from, 1) ||
		    field(o, "to", e.to, sizeof e.to, 0) || (r && !json_is_string(r)) ||
		    (strcmp(e.action, "promote") != 0 && strcmp(e.action, "rollback") != 0) ||
		    (e.from[0] && !version_valid(e.from)) || !version_valid(e.to)) {
			json_decref(a);
			history_free(out);
			return lf_fail(err, EX_DATAERR, "tag %s: entry %zu is malformed",
				       HISTORY_TAG, i + 1);
		}
		if (history_append(out, e.time, e.action, e.from, e.to,
				   r ? json_string_value(r) : "", err) != 0) {
			json_decref(a);
			history_free(out);
			return -1;
		}
	}
	json_decref(a);
	return 0;
}

int history_dump(const history *h, char **text, lf_error *err)
{
	*text = NULL;
	json_t *a = json_array();
	size_t first = h->n > HISTORY_KEEP ? h->n - HISTORY_KEEP : 0;
	for (size_t i = first; a && i < h->n; i++) {
		const history_entry *e = &h->items[i];
		json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "time", e->time, "action", e->action,
				      "to", e->to, "reason", e->reason);
		if (o && json_object_set_new(
				 o, "from", e->from[0] ? json_string(e->from) : json_null()) != 0) {
			json_decref(o);
			o = NULL;
		}
		if (json_array_append_new(a, o) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	if (a)
		*text = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(a);
	return *text ? 0 : lf_fail(err, EX_OSERR, "out of memory");
}

int history_rollback_target(const history *h, const char *current, char *target)
{
	/* indexes into h->items of the champions on the stack */
	size_t *stack = malloc((h->n + 1) * sizeof *stack), top = 0;
	if (!stack)
		return 1;
	for (size_t i = 0; i < h->n; i++) {
		const history_entry *e = &h->items[i];
		if (strcmp(e->action, "rollback") == 0 && top > 0)
			top--;
		if (top == 0 || strcmp(h->items[stack[top - 1]].to, e->to) != 0)
			stack[top++] = i;
	}
	while (top > 0 && strcmp(h->items[stack[top - 1]].to, current) == 0)
		top--;
	int rc = 1;
	if (top > 0) {
		strcpy(target, h->items[stack[top - 1]].to);
		rc = 0;
	}
	free(stack);
	return rc;
}

int history_write_tsv(FILE *f, const history *h, lf_error *err)
{
	for (size_t i = 0; i < h->n; i++) {
		const history_entry *e = &h->items[i];
		if (fprintf(f, "%s\t%s\t%s\t", e->time, e->from, e->to) < 0)
			return lf_fail(err, EX_IOERR, "stdout: write failed");
		for (const char *p = e->reason; *p; p++)
			if (fputc((*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p, f) == EOF)
				return lf_fail(err, EX_IOERR, "stdout: write failed");
		if (fputc('\n', f) == EOF)
			return lf_fail(err, EX_IOERR, "stdout: write failed");
	}
	return 0;
}
