#ifndef PORTCULLIS_CSHIMS_H
#define PORTCULLIS_CSHIMS_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <sys/random.h>

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int cshims_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len);

/// Pins the calling thread to one CPU; returns 0 on success.
int cshims_pin_thread_to_cpu(int cpu);

/// Blocks `signals` for the calling thread (and threads it starts) and returns a
/// non-blocking signalfd that reports them, or -1.
int cshims_signalfd_for(const int *signals, int count);

/// Names the calling thread (visible in top and gdb); names are cut to 15 bytes.
void cshims_set_thread_name(const char *name);

/// Offset of the first CRLFCRLF in `bytes[0..<count]`, or -1 (memmem needs _GNU_SOURCE).
long cshims_find_head_end(const unsigned char *bytes, long count);

#endif
