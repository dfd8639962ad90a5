#include "CShims.h"
#include <pthread.h>
#include <string.h>

int cshims_accept_nonblocking(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int cshims_pin_thread_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int cshims_signalfd_for(const int *signals, int count) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int i = 0; i < count; i++) sigaddset(&mask, signals[i]);
    if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) return -1;
    return signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
}

long cshims_find_head_end(const unsigned char *bytes, long count) {
    const unsigned char *found = memmem(bytes, (size_t)count, "\r\n\r\n", 4);
    return found ? (long)(found - bytes) : -1;
}

void cshims_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, 15);
    truncated[15] = 0;
    pthread_setname_np(pthread_self(), truncated);
}

int cshims_ssl_ctx_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
int cshims_ssl_ctx_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
long cshims_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
void cshims_ssl_ctx_set_read_ahead(SSL_CTX *ctx, int yes) { SSL_CTX_set_read_ahead(ctx, yes); }
int cshims_ssl_ctx_set1_groups_list(SSL_CTX *ctx, const char *groups) { return (int)SSL_CTX_set1_groups_list(ctx, groups); }
long cshims_ssl_ctx_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }

int cshims_ssl_ctx_set_servername_callback(SSL_CTX *ctx, int (*callback)(SSL *, int *, void *), void *argument) {
    SSL_CTX_set_tlsext_servername_arg(ctx, argument);
    return (int)SSL_CTX_set_tlsext_servername_callback(ctx, callback);
}

uint64_t cshims_ssl_default_server_options(void) {
    return SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
         | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
}

long cshims_ssl_partial_write_modes(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}

int cshims_tls1_2_version(void) { return TLS1_2_VERSION; }
int cshims_tls1_3_version(void) { return TLS1_3_VERSION; }
int cshims_ssl_tlsext_err_ok(void) { return SSL_TLSEXT_ERR_OK; }
int cshims_ssl_tlsext_err_alert_fatal(void) { return SSL_TLSEXT_ERR_ALERT_FATAL; }
int cshims_ssl_tlsext_err_noack(void) { return SSL_TLSEXT_ERR_NOACK; }
int cshims_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
int cshims_ssl_ctx_set_ticket_keys(SSL_CTX *ctx, unsigned char *keys) { return (int)SSL_CTX_set_tlsext_ticket_keys(ctx, keys, 80); }

ssize_t cshims_send_with_descriptors(int socket, const void *bytes, size_t count, const int *descriptors, int descriptorCount) {
    struct iovec vector = { .iov_base = (void *)bytes, .iov_len = count };
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1 };
    char control[CMSG_SPACE(sizeof(int) * CSHIMS_MAX_PASSED_DESCRIPTORS)];
    if (descriptorCount < 0 || descriptorCount > CSHIMS_MAX_PASSED_DESCRIPTORS) return -1;
    if (descriptorCount > 0) {
        memset(control, 0, sizeof(control));
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * descriptorCount);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * descriptorCount);
        memcpy(CMSG_DATA(header), descriptors, sizeof(int) * descriptorCount);
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL);
}

ssize_t cshims_receive_with_descriptors(int socket, void *bytes, size_t capacity, int *descriptors, int *descriptorCount, int *truncated) {
    struct iovec vector = { .iov_base = bytes, .iov_len = capacity };
    char control[CMSG_SPACE(sizeof(int) * CSHIMS_MAX_PASSED_DESCRIPTORS)];
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
    *descriptorCount = 0;
    ssize_t received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (received < 0) return received;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count && *descriptorCount < CSHIMS_MAX_PASSED_DESCRIPTORS; i++) {
            memcpy(&descriptors[*descriptorCount], CMSG_DATA(header) + i * sizeof(int), sizeof(int));
            *descriptorCount += 1;
        }
    }
    *truncated = (message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return received;
}
