package dev.finetune.vision.interpret;

import dev.finetune.vision.data.ImageFiles;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.junit.jupiter.api.Test;

import java.awt.Color;
import java.io.StringReader;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The order of the losses, ties and NaN, and CSV quoting of awkward paths, on predictions given by hand. */
class InterpretationOrderTest {

    private static final List<String> NAMES = List.of("cat", "dog, \"wild\"");

    private static Prediction p(int index, String path, int truth, int predicted, double loss) {
        return new Prediction(index, Path.of(path), truth, NAMES.get(truth), predicted, NAMES.get(predicted), 0.5,
                Math.exp(-loss), loss);
    }

    private static Interpretation of(List<Prediction> predictions) {
        return new Interpretation(NAMES, predictions, ImageFiles.DEFAULT_MAX_PIXELS, Color.WHITE);
    }

    @Test
    void highestLossFirstNanFirstOfAllTiesByPathThenIndex() {
        Interpretation i = of(List.of(
                p(0, "b/x.png", 0, 1, 2.0),
                p(1, "a/x.png", 0, 1, 2.0),
                p(2, "c.png", 1, 1, 0.1),
                p(3, "d.png", 1, 0, 3.0),
                p(4, "e.png", 0, 0, Double.NaN),
                p(5, "a/x.png", 1, 0, 2.0),
                p(6, "f.png", 0, 0, 0.9)));
        assertThat(i.topLosses(10)).extracting(Prediction::index).containsExactly(4, 3, 1, 5, 0, 6, 2);
        assertThat(i.topLosses(3)).extracting(Prediction::index).containsExactly(4, 3, 1);
        assertThat(i.topLosses(0)).isEmpty();
        assertThatThrownBy(() -> i.topLosses(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(i.mistakes()).extracting(Prediction::index).containsExactly(3, 1, 5, 0);
        assertThat(i.predictions()).extracting(Prediction::index).containsExactly(0, 1, 2, 3, 4, 5, 6);
        assertThat(i.confusion().count(0, 1)).isEqualTo(2);
        assertThat(i.confusion().count(1, 0)).isEqualTo(2);
        assertThat(i.confusion().count(0, 0)).isEqualTo(2);
        assertThat(i.confusion().count(1, 1)).isEqualTo(1);
    }

    @Test
    void csvQuotesPathsAndNamesWithCommasQuotesAndLineBreaks() throws Exception {
        String awkward = "photos/dog, \"wild\"/odd\nname.png";
        Interpretation i = of(List.of(p(0, awkward, 1, 0, 1.5), p(1, "plain.png", 0, 0, 0.2)));
        String csv = i.mistakesCsv();
        List<CSVRecord> rows;
        try (CSVParser parser = CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get()
                .parse(new StringReader(csv))) {
            rows = parser.getRecords();
        }
        assertThat(rows).hasSize(1);
        assertThat(rows.get(0).get("path")).isEqualTo(awkward);
        assertThat(rows.get(0).get("true_class")).isEqualTo("dog, \"wild\"");
        assertThat(rows.get(0).get("predicted_class")).isEqualTo("cat");
    }
}
