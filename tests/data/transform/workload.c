// flamefold test workload: sleeps, waits on a pipe, a lock, and fsync.
#define _GNU_SOURCE
#include <pthread.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fds[2];

__attribute__((noinline)) static void do_sleep(void) { usleep(20000); }
__attribute__((noinline)) static void burn(int n) { volatile unsigned long x = 0; for (long i = 0; i < n * 100000L; i++) x += i; }

__attribute__((noinline)) static void pipe_reader(void) {
    char b[8];
    for (int i = 0; i < 5; i++) { if (read(fds[0], b, 1) != 1) break; }
}
__attribute__((noinline)) static void pipe_writer(void) {
    for (int i = 0; i < 5; i++) { usleep(5000); burn(2); if (write(fds[1], "x", 1) != 1) break; }
}
static void *reader_thread(void *a) { (void)a; pipe_reader(); return NULL; }

__attribute__((noinline)) static void lock_holder(void) {
    pthread_mutex_lock(&lock); usleep(15000); burn(3); pthread_mutex_unlock(&lock);
}
__attribute__((noinline)) static void lock_waiter(void) {
    usleep(2000); pthread_mutex_lock(&lock); burn(1); pthread_mutex_unlock(&lock);
}
static void *waiter_thread(void *a) { (void)a; lock_waiter(); return NULL; }

__attribute__((noinline)) static void do_fsync(void) {
    int fd = open("/tmp/tfwork/fsync.dat", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    char buf[4096]; memset(buf, 'a', sizeof buf);
    for (int i = 0; i < 3; i++) { if (write(fd, buf, sizeof buf) < 0) break; fsync(fd); }
    close(fd);
}

int main(void) {
    if (pipe(fds)) return 1;
    pthread_t r, w;
    pthread_create(&r, NULL, reader_thread, NULL);
    pipe_writer();
    pthread_join(r, NULL);
    pthread_create(&w, NULL, waiter_thread, NULL);
    lock_holder();
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++) do_sleep();
    do_fsync();
    burn(300);
    return 0;
}
