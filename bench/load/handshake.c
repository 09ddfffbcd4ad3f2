/*
 * The handshake scenario's load generator, in C. Node's client side of a connection (its
 * socket object, streams and events) costs about as much CPU per handshake as the fastest
 * Node server spends, so a load generator written in Node, not the server, set the pace
 * (a bare node:net "handshake" server was only ~10% faster than wsraw against it). This
 * does what client.mjs's oneHandshake does, on CONCURRENCY lanes: connect, send the
 * upgrade request, check the 101 and its Sec-WebSocket-Accept, send a masked close frame,
 * read the server's close frame, wait for the server to close TCP (RFC 6455 §7.1.1: the
 * server closes first), close, start again. A handshake counts when all of that happened.
 *
 * usage: handshake PORT CONCURRENCY PATH KEY ACCEPT
 * Each line on stdin is answered on stdout with "count errors cpu_ms wait_ms" (totals so
 * far; wait = time runnable but not running). End of stdin stops it: lanes finish what
 * they started, for at most 5 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "process-times.h"

enum state { IDLE, CONNECTING, HEAD, FRAMES };

struct lane {
  int fd;
  enum state state;
  int got_close;
  /* HEAD: the response head so far. FRAMES: the header of the frame being read. */
  unsigned char buf[4096];
  size_t have;
  unsigned long long skip; /* payload bytes of the current frame still to skip */
};

static struct sockaddr_in server;
static char request[1024];
static size_t request_length;
static const char *accept_value;
/* A masked close frame with code 1000 (RFC 6455 §5.5.1), mask 11 22 33 44. */
static const unsigned char close_frame[8] = {0x88, 0x82, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11, 0xe8 ^ 0x22};
static unsigned long long count, errors;
static int epfd, stopping, active;

static void start(struct lane *lane) {
  lane->state = IDLE;
  lane->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lane->fd < 0) {
    errors++;
    return;
  }
  if (connect(lane->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS) {
    close(lane->fd);
    errors++;
    return; /* retried by the main loop */
  }
  lane->state = CONNECTING;
  lane->got_close = 0;
  lane->have = 0;
  lane->skip = 0;
  struct epoll_event event = {.events = EPOLLOUT, .data.ptr = lane};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lane->fd, &event);
  active++;
}

static void finish(struct lane *lane, int ok) {
  close(lane->fd); /* also leaves the epoll set */
  lane->state = IDLE;
  active--;
  if (ok)
    count++;
  else
    errors++;
  if (!stopping) start(lane);
}

/* Reads frame headers only and skips payloads; notes the close frame. 0: not a server's frame. */
static int frames(struct lane *lane, const unsigned char *data, size_t length) {
  while (length > 0) {
    if (lane->skip > 0) {
      size_t take = lane->skip < length ? (size_t)lane->skip : length;
      lane->skip -= take;
      data += take;
      length -= take;
      continue;
    }
    lane->buf[lane->have++] = *data++;
    length--;
    if (lane->have < 2) continue;
    if (lane->buf[1] & 0x80) return 0; /* a server's frames are not masked (§5.1) */
    unsigned lengthCode = lane->buf[1] & 0x7f;
    size_t header = lengthCode == 126 ? 4 : lengthCode == 127 ? 10 : 2;
    if (lane->have < header) continue;
    unsigned long long payload = lengthCode;
    if (lengthCode == 126) payload = (lane->buf[2] << 8) | lane->buf[3];
    if (lengthCode == 127) {
      payload = 0;
      for (int i = 2; i < 10; i++) payload = (payload << 8) | lane->buf[i];
    }
    if ((lane->buf[0] & 0x0f) == 0x8) lane->got_close = 1;
    lane->skip = payload;
    lane->have = 0;
  }
  return 1;
}

/* The response head: a 101 with the expected accept value, then the close frame goes out. */
static int head(struct lane *lane, const unsigned char *data, size_t length) {
  if (lane->have + length > sizeof lane->buf) return 0;
  memcpy(lane->buf + lane->have, data, length);
  lane->have += length;
  unsigned char *end = memmem(lane->buf, lane->have, "\r\n\r\n", 4);
  if (end == NULL) return 1;
  size_t headLength = (size_t)(end + 4 - lane->buf);
  if (memcmp(lane->buf, "HTTP/1.1 101 ", 13) != 0) return 0;
  if (memmem(lane->buf, headLength, accept_value, strlen(accept_value)) == NULL) return 0;
  if (write(lane->fd, close_frame, sizeof close_frame) != (ssize_t)sizeof close_frame) return 0;
  unsigned char rest[sizeof lane->buf];
  size_t restLength = lane->have - headLength;
  memcpy(rest, lane->buf + headLength, restLength);
  lane->state = FRAMES;
  lane->have = 0;
  return frames(lane, rest, restLength);
}

static void ready(struct lane *lane) {
  if (lane->state == CONNECTING) {
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(lane->fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0 || write(lane->fd, request, request_length) != (ssize_t)request_length) {
      finish(lane, 0);
      return;
    }
    lane->state = HEAD;
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = lane};
    epoll_ctl(epfd, EPOLL_CTL_MOD, lane->fd, &event);
    return;
  }
  unsigned char chunk[16384];
  for (;;) {
    ssize_t n = read(lane->fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      finish(lane, 0);
      return;
    }
    if (n == 0) {
      finish(lane, lane->state == FRAMES && lane->got_close);
      return;
    }
    int ok = lane->state == HEAD ? head(lane, chunk, (size_t)n) : frames(lane, chunk, (size_t)n);
    if (!ok) {
      finish(lane, 0);
      return;
    }
  }
}

static void report(void) {
  double wait_ms;
  double cpu_ms = process_times(&wait_ms);
  printf("%llu %llu %.3f %.3f\n", count, errors, cpu_ms, wait_ms);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: handshake PORT CONCURRENCY PATH KEY ACCEPT\n");
    return 2;
  }
  int port = atoi(argv[1]);
  int concurrency = atoi(argv[2]);
  accept_value = argv[5];
  if (port <= 0 || port > 65535 || concurrency <= 0 || concurrency > 4096) {
    fprintf(stderr, "handshake: bad port or concurrency\n");
    return 2;
  }
  request_length = (size_t)snprintf(request, sizeof request,
                                    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                    argv[3], port, argv[4]);
  server.sin_family = AF_INET;
  server.sin_port = htons((unsigned short)port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  epfd = epoll_create1(0);
  struct epoll_event input = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &input);
  struct lane *lanes = calloc((size_t)concurrency, sizeof *lanes);
  for (int i = 0; i < concurrency; i++) start(&lanes[i]);

  struct epoll_event events[256];
  struct timespec deadline = {0, 0};
  for (;;) {
    int n = epoll_wait(epfd, events, 256, 100);
    for (int i = 0; i < n; i++) {
      struct lane *lane = events[i].data.ptr;
      if (lane != NULL) {
        ready(lane);
        continue;
      }
      char line[256];
      ssize_t got = read(STDIN_FILENO, line, sizeof line);
      if (got <= 0) {
        stopping = 1;
        epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 5;
        continue;
      }
      for (ssize_t j = 0; j < got; j++)
        if (line[j] == '\n') report();
    }
    if (stopping) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (active == 0 || now.tv_sec > deadline.tv_sec) break;
    } else {
      for (int i = 0; i < concurrency; i++)
        if (lanes[i].state == IDLE) start(&lanes[i]); /* a connect that failed at once */
    }
  }
  report();
  return 0;
}
