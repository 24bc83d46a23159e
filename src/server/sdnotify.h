/* sdnotify.h: systemd's notify protocol (sd_notify(3)) without libsystemd:
 * one datagram per message to the AF_UNIX socket named by $NOTIFY_SOCKET
 * ('@' = abstract namespace).  A few dozen lines of our own instead of a new
 * dependency, and a no-op when not run by systemd.  Thread-safe. */
#ifndef NMT_SDNOTIFY_H
#define NMT_SDNOTIFY_H

/* Sends msg ("READY=1\nSTATUS=...") if $NOTIFY_SOCKET is set.  Returns 1 if
 * sent, 0 if there is no socket to tell, -1 on error. */
int nmt_sdnotify(const char *msg);

/* The watchdog interval in microseconds from $WATCHDOG_USEC (only when
 * $WATCHDOG_PID is unset or ours), else 0. */
unsigned long long nmt_sdnotify_watchdog_usec(void);

#endif
