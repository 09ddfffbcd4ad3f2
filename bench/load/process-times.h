/*
 * What the C load generators report about themselves, for bench/run.mjs's CPU and noise
 * columns: CPU time (user + system) and time spent runnable but not running (the run
 * queue wait, /proc/self/schedstat's second field), both in milliseconds so far.
 */
#include <stdio.h>
#include <sys/resource.h>

static double milliseconds(struct timeval time) { return time.tv_sec * 1e3 + time.tv_usec / 1e3; }

/* The CPU time so far; *wait_ms the run-queue wait, -1 where schedstat is unavailable. */
static double process_times(double *wait_ms) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  *wait_ms = -1;
  FILE *schedstat = fopen("/proc/self/schedstat", "r");
  if (schedstat != NULL) {
    unsigned long long running, waiting;
    if (fscanf(schedstat, "%llu %llu", &running, &waiting) == 2) *wait_ms = waiting / 1e6;
    fclose(schedstat);
  }
  return milliseconds(usage.ru_utime) + milliseconds(usage.ru_stime);
}
