package dev.finetune.core.checkpoint;

import java.io.IOException;

/**
 * What {@link Checkpoint#writeAtomically} runs between writing a file's bytes to its temporary
 * sibling and forcing them to disk: nothing in the library; a pause or a failure in the tests that
 * kill a run mid-write or fill the disk (a package-private seam, never configured from outside).
 */
@FunctionalInterface
interface WriteHook {

    /** The library's hook: does nothing. */
    WriteHook NONE = () -> {};

    /**
     * Runs after the content is written and flushed, before it is forced and moved in place.
     *
     * @throws IOException to fail the write (the destination is left untouched)
     */
    void beforeForce() throws IOException;
}
