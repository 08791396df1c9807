// A TCP relay that delays every byte by a fixed time in each direction: the stand-in for `tc netem delay` on a
// kernel without the netem qdisc (scripts/bench-parallel-netem builds and uses it). Each direction has a reader
// that stamps what it reads with its arrival time and a writer that sends it on at arrival + delay (an absolute
// sleep with 1 ns timer slack), so a round trip gains twice the delay and bytes keep their order and spacing.
//
// Usage: delay-proxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MICROSECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { chunk_size = 65536 };

struct chunk {
    struct chunk *next;
    struct timespec due;
    ssize_t length;  // 0: the reader saw the end of the stream
    char bytes[chunk_size];
};

struct direction {
    int from, to;
    long delay_ns;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    struct chunk *head, *tail;
};

static void push(struct direction *d, struct chunk *c) {
    c->next = NULL;
    pthread_mutex_lock(&d->lock);
    if (d->tail) d->tail->next = c; else d->head = c;
    d->tail = c;
    pthread_cond_signal(&d->ready);
    pthread_mutex_unlock(&d->lock);
}

static struct chunk *pop(struct direction *d) {
    pthread_mutex_lock(&d->lock);
    while (!d->head) pthread_cond_wait(&d->ready, &d->lock);
    struct chunk *c = d->head;
    d->head = c->next;
    if (!d->head) d->tail = NULL;
    pthread_mutex_unlock(&d->lock);
    return c;
}

static void *reader(void *arg) {
    struct direction *d = arg;
    for (;;) {
        struct chunk *c = malloc(sizeof *c);
        if (!c) abort();
        c->length = read(d->from, c->bytes, chunk_size);
        if (c->length < 0 && errno == EINTR) { free(c); continue; }
        if (c->length < 0) c->length = 0;
        clock_gettime(CLOCK_MONOTONIC, &c->due);
        c->due.tv_nsec += d->delay_ns;
        c->due.tv_sec += c->due.tv_nsec / 1000000000L;
        c->due.tv_nsec %= 1000000000L;
        int end = c->length == 0;
        push(d, c);
        if (end) return NULL;
    }
}

static void *writer(void *arg) {
    struct direction *d = arg;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    for (;;) {
        struct chunk *c = pop(d);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &c->due, NULL) == EINTR) {}
        if (c->length == 0) {
            shutdown(d->to, SHUT_WR);
            shutdown(d->from, SHUT_RD);
            free(c);
            return NULL;
        }
        for (ssize_t sent = 0; sent < c->length;) {
            ssize_t n = write(d->to, c->bytes + sent, (size_t)(c->length - sent));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) { shutdown(d->from, SHUT_RDWR); break; }
            sent += n;
        }
        free(c);
    }
}

static int connect_to(const char *host, int port) {
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &address.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) { if (fd >= 0) close(fd); return -1; }
    return fd;
}

struct pair { int client, server; long delay_ns; };

static void *relay(void *arg) {
    struct pair *p = arg;
    struct direction up = {.from = p->client, .to = p->server, .delay_ns = p->delay_ns,
                           .lock = PTHREAD_MUTEX_INITIALIZER, .ready = PTHREAD_COND_INITIALIZER};
    struct direction down = {.from = p->server, .to = p->client, .delay_ns = p->delay_ns,
                             .lock = PTHREAD_MUTEX_INITIALIZER, .ready = PTHREAD_COND_INITIALIZER};
    pthread_t threads[4];
    pthread_create(&threads[0], NULL, reader, &up);
    pthread_create(&threads[1], NULL, writer, &up);
    pthread_create(&threads[2], NULL, reader, &down);
    pthread_create(&threads[3], NULL, writer, &down);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    close(p->client);
    close(p->server);
    free(p);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: delay-proxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT DELAY_MICROSECONDS\n");
        return 2;
    }
    long delay_ns = (long)(atof(argv[5]) * 1000.0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) { fprintf(stderr, "delay-proxy: bad address %s\n", argv[1]); return 2; }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 16) != 0) {
        fprintf(stderr, "delay-proxy: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    fprintf(stderr, "delay-proxy listening on %s:%s -> %s:%s, %s us each way\n", argv[1], argv[2], argv[3], argv[4], argv[5]);
    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) continue;
        int server = connect_to(argv[3], atoi(argv[4]));
        if (server < 0) { close(client); continue; }
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct pair *p = malloc(sizeof *p);
        if (!p) abort();
        *p = (struct pair){client, server, delay_ns};
        pthread_t thread;
        pthread_create(&thread, NULL, relay, p);
        pthread_detach(thread);
    }
}
