package dev.finetune.core.compare;

import java.util.Objects;

/**
 * One candidate with one seed whose run failed, for example because its loss diverged. The report
 * lists it as failed, with its reason, and leaves it out of every mean and standard deviation and of
 * the choice of the best candidate; the other runs of the comparison are unaffected.
 *
 * @param candidate the candidate's name
 * @param seed the seed
 * @param reason what failed, naming the candidate and the seed, then the exception's type and message
 * @param error the exception the run threw (its type, message and stack trace)
 * @param wallSeconds the time from the start of the fit until it failed
 */
public record FailedRun(String candidate, long seed, String reason, RuntimeException error, double wallSeconds) {

    /**
     * Checks that the run is named and has its error.
     *
     * @param candidate the candidate's name
     * @param seed the seed
     * @param reason what failed, naming the candidate and the seed, then the exception's type and message
     * @param error the exception the run threw (its type, message and stack trace)
     * @param wallSeconds the time from the start of the fit until it failed
     */
    public FailedRun {
        Objects.requireNonNull(candidate, "candidate");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(error, "error");
    }

    /**
     * @param candidate the candidate's name
     * @param seed the seed
     * @param error what the run threw
     * @param wallSeconds the time until it failed
     * @return the failed run, its reason built from the candidate, the seed and the error
     */
    public static FailedRun of(String candidate, long seed, RuntimeException error, double wallSeconds) {
        String message = error.getMessage() == null || error.getMessage().isBlank()
                ? "(no message)" : error.getMessage();
        return new FailedRun(candidate, seed, "Candidate '" + candidate + "' with seed " + seed + " failed: "
                + error.getClass().getSimpleName() + ": " + message, error, wallSeconds);
    }
}
