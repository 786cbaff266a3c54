/*
 * rl-slow — slow senders: N connections that each send a request one byte
 * every INTERVAL ms and never finish it, holding whatever the server gives
 * a connection.
 *
 *   rl-slow PORT N SECONDS [INTERVAL_MS]
 *
 * Runs SECONDS, then prints one line:
 *   "opened=N refused=R closed_by_server=C first_close_s=T"
 * (first_close_s: seconds until the server first closed one, -1 when none).
 * Exit 0 unless the arguments are wrong.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX 1024

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: rl-slow PORT N SECONDS [INTERVAL_MS]\n");
		return 1;
	}
	int port = atoi(argv[1]), n = atoi(argv[2]);
	double seconds = atof(argv[3]);
	int interval = argc == 5 ? atoi(argv[4]) : 1000;
	if (n < 1 || n > MAX || interval < 1) {
		fprintf(stderr, "rl-slow: bad N or INTERVAL\n");
		return 1;
	}
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int fd[MAX];
	size_t sent[MAX];
	int opened = 0, refused = 0, closed = 0;
	double t0 = now(), first_close = -1;
	for (int i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		sent[i] = 0;
		if (fd[i] < 0 || (connect(fd[i], (struct sockaddr *)&a, sizeof a) < 0 &&
				  errno != EINPROGRESS)) {
			refused++;
			if (fd[i] >= 0)
				close(fd[i]);
			fd[i] = -1;
			continue;
		}
		opened++;
	}
	while (now() - t0 < seconds) {
		struct pollfd p[MAX];
		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = fd[i], .events = POLLIN};
		poll(p, (nfds_t)n, interval);
		for (int i = 0; i < n; i++) {
			if (fd[i] < 0)
				continue;
			char junk[4096];
			int gone = 0;
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(fd[i], junk, sizeof junk, MSG_DONTWAIT);
				gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
			}
			if (!gone && sent[i] < sizeof req - 1) {
				ssize_t w = send(fd[i], req + sent[i], 1, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (w == 1)
					sent[i]++;
				else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
					gone = 1;
			}
			if (gone) {
				if (first_close < 0)
					first_close = now() - t0;
				closed++;
				close(fd[i]);
				fd[i] = -1;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	printf("opened=%d refused=%d closed_by_server=%d first_close_s=%.1f\n", opened, refused, closed,
	       first_close);
	return 0;
}
