package dev.finetune.vision.auto;

import ai.djl.Model;
import ai.djl.training.dataset.RandomAccessDataset;
import dev.finetune.core.FineTuner;
import dev.finetune.core.checkpoint.CheckpointException;
import dev.finetune.core.features.FeatureCache;
import dev.finetune.core.listeners.EarlyStopping;
import dev.finetune.core.listeners.LearningRateFinder;
import dev.finetune.core.result.FineTuneResult;
import dev.finetune.core.stage.Stage;
import dev.finetune.vision.backbone.TorchScriptBackbone;
import dev.finetune.vision.bottleneck.CrossValidation;
import dev.finetune.vision.bottleneck.FeatureScaling;
import dev.finetune.vision.bottleneck.LinearClassifier;
import dev.finetune.vision.bottleneck.LinearModels;
import dev.finetune.vision.data.ImageCatalog;
import dev.finetune.vision.data.ImageDataset;
import dev.finetune.vision.export.BottleneckHead;
import dev.finetune.vision.transform.DescribedPipeline;
import dev.finetune.vision.transform.ImagePipeline;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Fine-tunes a pretrained TorchScript embedding on labelled images in one call, the way the seeds
 * say: first a linear classifier on the frozen features (each square-rooted and scaled to unit
 * length, {@link FeatureScaling#SQRT_L2}) with its regularisation chosen by cross-validation (the
 * small-data default, and a probe that costs one pass over the images); where the pipeline allows
 * flips ({@code ImagePipeline.flip()}, the default), mirror images are added to its training rows
 * and every prediction averages an image with its mirror image, in evaluation and in the export.
 * Then, where the data is large enough for tuning to win (Chu et al.: 20+ images per class)
 * and the time budget allows, the whole network fine-tuned from that classifier (linear probe, then
 * fine-tune) at a rate found by a learning-rate search, with early stopping. The candidate with the
 * better validation accuracy is kept, and the result says in words what was tried, what it measured
 * and why it chose.
 *
 * <pre>{@code
 * ImageCatalog images = ImageCatalog.scan(folder);
 * DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(images);
 * try (AutoResult auto = AutoFineTune.builder()
 *         .setBackbone(Path.of("embedding.pt"))
 *         .setData(parts.train(), parts.validation())
 *         .optPipeline(ImagePipeline.builder().setSize(224).optResizeMode(ResizeMode.SQUASH).build())
 *         .build().run()) {
 *     System.out.println(auto);                      // what it chose and why
 *     Evaluation test = auto.evaluate(parts.test()); // once
 *     ClassifierExport.save(auto.model(), dir, "classifier", images.classNames(), auto.preprocessing());
 * }
 * }</pre>
 */
public final class AutoFineTune {

    /** Images per class from which fine-tuning is tried beside the linear classifier. */
    static final int TUNE_FROM_IMAGES_PER_CLASS = 20;
    private static final int BATCH = 16;
    /** Images per evaluation batch: small batches run fastest on a CPU (see FeatureCache). */
    static final int EVALUATION_BATCH = 4;

    private final Path backbone;
    private final ImageCatalog train;
    private final ImageCatalog validation;
    private final ImagePipeline pipeline;
    private final long seed;
    private final Duration budget;

    private AutoFineTune(Builder b) {
        backbone = b.backbone;
        train = b.train;
        validation = b.validation;
        pipeline = b.pipeline;
        seed = b.seed;
        budget = b.budget;
    }

    /** @return a builder; the backbone and the data are required */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Trains the candidates and keeps the better on validation.
     *
     * @return the chosen model with what was measured; close it to free the model
     * @throws IOException if the backbone cannot be read
     * @throws CheckpointException never in practice (no checkpoint is written)
     */
    public AutoResult run() throws IOException, CheckpointException {
        int classes = train.classNames().size();
        double perClass = (double) train.size() / classes;
        List<AutoResult.Tried> tried = new ArrayList<>();
        List<String> why = new ArrayList<>();
        long start = System.nanoTime();
        Model probe = TorchScriptBackbone.load(backbone);
        boolean mirror = pipeline.flip();
        Rows x;
        Rows v;
        try {
            x = rows(probe, train, mirror);
            v = rows(probe, validation, mirror);
        } catch (RuntimeException e) {
            probe.close();
            throw e;
        }
        double featureSeconds = (System.nanoTime() - start) / 1e9;
        // the feature passes (two per image with mirroring) price a forward per image; a training step costs about three
        double perImage = featureSeconds / Math.max(1, (train.size() + validation.size()) * (mirror ? 2 : 1));
        double epochEstimate = perImage * (3 * train.size() + validation.size());
        double left = (budget != null ? budget.toSeconds() : 3 * featureSeconds) - featureSeconds;
        // the rate search's 30 trial steps, counted twice for safety, come out of the budget first
        int epochs = (int) Math.min(15, Math.floor((left - 60 * perImage * BATCH * 3) / Math.max(1e-9, epochEstimate)));
        boolean tune = perClass >= TUNE_FROM_IMAGES_PER_CLASS && epochs >= 2;
        if (perClass < TUNE_FROM_IMAGES_PER_CLASS) {
            why.add(String.format(Locale.ROOT, "%.0f images per class: too few for fine-tuning to beat a linear"
                    + " classifier on frozen features (Chu et al. 2016: freeze below about 20)", perClass));
        } else if (!tune) {
            why.add(String.format(Locale.ROOT, "fine-tuning skipped: an epoch is estimated at %.0f s on this device and"
                    + " the time budget leaves %.0f s (optTimeBudget raises it)", epochEstimate, Math.max(0, left)));
        }
        CrossValidation search = CrossValidation.builder().optSeed(seed)
                .optTrainer(LinearModels.logisticRegression(FeatureScaling.SQRT_L2))
                .optGrid(CrossValidation.logGrid(1e-2, 1e4, 1)).build();
        double probeAccuracy;
        CrossValidation.Selection selection;
        try {
            if (tune) {
                // validation images judge the linear classifier against fine-tuning
                selection = search.select(x.features(), x.labels(), classes, x.groups());
                probeAccuracy = v.accuracy(selection.classifier());
            } else {
                // nothing else to choose between: every labelled image trains, cross-validation judges
                Rows all = x.plus(v);
                selection = search.select(all.features(), all.labels(), classes, all.groups());
                probeAccuracy = selection.accuracy();
            }
        } catch (RuntimeException e) {
            probe.close();
            throw e;
        }
        double probeSeconds = (System.nanoTime() - start) / 1e9;
        tried.add(new AutoResult.Tried("linear classifier on frozen features", probeAccuracy, probeSeconds,
                String.format(Locale.ROOT, "features square-rooted and scaled to unit length, C = %.3g by %s%s%s",
                        selection.c(),
                        selection.atEdge() ? "cross-validation (at the edge of its range)" : "cross-validation",
                        mirror ? "; mirror images added to training and averaged into every prediction" : "",
                        tune ? "" : "; trained on the training and validation images, accuracy by 5-fold cross-validation")));
        Model chosen = null;
        AutoResult.Tried best = tried.get(0);
        if (tune) {
            Model tuned = TorchScriptBackbone.load(backbone);
            try {
                long began = System.nanoTime();
                BottleneckHead.attach(tuned, selection.classifier(), pipeline.toPreprocessing());
                LearningRateFinder finder = LearningRateFinder.forStage(0).optRange(1e-6, 1e-2).optSteps(30);
                FineTuneResult r = FineTuner.from(tuned).optNumClasses(classes).optClassNames(train.classNames())
                        .optSeed(seed).optProgress(false).addListener(finder).addListener(EarlyStopping.patience(3))
                        .stage(Stage.full().withEpochs(epochs).withName("fine-tune from the linear classifier"))
                        .fit(dataset(train, pipeline.training(seed), true), dataset(validation, pipeline.evaluation(), false));
                double accuracy = r.bestEpoch().validationAccuracy();
                tried.add(new AutoResult.Tried("fine-tuned from the linear classifier", accuracy,
                        (System.nanoTime() - began) / 1e9, String.format(Locale.ROOT,
                                "every layer, AdamW at %.2e (learning-rate search), %d of %d epochs (early stopping),"
                                        + " best epoch %d", finder.result().suggestion(), r.epochs().size(), epochs,
                                r.bestEpoch().epoch())));
                if (accuracy > probeAccuracy) {
                    probe.close();
                    chosen = tuned;
                    best = tried.get(1);
                } else {
                    tuned.close();
                    why.add("fine-tuning did not beat the linear classifier on validation");
                }
            } catch (dev.finetune.core.TrainingDivergedException e) {
                tuned.close();
                why.add("fine-tuning diverged (" + e.getMessage() + "): kept the linear classifier");
            } catch (RuntimeException | CheckpointException e) {
                tuned.close();
                probe.close();
                throw e;
            }
        }
        if (chosen == null) {
            LinearClassifier head = selection.classifier();
            if (tune) {
                // chosen on validation: now every labelled image trains it, at the C it was chosen with
                Rows all = x.plus(v);
                head = LinearModels.logisticRegression(FeatureScaling.SQRT_L2).train(all.features(), all.labels(), classes,
                        selection.c());
                why.add("the linear classifier was refit on the training and validation images at its C");
            }
            try {
                BottleneckHead.attach(probe, head, pipeline.toPreprocessing(), mirror);
            } catch (RuntimeException e) {
                probe.close();
                throw e;
            }
            chosen = probe;
        }
        why.add(0, String.format(Locale.ROOT, "chose the %s: validation accuracy %.3f", best.name(),
                best.validationAccuracy()));
        return new AutoResult(chosen, classes, train.classNames(), pipeline.toPreprocessing(), tried, best, why, perClass);
    }

    /**
     * Feature rows of one part: each image, and with mirroring its mirror image too, in one group
     * so that cross-validation never holds out one of the two without the other.
     */
    private record Rows(float[][] features, int[] labels, int[] groups, int images) {
        Rows plus(Rows o) {
            float[][] f = new float[features.length + o.features.length][];
            int[] l = new int[f.length];
            int[] g = new int[f.length];
            for (int i = 0; i < f.length; i++) {
                boolean mine = i < features.length;
                int at = mine ? i : i - features.length;
                f[i] = mine ? features[at] : o.features[at];
                l[i] = mine ? labels[at] : o.labels[at];
                g[i] = mine ? groups[at] : images + o.groups[at];
            }
            return new Rows(f, l, g, images + o.images);
        }

        /** Accuracy of the classifier with each image's scores averaged over its rows (the served prediction). */
        double accuracy(LinearClassifier classifier) {
            double[][] sum = new double[images][];
            int[] label = new int[images];
            for (int i = 0; i < features.length; i++) {
                double[] s = classifier.scores(features[i]);
                if (sum[groups[i]] == null) {
                    sum[groups[i]] = s;
                } else {
                    for (int k = 0; k < s.length; k++) {
                        sum[groups[i]][k] += s[k];
                    }
                }
                label[groups[i]] = labels[i];
            }
            int correct = 0;
            for (int i = 0; i < images; i++) {
                int best = 0;
                for (int k = 1; k < sum[i].length; k++) {
                    best = sum[i][k] > sum[i][best] ? k : best;
                }
                correct += best == label[i] ? 1 : 0;
            }
            return images == 0 ? 0 : (double) correct / images;
        }
    }

    private Rows rows(Model model, ImageCatalog part, boolean mirror) {
        float[][] plain;
        int[] labels;
        try (FeatureCache c = features(model, part, pipeline.evaluation())) {
            plain = c.rows();
            labels = c.labels();
        }
        int n = plain.length;
        int[] groups = new int[mirror ? 2 * n : n];
        for (int i = 0; i < groups.length; i++) {
            groups[i] = i % n;
        }
        if (!mirror) {
            return new Rows(plain, labels, groups, n);
        }
        DescribedPipeline flipped = pipeline.evaluation();
        flipped.add(image -> image.flip(2)); // CHW: left to right
        try (FeatureCache c = features(model, part, flipped)) {
            float[][] both = java.util.Arrays.copyOf(plain, 2 * n);
            System.arraycopy(c.rows(), 0, both, n, n);
            int[] l = java.util.Arrays.copyOf(labels, 2 * n);
            System.arraycopy(labels, 0, l, n, n);
            return new Rows(both, l, groups, n);
        }
    }

    private FeatureCache features(Model model, ImageCatalog part, ai.djl.translate.Pipeline p) {
        return FeatureCache.compute(model.getBlock(), model.getNDManager(), dataset(part, p, false), 256);
    }

    private static RandomAccessDataset dataset(ImageCatalog part, ai.djl.translate.Pipeline p, boolean training) {
        return ImageDataset.builder().setCatalog(part).optPipeline(p).setSampling(BATCH, training).build();
    }

    /** Sets the backbone and the data (required), the pipeline, the seed and the time budget. */
    public static final class Builder {
        private Path backbone;
        private ImageCatalog train;
        private ImageCatalog validation;
        private ImagePipeline pipeline = ImagePipeline.imageNet(224);
        private long seed = 42;
        private Duration budget;

        private Builder() {}

        /**
         * @param torchScript a TorchScript module that outputs (N, features): the backbone without its head
         * @return this
         */
        public Builder setBackbone(Path torchScript) {
            backbone = Objects.requireNonNull(torchScript, "backbone");
            return this;
        }

        /**
         * @param trainPart the images to train on
         * @param validationPart the images that choose (never the test part)
         * @return this
         */
        public Builder setData(ImageCatalog trainPart, ImageCatalog validationPart) {
            train = Objects.requireNonNull(trainPart, "train");
            validation = Objects.requireNonNull(validationPart, "validation");
            return this;
        }

        /**
         * @param imagePipeline how images become the backbone's input (default {@code ImagePipeline.imageNet(224)})
         * @return this
         */
        public Builder optPipeline(ImagePipeline imagePipeline) {
            pipeline = Objects.requireNonNull(imagePipeline, "pipeline");
            return this;
        }

        /**
         * @param randomSeed seeds the folds, the search and the training (default 42)
         * @return this
         */
        public Builder optSeed(long randomSeed) {
            seed = randomSeed;
            return this;
        }

        /**
         * @param total the longest the whole call may take; fine-tuning runs only when its estimate fits
         *     (default: three times the time of the feature passes over the training and validation
         *     images, which on a CPU leaves fine-tuning out)
         * @return this
         */
        public Builder optTimeBudget(Duration total) {
            budget = total;
            return this;
        }

        /** @return the automatic fine-tune */
        public AutoFineTune build() {
            if (backbone == null || train == null) {
                throw new IllegalStateException("AutoFineTune needs setBackbone(file) and setData(train, validation).");
            }
            if (train.classNames().size() < 2) {
                throw new IllegalArgumentException("The training images hold " + train.classNames().size()
                        + " class: a classifier needs at least 2 class folders.");
            }
            return new AutoFineTune(this);
        }
    }
}
