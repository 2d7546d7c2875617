package dev.finetune.core.compare;

import dev.finetune.core.result.EpochMetrics;

import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CombinedDomainXYPlot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.chart.title.TextTitle;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * PNG charts of a comparison, drawn with JFreeChart (headless): test accuracy against wall time
 * (one point per run, on a log time axis) and the validation accuracy and training loss curves of
 * each strategy (mean over seeds, per epoch). Failed runs have no point and no curve.
 */
final class ComparisonCharts {

    private static final Color[] PALETTE = {
        new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728),
        new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

    private static final java.awt.Shape[] SHAPES =
            org.jfree.chart.plot.DefaultDrawingSupplier.createStandardSeriesShapes();

    private ComparisonCharts() {}

    static {
        System.setProperty("java.awt.headless", System.getProperty("java.awt.headless", "true"));
    }

    /**
     * Test accuracy against wall time, one point per run.
     *
     * @param report the comparison
     * @param file the PNG file
     * @return the file
     * @throws IOException if writing fails
     */
    static Path accuracyVsCost(ComparisonReport report, Path file) throws IOException {
        XYSeriesCollection data = new XYSeriesCollection();
        for (Candidate c : report.candidates()) {
            XYSeries s = new XYSeries(c.name(), false, true);
            for (StrategyRun r : report.runsOf(c.name())) {
                s.add(Math.max(1e-3, r.wallSeconds()), r.testAccuracy());
            }
            data.addSeries(s);
        }
        LogAxis x = new LogAxis("wall time per run (s, log scale)");
        x.setSmallestValue(1e-3);
        x.setNumberFormatOverride(new java.text.DecimalFormat("0.###"));
        NumberAxis y = new NumberAxis("test accuracy");
        y.setAutoRangeIncludesZero(false);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(false, true);
        style(renderer, report.candidates().size());
        XYPlot plot = new XYPlot(data, x, y, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        JFreeChart chart = new JFreeChart("Accuracy vs cost", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.addSubtitle(new TextTitle("one point per strategy and seed", new Font("SansSerif", Font.PLAIN, 11)));
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, 600);
        return file;
    }

    /**
     * Validation accuracy (top) and training loss (bottom) per epoch, mean over seeds.
     *
     * @param report the comparison
     * @param file the PNG file
     * @return the file
     * @throws IOException if writing fails
     */
    static Path curves(ComparisonReport report, Path file) throws IOException {
        XYSeriesCollection accuracy = new XYSeriesCollection();
        XYSeriesCollection loss = new XYSeriesCollection();
        for (Candidate c : report.candidates()) {
            List<StrategyRun> runs = report.runsOf(c.name());
            XYSeries a = new XYSeries(c.name());
            XYSeries l = new XYSeries(c.name());
            // a candidate whose every run failed keeps its (empty) series, and so its colour
            int epochs = runs.isEmpty() ? 0 : runs.get(0).result().epochs().size();
            for (int e = 0; e < epochs; e++) {
                double va = 0;
                double tl = 0;
                for (StrategyRun r : runs) {
                    EpochMetrics m = r.result().epochs().get(e);
                    va += m.validationAccuracy() / runs.size();
                    tl += m.trainLoss() / runs.size();
                }
                a.add(e + 1, va);
                l.add(e + 1, tl);
            }
            accuracy.addSeries(a);
            loss.addSeries(l);
        }
        NumberAxis epoch = new NumberAxis("epoch");
        epoch.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        CombinedDomainXYPlot plot = new CombinedDomainXYPlot(epoch);
        plot.add(subplot(accuracy, "validation accuracy", report.candidates().size(), true), 1);
        plot.add(subplot(loss, "training loss", report.candidates().size(), false), 1);
        JFreeChart chart = new JFreeChart("Training curves (mean over seeds)", JFreeChart.DEFAULT_TITLE_FONT, plot, true);
        chart.setBackgroundPaint(Color.WHITE);
        ChartUtils.saveChartAsPNG(file.toFile(), chart, 900, 800);
        return file;
    }

    private static XYPlot subplot(XYSeriesCollection data, String label, int series, boolean legend) {
        NumberAxis y = new NumberAxis(label);
        y.setAutoRangeIncludesZero(false);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, true);
        style(r, series);
        r.setDefaultSeriesVisibleInLegend(legend);
        XYPlot p = new XYPlot(data, null, y, r);
        p.setBackgroundPaint(Color.WHITE);
        p.setDomainGridlinePaint(Color.LIGHT_GRAY);
        p.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return p;
    }

    private static void style(XYLineAndShapeRenderer r, int series) {
        for (int i = 0; i < series; i++) {
            r.setSeriesPaint(i, PALETTE[i % PALETTE.length]);
            r.setSeriesStroke(i, new BasicStroke(2f));
            r.setSeriesShape(i, SHAPES[i % SHAPES.length]);
        }
    }
}
