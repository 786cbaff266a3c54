/*
 * rl-bodyfirst — a client that writes its whole request body before it reads
 * anything, as simple HTTP clients do: the server's early answer (413) must
 * still reach it.
 *
 *   rl-bodyfirst PORT PATH BYTES [chunked]
 *
 * Sends POST PATH with a JSON content type and BYTES bytes of spaces (with a
 * Content-Length, or as one chunk per 64 KiB with "chunked"), then reads the
 * answer until the server closes or 10 s pass. Prints one line:
 *   "written=N status=S body=BODY"  (status 0: no status line was read)
 * A write the server refuses (reset, closed) stops the writing and the answer
 * is read anyway. Exit 0 unless the arguments are wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int send_all(int fd, const char *p, size_t n, size_t *written)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		*written += (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: rl-bodyfirst PORT PATH BYTES [chunked]\n");
		return 1;
	}
	int port = atoi(argv[1]);
	size_t bytes = strtoull(argv[3], NULL, 10);
	int chunked = argc == 5 && strcmp(argv[4], "chunked") == 0;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("rl-bodyfirst: connect");
		return 1;
	}
	char head[512];
	if (chunked)
		snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
			 "application/json\r\nTransfer-Encoding: chunked\r\n\r\n", argv[2]);
	else
		snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
			 "application/json\r\nContent-Length: %zu\r\n\r\n", argv[2], bytes);
	static char block[65536];
	memset(block, ' ', sizeof block);
	size_t written = 0, body = 0;
	int ok = send_all(fd, head, strlen(head), &written) == 0;
	while (ok && body < bytes) {
		size_t n = bytes - body < sizeof block ? bytes - body : sizeof block;
		char size[32];
		if (chunked) {
			snprintf(size, sizeof size, "%zx\r\n", n);
			ok = send_all(fd, size, strlen(size), &written) == 0;
		}
		ok = ok && send_all(fd, block, n, &written) == 0;
		if (ok && chunked)
			ok = send_all(fd, "\r\n", 2, &written) == 0;
		body += n;
	}
	if (ok && chunked)
		ok = send_all(fd, "0\r\n\r\n", 5, &written) == 0;
	static char ans[65536];
	size_t got = 0;
	for (;;) {
		ssize_t r = recv(fd, ans + got, sizeof ans - 1 - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (got += (size_t)r) >= sizeof ans - 1)
			break;
		ans[got] = '\0';
		/* an answer with Content-Length is complete once the body is in */
		char *end = strstr(ans, "\r\n\r\n");
		char *cl = strcasestr(ans, "\r\nContent-Length:");
		if (end && cl && cl < end && got >= (size_t)(end + 4 - ans) + strtoul(cl + 17, NULL, 10))
			break;
	}
	ans[got] = '\0';
	int status = 0;
	sscanf(ans, "HTTP/1.%*1[01] %3d", &status);
	char *b = strstr(ans, "\r\n\r\n");
	printf("written=%zu status=%d body=%s\n", written, status, b ? b + 4 : "");
	close(fd);
	return 0;
}
