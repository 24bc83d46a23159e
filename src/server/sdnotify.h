/* sdnotify.h: systemd's notify protocol (sd_notify(3)) without libsystemd:
 * one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET
 * ('@' = abstract namespace).  A few dozen lines of our own instead of a new
 * dependency, and a no-op when not run by systemd.  Thread-safe.  Also the
 * watchdog thread that pings while the daemon is healthy. */
#ifndef NMT_SDNOTIFY_H
#define NMT_SDNOTIFY_H

/* Sends msg ("READY=1\nSTATUS=...") if $NOTIFY_SOCKET is set.  Returns 1 if
 * sent, 0 if there is no socket to tell, -1 on error. */
int nmt_sdnotify(const char *msg);

/* The watchdog interval in microseconds from $WATCHDOG_USEC (only when
 * $WATCHDOG_PID is unset or ours), else 0. */
unsigned long long nmt_sdnotify_watchdog_usec(void);

/* The systemd watchdog: a thread that sends WATCHDOG=1 at half of
 * $WATCHDOG_USEC, but only while healthy(user, interval in seconds) says
 * so, so that a wedged daemon is restarted rather than kept alive by a
 * healthy-looking thread.  Returns NULL (nothing started) when systemd asks
 * for no watchdog or the thread cannot start. */
typedef struct nmt_watchdog nmt_watchdog;
nmt_watchdog *nmt_watchdog_start(int (*healthy)(void *user, double stall_seconds), void *user);
/* Stops and joins the thread; accepts NULL. */
void nmt_watchdog_stop(nmt_watchdog *wd);

#endif
