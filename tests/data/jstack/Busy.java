import java.util.concurrent.*;
import java.util.concurrent.locks.*;

/** A small program to record jstack dumps from: busy threads with distinct names, plus sleeping,
 *  waiting, parked and blocked ones. */
public class Busy {
    static volatile long sink;
    static final Object lock = new Object();

    static long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

    static void spinHash() {
        long h = 0;
        for (int i = 0; i < 1_000_000; i++) h = h * 31 + Long.hashCode(h ^ i);
        sink += h;
    }

    static void sortLoop() {
        java.util.Random r = new java.util.Random(1);
        int[] a = new int[20_000];
        for (int i = 0; i < a.length; i++) a[i] = r.nextInt();
        java.util.Arrays.sort(a);
        sink += a[0];
    }

    static void strings() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 2000; i++) sb.append(i).append(',');
        sink += sb.toString().split(",").length;
    }

    static Thread start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    public static void main(String[] args) throws Exception {
        start("fib-worker-1", () -> { while (true) sink += fib(30); });
        start("fib-worker-2", () -> { while (true) sink += fib(28); });
        start("hasher", () -> { while (true) spinHash(); });
        start("sorter-7", () -> { while (true) sortLoop(); });
        start("string-builder", () -> { while (true) strings(); });
        start("sleeper-1", () -> { while (true) { try { Thread.sleep(10_000); } catch (InterruptedException e) { } } });
        start("waiter", () -> { synchronized (lock) { while (true) { try { lock.wait(); } catch (InterruptedException e) { } } } });
        start("parker", () -> { while (true) LockSupport.park(); });
        ExecutorService pool = Executors.newFixedThreadPool(2);
        pool.submit(() -> { while (true) sink += fib(25); });
        BlockingQueue<Integer> q = new LinkedBlockingQueue<>();
        start("queue-taker", () -> { while (true) { try { q.take(); } catch (InterruptedException e) { } } });
        Thread.sleep(Long.MAX_VALUE);
    }
}
