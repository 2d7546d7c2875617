package dev.finetune.core.compare;

import dev.finetune.core.stage.Stage;

import java.util.List;

/**
 * One strategy under comparison: a name and the stages it runs.
 *
 * @param name a short name for tables and charts
 * @param stages the plan
 */
public record Candidate(String name, List<Stage> stages) {
    /**
     * Copies the stages and checks there is at least one.
     *
     * @param name a short name for tables and charts
     * @param stages the plan
     */
    public Candidate {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("A candidate needs a name.");
        }
        stages = List.copyOf(stages);
        if (stages.isEmpty()) {
            throw new IllegalArgumentException("Candidate '" + name + "' has no stage.");
        }
    }

    /**
     * @param name the name
     * @param stages the plan
     * @return the candidate
     */
    public static Candidate of(String name, Stage... stages) {
        return new Candidate(name, List.of(stages));
    }

    /** @return epochs over all stages */
    public int epochs() {
        int n = 0;
        for (Stage s : stages) {
            n += s.epochs();
        }
        return n;
    }
}
