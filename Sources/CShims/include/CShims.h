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
#include <malloc.h>
#include <openssl/ssl.h>

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

// OpenSSL macros (SSL_ctrl / SSL_CTX_ctrl) and casting constants Swift cannot import.
int cshims_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version);
int cshims_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version);
long cshims_ssl_ctx_set_mode(SSL_CTX *ctx, long mode);
void cshims_ssl_ctx_set_read_ahead(SSL_CTX *ctx, int yes);
int cshims_ssl_ctx_set1_groups_list(SSL_CTX *ctx, const char *groups);
long cshims_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode);
int cshims_ssl_ctx_set_servername_callback(SSL_CTX *ctx, int (*callback)(SSL *, int *, void *), void *argument);
uint64_t cshims_ssl_default_server_options(void);
long cshims_ssl_partial_write_modes(void);
int cshims_tls1_2_version(void);
int cshims_tls1_3_version(void);
int cshims_ssl_tlsext_err_ok(void);
int cshims_ssl_tlsext_err_alert_fatal(void);
int cshims_ssl_tlsext_err_noack(void);
int cshims_set_tlsext_host_name(SSL *ssl, const char *name);
/// Sets the 80-byte session-ticket key (16 name, 32 HMAC, 32 AES) of a context.
int cshims_ssl_ctx_set_ticket_keys(SSL_CTX *ctx, unsigned char *keys);

/// Descriptors sent or received in one message at most (the kernel allows 253).
#define CSHIMS_MAX_PASSED_DESCRIPTORS 64

/// sendmsg(2) of `bytes` with `descriptors` attached (SCM_RIGHTS; CMSG_* are macros).
ssize_t cshims_send_with_descriptors(int socket, const void *bytes, size_t count, const int *descriptors, int descriptorCount);

/// recvmsg(2) into `bytes`; descriptors received (close-on-exec) go to `descriptors` (room for
/// CSHIMS_MAX_PASSED_DESCRIPTORS) and their number to `descriptorCount`; `truncated` is set when
/// the message or its descriptors did not fit.
ssize_t cshims_receive_with_descriptors(int socket, void *bytes, size_t capacity, int *descriptors, int *descriptorCount, int *truncated);

#endif
