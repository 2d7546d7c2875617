package dev.finetune.examples.assertions;

import dev.finetune.core.result.FineTuneResult;

/** Entry point of the custom assertions: {@code import static ...FineTuneAssertions.assertThat}. */
public final class FineTuneAssertions {

    private FineTuneAssertions() {}

    /**
     * @param result a fine-tune result
     * @return its assertions
     */
    public static FineTuneResultAssert assertThat(FineTuneResult result) {
        return new FineTuneResultAssert(result);
    }
}
