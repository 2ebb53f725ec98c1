/*
 * The cheapest wake-up this machine offers: a C process that sleeps in nanosleep() at HZ and does
 * nothing else, for SECONDS. Prints {"hz":..,"wakes":..,"usPerWake":..}: the thread's on-CPU time
 * (/proc/thread-self/schedstat, ns) per wake-up, kernel scheduling in and out included. The
 * sampler bench compares a Node timer and the sampler's tick with it (bench/sampler-cost.ts).
 * Build: cc -O2 -o wake-floor wake-floor.c    Run: ./wake-floor HZ SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double on_cpu_ns(void) {
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  double ns = -1;
  if (!f) return -1;
  if (fscanf(f, "%lf", &ns) != 1) ns = -1;
  fclose(f);
  return ns;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: wake-floor HZ SECONDS\n");
    return 2;
  }
  double hz = atof(argv[1]), seconds = atof(argv[2]);
  if (!(hz > 0 && hz <= 1000) || !(seconds > 0 && seconds <= 600)) {
    fprintf(stderr, "wake-floor: HZ must be in (0, 1000] and SECONDS in (0, 600]\n");
    return 2;
  }
  long period_ns = (long)(1e9 / hz);
  struct timespec period = {period_ns / 1000000000L, period_ns % 1000000000L};
  int wakes = (int)(hz * seconds);
  nanosleep(&period, NULL); /* the first wake-up pays for loading the program */
  double before = on_cpu_ns();
  for (int i = 0; i < wakes; i++) nanosleep(&period, NULL);
  double after = on_cpu_ns();
  if (before < 0 || after < 0) {
    fprintf(stderr, "wake-floor: /proc/thread-self/schedstat is not readable (kernel without schedstats?)\n");
    return 1;
  }
  printf("{\"hz\":%g,\"wakes\":%d,\"usPerWake\":%.3f}\n", hz, wakes, (after - before) / 1000.0 / wakes);
  return 0;
}
