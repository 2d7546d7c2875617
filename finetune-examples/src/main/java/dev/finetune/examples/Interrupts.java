package dev.finetune.examples;

import java.time.Duration;

/**
 * Ctrl-C for the example programs: a shutdown hook interrupts the thread that installed it and
 * waits (bounded) for it to finish, so that a running fine-tune stops at a step boundary with a
 * {@code TrainingInterruptedException}, keeps its best checkpoint and closes its native resources
 * before the JVM exits.
 */
public final class Interrupts {

    /** How long a Ctrl-C waits for the interrupted program to finish before the JVM exits anyway. */
    public static final Duration DEFAULT_WAIT = Duration.ofSeconds(30);

    /** Set by a hook when it runs: the JVM is shutting down (Ctrl-C) and sets its own exit status. */
    private static volatile boolean shuttingDown;

    private Interrupts() {}

    /**
     * Ends a program's {@code main} with an exit status, as {@code System.exit} would, except where
     * that would hang: after a Ctrl-C the JVM is already shutting down with status 130, and
     * {@code System.exit} would block until the hook gave up waiting for this thread. Status 0
     * returns, and the JVM ends as after any {@code main}.
     *
     * @param status the program's exit status
     */
    public static void exit(int status) {
        if (status != 0 && !shuttingDown) {
            System.exit(status);
        }
    }

    /**
     * Installs the hook for the calling thread with the default wait.
     *
     * @return the installed hook; close it when the work is done (try-with-resources)
     */
    public static Handle stopOnCtrlC() {
        return stopOnCtrlC(DEFAULT_WAIT);
    }

    /**
     * Installs the hook for the calling thread.
     *
     * @param wait how long the hook waits for the thread after interrupting it
     * @return the installed hook; close it when the work is done (try-with-resources)
     */
    public static Handle stopOnCtrlC(Duration wait) {
        Handle handle = new Handle(Thread.currentThread(), wait);
        Runtime.getRuntime().addShutdownHook(handle.hook);
        return handle;
    }

    /**
     * An installed Ctrl-C hook. Closing it removes the hook; call {@code System.exit} only after
     * closing it, or the hook waits for the exiting thread until the bound.
     */
    public static final class Handle implements AutoCloseable {
        private final Thread worker;
        private final Thread hook;
        private volatile boolean done;

        private Handle(Thread worker, Duration wait) {
            this.worker = worker;
            this.hook = new Thread(() -> {
                shuttingDown = true;
                if (done || !worker.isAlive()) {
                    return;
                }
                System.err.println("Ctrl-C: stopping " + worker.getName() + " at the next step boundary (waiting up to "
                        + wait.toSeconds() + " s)");
                worker.interrupt();
                try {
                    worker.join(wait.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                if (worker.isAlive()) {
                    System.err.println("Ctrl-C: " + worker.getName() + " did not stop within " + wait.toSeconds()
                            + " s; exiting anyway");
                }
            }, "ctrl-c-" + worker.getName());
        }

        /** Removes the hook; a no-op while the JVM is already shutting down. */
        @Override
        public void close() {
            done = true;
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it is waiting for this thread, which is about to finish
            }
        }
    }
}
