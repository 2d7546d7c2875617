package com.example.host;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import dev.finetune.core.FineTuner;
import dev.finetune.core.fixtures.FashionMnist;
import dev.finetune.core.fixtures.SourceModel;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 14, point 7: a class without training samples (a group split put its only group in
 * validation) trained without a warning, and a class without validation samples was never measured
 * without one. Both are now in {@link FineTuneResult#warnings()} (and the log).
 */
class DataCoverageTest {

    @Test
    void classesWithoutTrainingOrValidationSamplesAreNamedInTheWarnings() throws Exception {
        int[] classes = SourceModel.TARGET;
        List<String> names = FashionMnist.names(classes);
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var split = FashionMnist.train();
            // training: every class but the last; validation: every class but the first
            int[] trained = java.util.Arrays.copyOfRange(classes, 0, classes.length - 1);
            int[] measured = java.util.Arrays.copyOfRange(classes, 1, classes.length);
            var train = FashionMnist.dataset(data, split, FashionMnist.pick(split, trained, 10, 0, 3), classes, 10, true);
            var validation = FashionMnist.dataset(data, split, FashionMnist.pick(split, measured, 10, 10, 3), classes,
                    50, false);
            FineTuneResult r = FineTuner.from(model).replaceHead(classes.length).optProgress(false).optClassNames(names)
                    .stage(Stage.headOnly().withEpochs(1)).fit(train, validation);
            assertThat(r.warnings()).anySatisfy(w -> assertThat(w)
                    .contains("No training samples of class(es) [" + names.get(classes.length - 1) + "]"));
            assertThat(r.warnings()).anySatisfy(w -> assertThat(w)
                    .contains("No validation samples of class(es) [" + names.get(0) + "]"));
        }
    }

    @Test
    void fullCoverageGivesNoDataWarning() throws Exception {
        try (Model model = SourceModel.pretrained(); NDManager data = NDManager.newBaseManager()) {
            var sets = FashionMnist.trainVal(data, SourceModel.TARGET, 10, 10, 10, 3);
            FineTuneResult r = FineTuner.from(model).replaceHead(SourceModel.TARGET.length).optProgress(false)
                    .stage(Stage.headOnly().withEpochs(1)).fit(sets.train(), sets.validation());
            assertThat(r.warnings()).noneMatch(w -> w.startsWith("No training") || w.startsWith("No validation"));
        }
    }
}
