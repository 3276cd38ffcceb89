/* SPDX-License-Identifier: MIT */
/* bench/echo_server.c: the tiny, fast local HTTP/1.1 service the benchmark puts behind the tunnel.
 *
 * Owns: one epoll loop on 127.0.0.1:PORT (0 = ephemeral; the bound port is printed as "PORT n"),
 * its connections and their fixed-size buffers. Keep-alive; request bodies with Content-Length are
 * read and discarded (streamed, any size); chunked bodies are not supported (answered 411).
 *   GET /bytes/N   N bytes of 'x' (streamed, Content-Length)
 *   with a body    200 and the number of body bytes received, in decimal, then "\n" (the answer
 *                  comes once the whole body is read, so a benchmark can check an upload arrived)
 *   anything else  200 "ok\n"
 * Build: cc -O2 -o echo_server echo_server.c.  Stop with SIGTERM (default action).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum { IN_CAP = 16384, OUT_CAP = 65536, MAX_EVENTS = 64 };

struct conn {
    int fd;
    size_t in_len;             /* bytes buffered in `in` */
    unsigned long long skip;   /* request body bytes still to discard */
    unsigned long long stream; /* response body bytes still to generate */
    int answer;                /* 1: "ok" due, 2: /bytes/ head due, once the body is read */
    unsigned long long body;   /* request body length (answered back when not 0) */
    unsigned long long nbytes; /* size asked by /bytes/N */
    size_t out_len, out_off;   /* pending bytes in `out` */
    char in[IN_CAP];
    char out[OUT_CAP];
};

static void conn_free(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Appends a response head to c->out; returns -1 when it does not fit. */
static int queue(struct conn *c, const char *s, size_t n)
{
    if (c->out_len + n > OUT_CAP)
        return -1;
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return 0;
}

/* Parses complete request heads in c->in and queues their answers. Returns -1 on a bad request. */
static int parse_requests(struct conn *c)
{
    static const char ok[] =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";
    for (;;) {
        if (c->skip > 0) {
            size_t n = c->in_len < c->skip ? c->in_len : (size_t)c->skip;
            memmove(c->in, c->in + n, c->in_len - n);
            c->in_len -= n;
            c->skip -= n;
            if (c->skip > 0)
                return 0;
        }
        if (c->answer != 0) {
            /* Answer only once the request body is consumed, as a normal server does. */
            if (c->answer == 2) {
                char head[128];
                int n = snprintf(head, sizeof head,
                                 "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                                 "Content-Length: %llu\r\n\r\n",
                                 c->nbytes);
                if (queue(c, head, (size_t)n) < 0)
                    return -1;
                c->stream = c->nbytes;
            } else if (c->body > 0) {
                char ans[128];
                int n = snprintf(ans, sizeof ans,
                                 "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 "Content-Length: %d\r\n\r\n%llu\n",
                                 snprintf(NULL, 0, "%llu\n", c->body), c->body);
                if (queue(c, ans, (size_t)n) < 0)
                    return -1;
            } else if (queue(c, ok, sizeof ok - 1) < 0) {
                return -1;
            }
            c->answer = 0;
        }
        if (c->stream > 0 || c->out_len + 256 > OUT_CAP)
            return 0; /* answer the next request once this one is written */
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL)
            return c->in_len == IN_CAP ? -1 : 0;
        size_t head_len = (size_t)(end - c->in) + 4;
        *end = '\0';
        unsigned long long body = 0;
        int chunked = 0;
        for (char *line = strstr(c->in, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
            if (strncasecmp(line + 2, "content-length:", 15) == 0)
                body = strtoull(line + 17, NULL, 10);
            else if (strncasecmp(line + 2, "transfer-encoding:", 18) == 0)
                chunked = 1;
        }
        unsigned long long nbytes = 0;
        int is_bytes = sscanf(c->in, "GET /bytes/%llu", &nbytes) == 1;
        memmove(c->in, c->in + head_len, c->in_len - head_len);
        c->in_len -= head_len;
        if (chunked) {
            static const char e[] =
                "HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            queue(c, e, sizeof e - 1);
            return -1;
        }
        c->skip = body;
        c->body = body;
        c->answer = is_bytes ? 2 : 1;
        c->nbytes = nbytes;
    }
}

/* Writes what is pending (generating streamed body bytes). Returns -1 on error, 1 when blocked. */
static int flush_out(struct conn *c)
{
    for (;;) {
        if (c->out_off == c->out_len) {
            c->out_off = c->out_len = 0;
            if (c->stream == 0)
                return 0;
            size_t n = c->stream < OUT_CAP ? (size_t)c->stream : OUT_CAP;
            memset(c->out, 'x', n);
            c->out_len = n;
            c->stream -= n;
        }
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0)
            return (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : -1;
        c->out_off += (size_t)w;
    }
}

static int on_event(int ep, struct conn *c, unsigned events)
{
    if (events & (EPOLLERR | EPOLLHUP))
        return -1;
    for (;;) {
        if (c->in_len == IN_CAP)
            break;
        ssize_t r = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        c->in_len += (size_t)r;
        if (parse_requests(c) < 0) {
            flush_out(c);
            return -1;
        }
    }
    for (;;) {
        int st = flush_out(c);
        if (st < 0)
            return -1;
        if (st == 1)
            break;
        size_t before = c->in_len;
        if (parse_requests(c) < 0)
            return -1;
        if (c->out_len == 0 && c->in_len == before)
            break;
    }
    /* Stop reading while the input buffer is full (pipelined requests wait for the output). */
    unsigned want = (c->in_len < IN_CAP ? EPOLLIN : 0) | (c->out_len ? EPOLLOUT : 0);
    struct epoll_event ev = {.events = want, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    /* Die with the benchmark script, even if it is killed without running its cleanup. */
    pid_t parent = getppid();
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        return 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("echo_server");
        return 1;
    }
    printf("PORT %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
            } else if (on_event(ep, c, evs[i].events) < 0) {
                conn_free(ep, c);
            }
        }
    }
    return 0;
}
