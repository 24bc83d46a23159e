/* sdnotify.c: see sdnotify.h. */
#include "sdnotify.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int nmt_sdnotify(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return 0;
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof addr.sun_path)
        return -1;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&addr, alen);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(msg) ? 1 : -1;
}

unsigned long long nmt_sdnotify_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!usec)
        return 0;
    if (pid && strtol(pid, NULL, 10) != (long)getpid())
        return 0;
    char *end;
    unsigned long long v = strtoull(usec, &end, 10);
    return *end == '\0' ? v : 0;
}

struct nmt_watchdog {
    int (*healthy)(void *user, double stall_seconds);
    void *user;
    unsigned long long usec;
    atomic_int stop;
    pthread_t thread;
};

static void *watchdog_main(void *arg)
{
    nmt_watchdog *wd = arg;
    const long step_ns = 10 * 1000 * 1000;
    long long waited_ns = 0, period_ns = (long long)wd->usec * 1000 / 2;
    while (!atomic_load(&wd->stop)) {
        struct timespec ts = {0, step_ns};
        nanosleep(&ts, NULL);
        waited_ns += step_ns;
        if (waited_ns < period_ns)
            continue;
        waited_ns = 0;
        if (wd->healthy(wd->user, (double)wd->usec / 1e6))
            nmt_sdnotify("WATCHDOG=1");
        else
            nmt_warn("sdnotify", "workers stalled: withholding the systemd watchdog ping");
    }
    return NULL;
}

nmt_watchdog *nmt_watchdog_start(int (*healthy)(void *user, double stall_seconds), void *user)
{
    unsigned long long usec = nmt_sdnotify_watchdog_usec();
    if (usec == 0)
        return NULL;
    nmt_watchdog *wd = calloc(1, sizeof *wd);
    if (!wd)
        return NULL;
    wd->healthy = healthy;
    wd->user = user;
    wd->usec = usec;
    atomic_init(&wd->stop, 0);
    if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0) {
        free(wd);
        return NULL;
    }
    return wd;
}

void nmt_watchdog_stop(nmt_watchdog *wd)
{
    if (!wd)
        return;
    atomic_store(&wd->stop, 1);
    pthread_join(wd->thread, NULL);
    free(wd);
}
