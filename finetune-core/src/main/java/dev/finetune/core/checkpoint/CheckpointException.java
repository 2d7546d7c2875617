package dev.finetune.core.checkpoint;

import java.io.IOException;

/** A checkpoint could not be written or read; the message says which file and what to do. */
public class CheckpointException extends IOException {

    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong and what to do
     */
    public CheckpointException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong and what to do
     * @param cause the underlying failure
     */
    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
