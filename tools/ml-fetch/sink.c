/*
 * sink.c — where ml-fetch writes: stdout or -o FILE, hashed as it goes. A
 * streamed conversion that fails half-way leaves no output under the final
 * name (-o: the temporary file is removed) and truncates a regular file on
 * stdout back to where it began (a shell's "> file"); on a pipe the reader
 * sees the bytes written so far, and ml-fetch's exit status says they are
 * not the dataset (use -o, or pipefail).
 */
#include <errno.h>
#include <string.h>

#include "fetch.h"

int sink_open(out_sink *o, const char *path, lf_error *err)
{
	memset(o, 0, sizeof *o);
	sha256_init(&o->sha);
	if (path) {
		if (atomic_out_open(&o->atomic, path, err))
			return -1;
		o->f = o->atomic.f;
		o->to_file = 1;
		o->name = path;
	} else {
		stdout_mark();
		o->f = stdout;
		o->name = "stdout";
	}
	return 0;
}

void sink_write(out_sink *o, const void *data, size_t len)
{
	if (o->failed || len == 0)
		return;
	sha256_update(&o->sha, data, len);
	if (fwrite(data, 1, len, o->f) != len)
		o->failed = errno ? errno : EIO;
}

int sink_commit(out_sink *o, char hex[65], lf_error *err)
{
	unsigned char d[32];
	sha256_final(&o->sha, d);
	hex_encode(d, 32, hex);
	if (o->failed) {
		lf_fail_errno(err, EX_IOERR, o->failed, "%s: write failed", o->name);
		sink_abort(o);
		return -1;
	}
	if (o->to_file) {
		if (atomic_out_commit(&o->atomic, err) == 0)
			return 0;
		atomic_out_abort(&o->atomic); /* safe after a failed commit */
		return -1;
	}
	if (close_stream(stdout, "stdout", err)) {
		stdout_rollback();
		return -1;
	}
	return 0;
}

void sink_abort(out_sink *o)
{
	if (o->to_file)
		atomic_out_abort(&o->atomic);
	else
		stdout_rollback();
	o->to_file = 0;
}
