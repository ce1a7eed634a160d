/* A small CPU-bound program for perf.data tests: a few call paths through user code, libc
 * (qsort, memcpy via strlen-ish loops) and the kernel (getpid/write syscalls). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long leaf(unsigned long n) {
    unsigned long s = 0;
    for (unsigned long i = 0; i < n; i++) s += i * i ^ (s >> 3);
    return s;
}

__attribute__((noinline)) static void spin_a(void) { sink += leaf(200000); }
__attribute__((noinline)) static void spin_b(void) { sink += leaf(100000); spin_a(); }

static int cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

__attribute__((noinline)) void sorter(void) {
    static int v[4096];
    for (int i = 0; i < 4096; i++) v[i] = (i * 7919) % 4099;
    qsort(v, 4096, sizeof v[0], cmp);
    sink += v[100];
}

__attribute__((noinline)) void syscalls(void) {
    int fd = open("/dev/null", O_WRONLY);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 200; i++) {
        if (write(fd, buf, sizeof buf) < 0) break;
        sink += getppid();
    }
    close(fd);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 300;
    for (int r = 0; r < rounds; r++) {
        spin_a();
        spin_b();
        sorter();
        syscalls();
    }
    printf("%lu\n", sink);
    return 0;
}
