/* notify_listen.c: test helper standing in for systemd's notify socket.
 * Binds an AF_UNIX datagram socket at PATH and prints every message it
 * receives as "<milliseconds since start> <message, newlines as spaces>",
 * until SECONDS have passed.  Usage: notify_listen PATH SECONDS */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: notify_listen PATH SECONDS\n");
        return 2;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(argv[1]) >= sizeof addr.sun_path)
        return 2;
    strcpy(addr.sun_path, argv[1]);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    unlink(argv[1]);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("notify_listen");
        return 1;
    }
    double start = now_ms(), end = start + atof(argv[2]) * 1e3;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("0 LISTENING\n");
    for (double t; (t = now_ms()) < end;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - t) + 1) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n')
                buf[i] = ' ';
        printf("%.0f %s\n", now_ms() - start, buf);
    }
    unlink(argv[1]);
    return 0;
}
