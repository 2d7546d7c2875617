package dev.finetune.core.internal;

import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * CSV text through Apache Commons CSV: RFC 4180 quoting (commas, quotes and line breaks inside a
 * field), "\n" line ends, as the library's reports write it.
 */
public final class Csv {

    private static final CSVFormat FORMAT = CSVFormat.RFC4180.builder().setRecordSeparator('\n').get();

    private Csv() {}

    /**
     * Writes a header and rows.
     *
     * @param header the column names
     * @param rows the rows, each value written with {@code String.valueOf}
     * @return the CSV text, one line per row after the header
     */
    public static String write(List<String> header, List<? extends List<?>> rows) {
        StringBuilder out = new StringBuilder();
        try (CSVPrinter printer = new CSVPrinter(out, FORMAT)) {
            printer.printRecord(header);
            for (List<?> row : rows) {
                printer.printRecord(row);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a StringBuilder does not fail
        }
        return out.toString();
    }
}
