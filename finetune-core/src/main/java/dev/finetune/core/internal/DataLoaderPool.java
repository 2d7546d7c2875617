package dev.finetune.core.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed pool of daemon threads that read and transform batches ahead of the training thread
 * through DJL's prefetching iterator ({@code RandomAccessDataset.getData(manager, executor)}).
 * Each pass over a dataset reads through an {@link Epoch}, whose close cancels the batches not yet
 * started and waits for those being read, so that the manager holding them can be closed safely.
 */
public final class DataLoaderPool implements AutoCloseable {

    /** The name of every worker thread starts with this. */
    public static final String THREAD_NAME_PREFIX = "finetune-data-loader-";

    private static final AtomicInteger POOLS = new AtomicInteger();

    private final ExecutorService pool;
    private final int threads;
    private final java.util.List<Thread> workers = new java.util.concurrent.CopyOnWriteArrayList<>();

    /**
     * Starts the worker threads.
     *
     * @param threads the number of workers, at least 1
     */
    public DataLoaderPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("A data loader pool needs at least 1 thread, got " + threads + ".");
        }
        this.threads = threads;
        int id = POOLS.incrementAndGet();
        AtomicInteger count = new AtomicInteger();
        pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, THREAD_NAME_PREFIX + id + "-" + count.incrementAndGet());
            t.setDaemon(true);
            workers.add(t);
            return t;
        });
    }

    /** @return the number of worker threads */
    public int threads() {
        return threads;
    }

    /**
     * Opens one pass over a dataset: give the returned executor to {@code getData(manager,
     * executor)} and close it before the manager.
     *
     * @return the pass's executor
     */
    public Epoch epoch() {
        return new Epoch(pool);
    }

    /** Stops the workers and waits for them to end (a read in progress finishes first). */
    @Override
    public void close() {
        pool.shutdownNow();
        boolean interrupted = Thread.interrupted();
        try {
            while (true) {
                try {
                    if (pool.awaitTermination(1, TimeUnit.MINUTES)) {
                        for (Thread t : workers) {
                            t.join(); // terminated pools may still have threads on their way out
                        }
                        return;
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * One pass's view of the pool: it tracks the reads it submitted so that {@link #close()} can
     * cancel those not started and wait for those running. Used by one reading thread.
     */
    public static final class Epoch extends AbstractExecutorService implements AutoCloseable {
        private final ExecutorService pool;
        private final List<Future<?>> submitted = new ArrayList<>();
        private final Object lock = new Object();
        private int running;
        private boolean closed;

        private Epoch(ExecutorService pool) {
            this.pool = pool;
        }

        @Override
        protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
            FutureTask<T> task = new FutureTask<>(callable);
            submitted.removeIf(Future::isDone);
            submitted.add(task);
            return task;
        }

        @Override
        protected <T> RunnableFuture<T> newTaskFor(Runnable runnable, T value) {
            return newTaskFor(java.util.concurrent.Executors.callable(runnable, value));
        }

        @Override
        public void execute(Runnable command) {
            synchronized (lock) {
                if (closed) {
                    throw new RejectedExecutionException("This pass over the data is closed.");
                }
                running++;
            }
            try {
                pool.execute(() -> {
                    try {
                        command.run();
                    } finally {
                        finished();
                    }
                });
            } catch (RejectedExecutionException e) {
                finished();
                throw e;
            }
        }

        private void finished() {
            synchronized (lock) {
                running--;
                lock.notifyAll();
            }
        }

        /** Cancels the reads not started and waits for the running ones, keeping the interrupt flag. */
        @Override
        public void close() {
            synchronized (lock) {
                closed = true;
            }
            for (Future<?> f : submitted) {
                f.cancel(false);
            }
            boolean interrupted = false;
            synchronized (lock) {
                while (running > 0) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void shutdown() {
            close();
        }

        @Override
        public List<Runnable> shutdownNow() {
            close();
            return List.of();
        }

        @Override
        public boolean isShutdown() {
            synchronized (lock) {
                return closed;
            }
        }

        @Override
        public boolean isTerminated() {
            synchronized (lock) {
                return closed && running == 0;
            }
        }

        @Override
        public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
            long end = System.nanoTime() + unit.toNanos(timeout);
            synchronized (lock) {
                while (running > 0) {
                    long left = end - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                }
                return closed;
            }
        }
    }
}
