package dev.finetune.core.listeners;

import dev.finetune.core.FineTuneListener;

import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Finds a stage's learning rate before it trains (fastai's {@code lr_find}, Lightning's
 * {@code Tuner.lr_find}): trial steps at rates growing exponentially from {@code min} to
 * {@code max}, the loss smoothed by an exponential moving average, the search cut where the loss
 * turns non-finite or exceeds 4x its minimum, and the rule <b>one tenth of the rate at the smoothed
 * minimum</b> (fastai's {@code lr_min}; the steepest descent is reported beside it, not used: from a
 * trained head the curve starts flat and its steepest point is noise). The trial steps are seeded and the
 * weights, optimizer state and BatchNorm statistics exposed as parameters are put back exactly,
 * so the stage then trains as if no search had run, at the suggested rate. NaN and infinite losses
 * never enter the suggestion. The chosen rate is saved with the last checkpoint and set again when a
 * run resumes inside the stage.
 *
 * <pre>{@code
 * LearningRateFinder finder = LearningRateFinder.forStage(1).optPlot(Path.of("lr.png"));
 * tuner.addListener(finder).fit(train, validation);
 * System.out.println(finder.result().explanation());
 * }</pre>
 */
public final class LearningRateFinder implements FineTuneListener {

    private static final Logger LOG = LoggerFactory.getLogger(LearningRateFinder.class);

    private final int stage;
    private double min = 1e-7;
    private double max = 1;
    private int steps = 60;
    private Path plot;
    private Result result;
    private double chosen = Double.NaN;

    private LearningRateFinder(int stage) {
        this.stage = stage;
    }

    /**
     * @param stage the 0-based stage whose rate is searched
     * @return the finder
     */
    public static LearningRateFinder forStage(int stage) {
        if (stage < 0) {
            throw new IllegalArgumentException("The stage index must be 0 or more, got " + stage + ".");
        }
        return new LearningRateFinder(stage);
    }

    /**
     * @param lowest the first trial rate (default 1e-7)
     * @param highest the last trial rate (default 1)
     * @return this
     */
    public LearningRateFinder optRange(double lowest, double highest) {
        if (!(lowest > 0 && highest > lowest) || Double.isInfinite(highest)) {
            throw new IllegalArgumentException("The range must be 0 < lowest < highest, got " + lowest + " .. " + highest);
        }
        min = lowest;
        max = highest;
        return this;
    }

    /**
     * @param trialSteps the number of trial steps (default 60)
     * @return this
     */
    public LearningRateFinder optSteps(int trialSteps) {
        if (trialSteps < 5) {
            throw new IllegalArgumentException("A rate search needs at least 5 steps, got " + trialSteps + ".");
        }
        steps = trialSteps;
        return this;
    }

    /**
     * @param png where to draw the loss over the rate, with the suggestion marked
     * @return this
     */
    public LearningRateFinder optPlot(Path png) {
        plot = png;
        return this;
    }

    /** @return the last search's curve and suggestion, or null before one ran */
    public Result result() {
        return result;
    }

    @Override
    public void onStageStart(StageStart start) {
        if (start.stage() != stage) {
            return;
        }
        if (start.firstEpoch() > 0 && !Double.isNaN(chosen)) {
            start.control().setLearningRate(chosen); // resumed inside the stage: the rate found before
            return;
        }
        double[] rates = new double[steps];
        for (int k = 0; k < steps; k++) {
            rates[k] = min * Math.pow(max / min, (double) k / (steps - 1));
        }
        double[] losses = start.control().trialSteps(steps, k -> rates[(int) k]);
        result = Result.of(rates, losses);
        chosen = result.suggestion();
        LOG.info("stage {}: {}", stage + 1, result.explanation());
        if (plot != null) {
            result.writePlot(plot);
        }
        start.control().setLearningRate(chosen);
    }

    @Override
    public String saveState() {
        return Double.isNaN(chosen) ? null : Double.toString(chosen);
    }

    @Override
    public void restoreState(String state) {
        chosen = Double.parseDouble(state);
    }

    /**
     * A search's curve and what it suggests.
     *
     * @param rates the trial rates
     * @param losses the loss of each trial step (NaN or infinite where it diverged)
     * @param smoothed the exponentially smoothed loss (NaN after the cut)
     * @param cut the number of steps used for the suggestion
     * @param minimumRate the rate at the smoothed minimum
     * @param steepestRate the rate of steepest descent of the smoothed loss
     * @param suggestion the rate chosen
     */
    public record Result(double[] rates, double[] losses, double[] smoothed, int cut, double minimumRate,
            double steepestRate, double suggestion) {

        /**
         * Applies the rule to a curve.
         *
         * @param rates the trial rates, increasing
         * @param losses the loss of each step
         * @return the result
         */
        public static Result of(double[] rates, double[] losses) {
            int n = rates.length;
            double[] smooth = new double[n];
            java.util.Arrays.fill(smooth, Double.NaN);
            double average = 0;
            double lowest = Double.POSITIVE_INFINITY;
            int argmin = -1;
            int cut = 0;
            for (int k = 0; k < n; k++) {
                if (!Double.isFinite(losses[k])) {
                    break;
                }
                average = 0.9 * average + 0.1 * losses[k];
                double value = average / (1 - Math.pow(0.9, k + 1)); // bias-corrected, as fastai
                if (k > 0 && value > 4 * lowest) {
                    break;
                }
                smooth[k] = value;
                cut = k + 1;
                if (value < lowest) {
                    lowest = value;
                    argmin = k;
                }
            }
            if (argmin < 0) {
                throw new IllegalStateException("Every trial step's loss was NaN or infinite, from the lowest rate "
                        + rates[0] + ": lower the range (optRange) or check the data for NaN.");
            }
            int steepest = argmin;
            double slope = 0;
            for (int k = 1; k <= argmin; k++) {
                double d = (smooth[k] - smooth[k - 1]) / Math.log(rates[k] / rates[k - 1]);
                if (d < slope) {
                    slope = d;
                    steepest = k;
                }
            }
            double suggestion = rates[argmin] / 10;
            return new Result(rates.clone(), losses.clone(), smooth, cut, rates[argmin], rates[steepest], suggestion);
        }

        /** @return the rule and the numbers behind the suggestion, in words */
        public String explanation() {
            return String.format(Locale.ROOT, "learning rate %.2e: one tenth of the rate at the smoothed minimum (%.2e;"
                            + " steepest descent at %.2e); %d of %d trial steps used (cut where the loss turned"
                            + " non-finite or passed 4x its minimum)",
                    suggestion, minimumRate, steepestRate, cut, rates.length);
        }

        /**
         * Draws the curve: raw and smoothed loss over the rate (log scale), the suggestion marked.
         *
         * @param png the file
         */
        public void writePlot(Path png) {
            XYSeries raw = new XYSeries("loss");
            XYSeries ema = new XYSeries("smoothed");
            for (int k = 0; k < rates.length; k++) {
                if (Double.isFinite(losses[k])) {
                    raw.add(rates[k], losses[k]);
                }
                if (Double.isFinite(smoothed[k])) {
                    ema.add(rates[k], smoothed[k]);
                }
            }
            XYSeriesCollection data = new XYSeriesCollection();
            data.addSeries(raw);
            data.addSeries(ema);
            LogAxis x = new LogAxis("learning rate");
            NumberAxis y = new NumberAxis("training loss");
            y.setAutoRangeIncludesZero(false);
            XYPlot xy = new XYPlot(data, x, y, new XYLineAndShapeRenderer(true, false));
            ValueMarker marker = new ValueMarker(suggestion, Color.RED, new java.awt.BasicStroke(1.5f));
            xy.addDomainMarker(marker);
            JFreeChart chart = new JFreeChart(String.format(Locale.ROOT, "Learning-rate search: %.2e", suggestion),
                    JFreeChart.DEFAULT_TITLE_FONT, xy, true);
            chart.setBackgroundPaint(Color.WHITE);
            try {
                ChartUtils.saveChartAsPNG(png.toFile(), chart, 800, 500);
            } catch (IOException e) {
                throw new UncheckedIOException("Could not write the learning-rate plot " + png + ": " + e.getMessage(), e);
            }
        }
    }
}
