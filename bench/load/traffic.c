/*
 * The echo and broadcast scenarios' load generator, in C. Against the fastest servers
 * (uWebSockets.js, the raw node:net ceiling) the Node load generator (client.mjs) used
 * 90-98% of its core in echo-small, echo-16k, echo-1m and broadcast: it, not the server,
 * set the pace, and the ratios against those servers measured the load generator. This
 * does what client.mjs's echoWorkload and broadcastWorkload do, on one thread with epoll,
 * spending its CPU on system calls rather than on per-message work:
 *
 * - echo: CONNECTIONS connections on PATH, DEPTH messages in flight on each; one new
 *   message for each echo received, written together (one write per chunk read).
 * - broadcast: CONNECTIONS receivers on PATH; the first also publishes, with at most DEPTH
 *   broadcasts in flight: the next goes out when the oldest has reached every receiver.
 *   Every delivery counts.
 *
 * Messages are SIZE bytes of a..z (valid UTF-8 for text frames), masked as RFC 6455 §5.3
 * requires of a client with a fresh key from getrandom() per frame of a ring of RING
 * frames, masked once at start and written again and again. What comes back is parsed
 * from its headers (§5.2; payloads are skipped, not copied), and a message counts at its
 * final frame (§5.4: a fragmented one is one message). Every message's length and opcode
 * are checked, and the bytes of each connection's first message: one that is wrong
 * counts as an error, not a message, so a broken server cannot look fast.
 *
 * `raw` (the net ceiling, bench/servers/net-echo.mjs): no opening handshake, the frames
 * go out on bare TCP and come back as they were sent, masked (client.mjs does the same);
 * closing is a FIN instead of a close frame.
 *
 * usage: traffic echo|broadcast PORT CONNECTIONS DEPTH SIZE text|binary ws|raw PATH KEY ACCEPT
 *
 * Connections are opened OPEN_CONCURRENCY at a time, each checked for its 101 and
 * Sec-WebSocket-Accept (§4.1); once all are, stdout says "ready CONNECTIONS" and traffic
 * starts; if that fails, or takes over 20 s, "error MESSAGE" and exit status 1. Then each
 * line on stdin is answered on stdout with "count bytes errors cpu_ms wait_ms" (totals so
 * far: messages, their payload bytes, errors, this process's CPU time, and its time
 * runnable but not running). End of stdin stops it: the frame being written is finished,
 * a close frame follows (§5.5.1), and it waits at most 5 s for the servers to close TCP
 * (§7.1.1: the server closes first), then exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "process-times.h"

/* As client.mjs: connections being opened at once (below the listen backlog), bounds in s. */
#define OPEN_CONCURRENCY 200
#define OPEN_TIMEOUT_S 20
#define CLOSE_TIMEOUT_S 5
/* Distinct mask keys: frames differ on the wire without being masked per send. */
#define RING 8
#define HEAD_MAX 4096
/* One read takes what a 1 MiB echo has buffered in a few calls, not dozens. */
#define READ_SIZE (256 * 1024)

enum mode { ECHO, BROADCAST };
enum state { WAITING, CONNECTING, HEAD, OPEN, CLOSING, DONE };

struct conn {
  int fd;
  enum state state;
  int polling_out; /* EPOLLOUT asked for: the kernel took less than was written */
  /* Output: `owed` frames still to write, from ring frame `at`, `partial` bytes of it out. */
  unsigned owed, at;
  size_t partial;
  int close_queued; /* stopping: a close frame (raw: FIN) goes after the frame being written */
  size_t close_written;
  /* Input: a header cut by the end of a read, and the frame being read. */
  unsigned char header[14];
  unsigned header_have;
  uint64_t left;   /* payload bytes of the frame still to come */
  uint64_t offset; /* payload bytes of the frame passed: where in the mask key the next is */
  unsigned char opcode, fin, masked, key[4];
  int in_message;          /* a data frame without FIN came: continuations follow (§5.4) */
  uint64_t message_length; /* payload bytes of the message, the current frame's included */
  int checking;            /* the first message: compared byte by byte */
  int bad;                 /* the message is wrong (its opcode or, when checked, its bytes) */
  unsigned long long messages;
  unsigned char *head; /* the handshake response so far */
  size_t head_have;
};

static enum mode mode;
static int raw, port, connections;
static unsigned depth;
static size_t size;
static unsigned char data_opcode;
static const char *accept_value;
static char request[1024];
static size_t request_length;
static struct sockaddr_in server;

static unsigned char *payload; /* what every message carries */
static unsigned char *ring;    /* RING + depth frames back to back: any `owed` run is contiguous */
static size_t frame_length;
static unsigned char close_frame[8];

static struct conn *conns;
static int epfd, running, stopping, active, opening, opened, next_open;
static unsigned *reached; /* broadcast: receivers that have broadcast k, at k % depth */
static unsigned to_send;  /* broadcast: completed broadcasts to replace, sent after each epoll batch */
static unsigned long long count, bytes, errors;
static unsigned char buffer[READ_SIZE];

static void fatal(const char *message, int n) {
  printf("error %s (%d of %d connections open)\n", message, n, connections);
  fflush(stdout);
  exit(1);
}

static void masked_frame(unsigned char *out, unsigned char opcode, const unsigned char *data, size_t length,
                         const unsigned char key[4]) {
  size_t at = 2;
  out[0] = 0x80 | opcode;
  if (length < 126) {
    out[1] = 0x80 | (unsigned char)length;
  } else if (length < 0x10000) {
    out[1] = 0x80 | 126;
    out[2] = (unsigned char)(length >> 8);
    out[3] = (unsigned char)length;
    at = 4;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (unsigned char)((uint64_t)length >> (56 - 8 * i));
    at = 10;
  }
  memcpy(out + at, key, 4);
  for (size_t i = 0; i < length; i++) out[at + 4 + i] = data[i] ^ key[i & 3];
}

/* §5.3: the key must be unpredictable; getrandom() is the kernel's CSPRNG. */
static void random_bytes(unsigned char *out, size_t length) {
  while (length > 0) {
    ssize_t n = getrandom(out, length, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      fatal("getrandom failed", 0);
    }
    out += n;
    length -= (size_t)n;
  }
}

static void build_frames(void) {
  payload = malloc(size ? size : 1);
  for (size_t i = 0; i < size; i++) payload[i] = (unsigned char)('a' + i % 26);
  frame_length = (size < 126 ? 2 : size < 0x10000 ? 4 : 10) + 4 + size;
  ring = malloc((RING + depth) * frame_length);
  if (payload == NULL || ring == NULL) fatal("out of memory", 0);
  unsigned char keys[RING + 1][4];
  random_bytes(&keys[0][0], sizeof keys);
  for (unsigned i = 0; i < RING; i++) masked_frame(ring + i * frame_length, data_opcode, payload, size, keys[i]);
  for (unsigned i = RING; i < RING + depth; i++) memcpy(ring + i * frame_length, ring + (i % RING) * frame_length, frame_length);
  static const unsigned char normal_closure[2] = {0x03, 0xe8}; /* 1000 (§7.4.1) */
  masked_frame(close_frame, 0x8, normal_closure, 2, keys[RING]);
}

static void poll_out(struct conn *c, int on) {
  if (c->polling_out == on) return;
  c->polling_out = on;
  struct epoll_event event = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &event);
}

static void finish(struct conn *c, int ok) {
  close(c->fd); /* also leaves the epoll set */
  c->state = DONE;
  active--;
  if (!ok) errors++;
}

/*
 * One send(2) of `length` bytes, retried on EINTR: the count sent, or -1 when the kernel
 * takes nothing now (EPOLLOUT is then awaited) or the connection failed (it is finished).
 */
static ssize_t send_some(struct conn *c, const unsigned char *data, size_t length) {
  for (;;) {
    ssize_t n = send(c->fd, data, length, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) poll_out(c, 1);
    else finish(c, 0);
    return -1;
  }
}

/*
 * Writes what is owed, as much as the kernel takes; what it does not take waits for
 * EPOLLOUT. When stopping, the close frame (raw: a FIN) follows the last frame.
 */
static void flush(struct conn *c) {
  while (c->owed > 0) {
    size_t length = c->owed * frame_length - c->partial;
    ssize_t n = send_some(c, ring + c->at * frame_length + c->partial, length);
    if (n < 0) return;
    size_t done = c->partial + (size_t)n;
    c->owed -= (unsigned)(done / frame_length);
    c->at = (unsigned)((c->at + done / frame_length) % RING);
    c->partial = done % frame_length;
    if ((size_t)n < length) {
      poll_out(c, 1); /* the send buffer is full: another try now would only get EAGAIN */
      return;
    }
  }
  if (c->close_queued) {
    if (raw) {
      shutdown(c->fd, SHUT_WR);
      c->close_queued = 0;
    } else {
      while (c->close_written < sizeof close_frame) {
        ssize_t n = send_some(c, close_frame + c->close_written, sizeof close_frame - c->close_written);
        if (n < 0) return;
        c->close_written += (size_t)n;
      }
      c->close_queued = 0;
    }
  }
  poll_out(c, 0);
}

/* Size of a frame header from its second byte (§5.2): length code and mask bit. */
static size_t header_size(unsigned char second) {
  unsigned code = second & 0x7f;
  return 2 + (code == 126 ? 2 : code == 127 ? 8 : 0) + (second & 0x80 ? 4 : 0);
}

/* Takes the header at `h` as the current frame's; -1: not a frame this server may send. */
static int begin_frame(struct conn *c, const unsigned char *h) {
  c->fin = h[0] >> 7;
  c->opcode = h[0] & 0x0f;
  c->masked = h[1] >> 7;
  if (h[0] & 0x70) return -1;          /* RSV1-3 with no extension agreed (§5.2) */
  if (c->masked && !raw) return -1;    /* a server never masks (§5.1); the raw echo does */
  uint64_t length = h[1] & 0x7f;
  size_t at = 2;
  if (length == 126) {
    length = ((uint64_t)h[2] << 8) | h[3];
    at = 4;
  } else if (length == 127) {
    length = 0;
    for (int i = 2; i < 10; i++) length = (length << 8) | h[i];
    at = 10;
  }
  if (c->masked) memcpy(c->key, h + at, 4);
  if (c->opcode >= 0x8) {
    if (c->opcode > 0xa || !c->fin || length > 125) return -1; /* control frames (§5.5) */
  } else if (c->opcode == 0) {
    if (!c->in_message) return -1; /* a continuation of nothing (§5.4) */
    c->message_length += length;
  } else {
    if (c->opcode > 0x2 || c->in_message) return -1; /* reserved opcode, or a message inside a message */
    c->in_message = 1;
    c->message_length = length;
    c->bad = c->opcode != data_opcode; /* an echo of text is text, of binary binary */
  }
  c->left = length;
  c->offset = 0;
  return 0;
}

/* The first message's bytes, compared with what was sent as they pass (unmasked if raw). */
static void check(struct conn *c, const unsigned char *data, size_t n) {
  uint64_t at = c->message_length - c->left; /* where data[0] is in the message */
  if (at + n > size) {
    c->bad = 1;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char byte = c->masked ? data[i] ^ c->key[(c->offset + i) & 3] : data[i];
    if (byte != payload[at + i]) {
      c->bad = 1;
      return;
    }
  }
}

/* The frame's last byte is in: 1 when it ended a message, -1 when the server closed on us. */
static int end_frame(struct conn *c) {
  if (c->opcode >= 0x8) {
    /* A close while running means the server refused something. Pings are not answered:
     * the servers here send none during a run, and a pong would cut into the frame ring. */
    return c->opcode == 0x8 && c->state != CLOSING ? -1 : 0;
  }
  if (!c->fin) return 0;
  c->in_message = 0;
  c->checking = 0;
  c->messages++;
  if (c->bad || c->message_length != size) {
    errors++;
  } else {
    count++;
    bytes += c->message_length;
  }
  return 1;
}

/* Parses a chunk of server frames; the number of messages it ended, -1: fail the connection. */
static int frames(struct conn *c, const unsigned char *data, size_t length) {
  int messages = 0;
  while (length > 0) {
    if (c->left > 0) {
      size_t take = c->left < length ? (size_t)c->left : length;
      if (c->checking && c->opcode < 0x8 && !c->bad) check(c, data, take);
      c->left -= take;
      c->offset += take;
      data += take;
      length -= take;
    } else {
      size_t need;
      const unsigned char *h;
      if (c->header_have == 0 && length >= 2 && length >= (need = header_size(data[1]))) {
        h = data; /* the usual case: the whole header is in this chunk, read in place */
        data += need;
        length -= need;
      } else {
        c->header[c->header_have++] = *data++;
        length--;
        if (c->header_have < 2 || c->header_have < header_size(c->header[1])) continue;
        h = c->header;
        c->header_have = 0;
      }
      if (begin_frame(c, h) < 0) return -1;
    }
    if (c->left == 0) {
      int ended = end_frame(c);
      if (ended < 0) return -1;
      messages += ended;
      if (mode == BROADCAST && ended) {
        unsigned slot = (unsigned)(c->messages % depth);
        if (++reached[slot] == (unsigned)connections) {
          reached[slot] = 0;
          to_send++;
        }
      }
    }
  }
  return messages;
}

static void start_traffic(void) {
  printf("ready %d\n", connections);
  fflush(stdout);
  running = 1;
  if (mode == ECHO) {
    for (int i = 0; i < connections; i++) {
      conns[i].owed = depth;
      flush(&conns[i]);
    }
  } else {
    conns[0].owed = depth;
    flush(&conns[0]);
  }
}

static void start_connect(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (c->fd < 0) fatal("socket() failed", opened);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as client.mjs's setNoDelay */
  if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS)
    fatal("connect() failed", opened);
  c->state = CONNECTING;
  struct epoll_event event = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &event);
  active++;
  opening++;
}

static void open_more(void) {
  while (opening < OPEN_CONCURRENCY && next_open < connections) start_connect(&conns[next_open++]);
}

static void now_open(struct conn *c) {
  c->state = OPEN;
  c->checking = 1;
  opening--;
  opened++;
  open_more();
  if (opened == connections) start_traffic();
}

static void connected(struct conn *c) {
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) fatal(strerror(error), opened);
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &event);
  if (raw) {
    now_open(c);
    return;
  }
  if (send(c->fd, request, request_length, MSG_NOSIGNAL) != (ssize_t)request_length) fatal("upgrade request not sent", opened);
  c->head = malloc(HEAD_MAX);
  if (c->head == NULL) fatal("out of memory", opened);
  c->head_have = 0;
  c->state = HEAD;
}

/* The response head (§4.1): a 101 with the expected Sec-WebSocket-Accept; frames may follow. */
static void head(struct conn *c, const unsigned char *data, size_t length) {
  if (c->head_have + length > HEAD_MAX) fatal("handshake response head too long", opened);
  memcpy(c->head + c->head_have, data, length);
  c->head_have += length;
  unsigned char *end = memmem(c->head, c->head_have, "\r\n\r\n", 4);
  if (end == NULL) return;
  size_t head_length = (size_t)(end + 4 - c->head);
  if (c->head_have < 13 || memcmp(c->head, "HTTP/1.1 101 ", 13) != 0) fatal("handshake refused", opened);
  if (memmem(c->head, head_length, accept_value, strlen(accept_value)) == NULL) fatal("wrong Sec-WebSocket-Accept", opened);
  /* The rest goes through `buffer` (free now: this chunk was copied into the head). */
  size_t rest = c->head_have - head_length;
  memcpy(buffer, c->head + head_length, rest);
  free(c->head);
  c->head = NULL;
  now_open(c);
  if (rest > 0 && frames(c, buffer, rest) < 0) fatal("bad frames after the handshake", opened);
}

static void readable(struct conn *c) {
  ssize_t n = read(c->fd, buffer, sizeof buffer);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (c->state == HEAD) fatal(strerror(errno), opened);
    finish(c, 0);
    return;
  }
  if (n == 0) {
    if (c->state == HEAD) fatal("closed during the handshake", opened);
    finish(c, c->state == CLOSING); /* before we closed: the server gave up on us */
    return;
  }
  if (c->state == HEAD) {
    head(c, buffer, (size_t)n);
    return;
  }
  int messages = frames(c, buffer, (size_t)n);
  if (messages < 0) {
    finish(c, 0);
    return;
  }
  if (mode != ECHO || messages == 0 || c->state != OPEN || !running) return;
  if (c->owed + (unsigned)messages > depth) {
    finish(c, 0); /* more echoes than messages sent */
    return;
  }
  c->owed += (unsigned)messages;
  if (!c->polling_out) flush(c);
}

static void stop(void) {
  stopping = 1;
  running = 0;
  if (opened < connections) exit(0); /* the parent gave up during setup */
  for (int i = 0; i < connections; i++) {
    struct conn *c = &conns[i];
    if (c->state != OPEN) continue;
    c->state = CLOSING;
    c->owed = c->partial > 0; /* finish the frame on the wire, no more */
    c->close_queued = 1;
    if (!c->polling_out) flush(c);
  }
}

static void report(void) {
  double wait_ms;
  double cpu_ms = process_times(&wait_ms);
  printf("%llu %llu %llu %.3f %.3f\n", count, bytes, errors, cpu_ms, wait_ms);
  fflush(stdout);
}

static double seconds_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *usage = "usage: traffic echo|broadcast PORT CONNECTIONS DEPTH SIZE text|binary ws|raw PATH KEY ACCEPT\n";
  if (argc != 11) {
    fputs(usage, stderr);
    return 2;
  }
  mode = strcmp(argv[1], "broadcast") == 0 ? BROADCAST : ECHO;
  port = atoi(argv[2]);
  connections = atoi(argv[3]);
  long depth_arg = atol(argv[4]);
  long long size_arg = atoll(argv[5]);
  data_opcode = strcmp(argv[6], "binary") == 0 ? 0x2 : 0x1;
  raw = strcmp(argv[7], "raw") == 0;
  accept_value = argv[10];
  if ((strcmp(argv[1], "echo") != 0 && mode != BROADCAST) || port <= 0 || port > 65535 || connections <= 0 ||
      connections > 100000 || depth_arg <= 0 || depth_arg > 4096 || size_arg < 0 || size_arg > (64 << 20) ||
      (raw && mode == BROADCAST)) {
    fputs(usage, stderr);
    return 2;
  }
  depth = (unsigned)depth_arg;
  size = (size_t)size_arg;
  request_length = (size_t)snprintf(request, sizeof request,
                                    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                                    "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                    argv[8], port, argv[9]);
  if (request_length >= sizeof request) {
    fputs("traffic: PATH or KEY too long\n", stderr);
    return 2;
  }
  server.sin_family = AF_INET;
  server.sin_port = htons((unsigned short)port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  signal(SIGPIPE, SIG_IGN); /* a write to a connection the server reset: an error, not our end */

  build_frames();
  conns = calloc((size_t)connections, sizeof *conns);
  reached = calloc(depth, sizeof *reached);
  if (conns == NULL || reached == NULL) fatal("out of memory", 0);
  /* One descriptor per connection: raise the soft limit as far as the hard one allows. */
  struct rlimit files;
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (rlim_t)connections + 16) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  epfd = epoll_create1(0);
  struct epoll_event input = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &input);

  double open_deadline = seconds_now() + OPEN_TIMEOUT_S;
  double close_deadline = 0;
  open_more();
  struct epoll_event events[512];
  for (;;) {
    int n = epoll_wait(epfd, events, 512, 100);
    if (n < 0 && errno != EINTR) fatal("epoll_wait failed", opened);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c == NULL) {
        char line[256];
        ssize_t got = read(STDIN_FILENO, line, sizeof line);
        if (got <= 0) {
          epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
          stop();
          close_deadline = seconds_now() + CLOSE_TIMEOUT_S;
          continue;
        }
        for (ssize_t j = 0; j < got; j++)
          if (line[j] == '\n') report();
        continue;
      }
      if (c->state == DONE) continue;
      if (c->state == CONNECTING) {
        connected(c);
        continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(c);
      if ((events[i].events & EPOLLOUT) && c->polling_out && (c->state == OPEN || c->state == CLOSING)) flush(c);
    }
    /* Batched like client.mjs's nextTick flush: every broadcast completed in this batch in one write. */
    if (to_send > 0 && running && conns[0].state == OPEN) {
      if (conns[0].owed + to_send > depth) {
        finish(&conns[0], 0); /* more deliveries than broadcasts sent */
      } else {
        conns[0].owed += to_send;
        if (!conns[0].polling_out) flush(&conns[0]);
      }
    }
    to_send = 0;
    if (stopping) {
      if (active == 0 || seconds_now() > close_deadline) break;
    } else if (opened < connections && seconds_now() > open_deadline) {
      fatal("connections not open in time", opened);
    }
  }
  report();
  return 0;
}
