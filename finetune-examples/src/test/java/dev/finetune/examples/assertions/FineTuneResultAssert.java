package dev.finetune.examples.assertions;

import dev.finetune.core.advice.Diagnosis;
import dev.finetune.core.result.EpochMetrics;
import dev.finetune.core.result.FineTuneResult;

import org.assertj.core.api.AbstractAssert;

import java.util.List;
import java.util.Locale;

/**
 * AssertJ assertions on a fine-tune result, for host applications' tests:
 * {@code assertThat(result).reachedValidationAccuracy(0.6).improvedOnItsFirstEpoch().hasNoFinding(OVERFITTING)}.
 */
public final class FineTuneResultAssert extends AbstractAssert<FineTuneResultAssert, FineTuneResult> {

    FineTuneResultAssert(FineTuneResult actual) {
        super(actual, FineTuneResultAssert.class);
    }

    /**
     * @param accuracy the least acceptable validation accuracy of the best epoch
     * @return this
     */
    public FineTuneResultAssert reachedValidationAccuracy(double accuracy) {
        isNotNull();
        double best = actual.bestEpoch().validationAccuracy();
        if (best < accuracy) {
            failWithMessage("Expected a best validation accuracy of at least %.3f but the best epoch (%d) reached %.3f%n%s",
                    accuracy, actual.bestEpoch().epoch(), best, actual);
        }
        return this;
    }

    /** @return this, when the best epoch's validation accuracy beats the first epoch's */
    public FineTuneResultAssert improvedOnItsFirstEpoch() {
        isNotNull();
        EpochMetrics first = actual.epochs().get(0);
        if (actual.bestEpoch().validationAccuracy() <= first.validationAccuracy()) {
            failWithMessage("Expected validation accuracy to improve on epoch 1 (%.3f) but the best was %.3f",
                    first.validationAccuracy(), actual.bestEpoch().validationAccuracy());
        }
        return this;
    }

    /**
     * @param stage 0-based stage index
     * @param values the most values the stage may train (e.g. the head's size for head-only)
     * @return this
     */
    public FineTuneResultAssert trainedAtMost(int stage, long values) {
        isNotNull();
        long trained = actual.trainableParameters(stage);
        if (trained > values) {
            failWithMessage("Expected stage %d to train at most %d values but it trained %d", stage + 1, values, trained);
        }
        return this;
    }

    /**
     * @param kinds findings that must not be diagnosed
     * @return this
     */
    public FineTuneResultAssert hasNoFinding(Diagnosis.Kind... kinds) {
        isNotNull();
        List<Diagnosis.Finding> findings = Diagnosis.of(actual);
        for (Diagnosis.Finding f : findings) {
            for (Diagnosis.Kind k : kinds) {
                if (f.kind() == k) {
                    failWithMessage("Expected no %s finding but: %s", k.name().toLowerCase(Locale.ROOT), f.words());
                }
            }
        }
        return this;
    }
}
