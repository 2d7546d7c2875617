package dev.finetune.core;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import dev.finetune.core.internal.BatchMixing;
import dev.finetune.core.loss.CrossEntropy;
import dev.finetune.core.stage.Stage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/** Checks on what a fit is given, before any training: data that yields batches, a head of the right size. */
final class FitInputs {

    private FitInputs() {}

    static void requireClassCount(int classes) {
        if (classes < 2) {
            throw new IllegalArgumentException("replaceHead(" + classes + "): a classifier needs at least 2 classes; pass"
                    + " the number of classes in your target data.");
        }
    }

    /** Checks the settings that only make sense together, before anything is read or trained. */
    static void checkSettings(FineTuner tuner) {
        if (tuner.numClasses < 2) {
            throw new IllegalStateException("The class count is unknown: call replaceHead(n) (or optNumClasses(n) if"
                    + " the head already fits) before fit.");
        }
        if (tuner.stages.isEmpty()) {
            throw new IllegalStateException(
                    "The plan has no stage: add one, e.g. stage(Stage.headOnly().withEpochs(3)).");
        }
        if (tuner.customLoss != null && (tuner.classWeights != null || tuner.labelSmoothing > 0)) {
            throw new IllegalStateException("optLoss(" + tuner.customLoss + ") replaces the library's cross-entropy,"
                    + " so optClassWeights and optLabelSmoothing have nothing to apply to. Give them to the loss"
                    + " instead (optLoss(CrossEntropy.builder().optClassWeights(w).optLabelSmoothing(eps).build())),"
                    + " or drop optLoss.");
        }
        float[] weights = tuner.customLoss instanceof CrossEntropy
                ? ((CrossEntropy) tuner.customLoss).classWeights() : tuner.classWeights;
        if (weights != null && weights.length != tuner.numClasses) {
            throw new IllegalArgumentException(weights.length + " class weights were given for " + tuner.numClasses
                    + " classes (optClassWeights).");
        }
        for (Stage stage : tuner.stages) {
            if (stage.mixUp().enabled() && !(tuner.trainingLoss() instanceof CrossEntropy)) {
                throw new IllegalStateException("Stage '" + stage.name() + "' mixes batches (" + stage.mixUp()
                        + "), which trains on soft targets, but optLoss(" + tuner.customLoss + ") takes class"
                        + " indices only. Use the default loss or a CrossEntropy (CrossEntropy.builder()), or"
                        + " turn mixing off for the stage (withMixUp(MixUp.none())).");
            }
        }
        if (tuner.lastCheckpointPath != null && tuner.checkpointPath == null) {
            throw new IllegalStateException("optLastCheckpoint needs optCheckpoint(file) too: the best epoch's weights"
                    + " are kept there when a run resumes.");
        }
    }

    /** Checks that the checkpoint files can be written, before anything is trained. */
    static void checkCheckpointFiles(FineTuner tuner) throws dev.finetune.core.checkpoint.CheckpointException {
        if (tuner.checkpointPath != null && tuner.lastCheckpointPath != null
                && tuner.checkpointPath.toAbsolutePath().normalize()
                        .equals(tuner.lastCheckpointPath.toAbsolutePath().normalize())) {
            throw new IllegalStateException("optCheckpoint and optLastCheckpoint name the same file ("
                    + tuner.checkpointPath + "): the best and the last epoch need a file each, e.g. best.ckpt and"
                    + " last.ckpt.");
        }
        if (tuner.checkpointPath != null) {
            dev.finetune.core.checkpoint.Checkpoint.requireWritable(tuner.checkpointPath, "optCheckpoint");
        }
        if (tuner.lastCheckpointPath != null) {
            dev.finetune.core.checkpoint.Checkpoint.requireWritable(tuner.lastCheckpointPath, "optLastCheckpoint");
        }
    }

    /** Checks that every parameter has a value: a new head has none before the first fit. */
    static void requireInitialised(Block block, String call) {
        dev.finetune.core.internal.ParameterValues.require(block, "call fit before " + call + ", or restore a"
                + " checkpoint into block() first (Checkpoint.load(file).restoreInto(tuner.block(), manager)).");
    }

    /** The given class names checked against the class count, or "0", "1", ... when none were given. */
    static List<String> names(List<String> given, int numClasses) {
        if (given == null) {
            List<String> names = new ArrayList<>();
            for (int i = 0; i < numClasses; i++) {
                names.add(String.valueOf(i));
            }
            return names;
        }
        if (given.size() != numClasses) {
            throw new IllegalArgumentException(given.size() + " class names were given for " + numClasses + " classes.");
        }
        return given;
    }

    /** Prepares a dataset, checks it is not empty and reads its first batch. */
    static FitState.FirstBatch inspect(Dataset data, String what) {
        prepare(data);
        requireNotEmpty(data, what);
        return peek(data, what);
    }

    static void requireNotEmpty(Dataset data, String what) {
        if (data instanceof RandomAccessDataset && ((RandomAccessDataset) data).size() == 0) {
            throw new IllegalArgumentException("The " + what + " dataset is empty: give it at least one sample.");
        }
    }

    static void prepare(Dataset data) {
        try {
            data.prepare();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not prepare the dataset: " + e.getMessage(), e);
        }
    }

    private static FitState.FirstBatch peek(Dataset data, String what) {
        try (NDManager host = NDManager.newBaseManager(Device.cpu())) {
            Iterator<Batch> it = data.getData(host).iterator();
            if (!it.hasNext()) {
                if (data instanceof RandomAccessDataset && ((RandomAccessDataset) data).size() > 0) {
                    long size = ((RandomAccessDataset) data).size();
                    throw new IllegalArgumentException("The " + what + " dataset has " + size + " samples but"
                            + " produced no batch: its batch size is larger than " + size + " and it drops the last"
                            + " partial batch. Use a batch size of at most " + size + ", or keep the last batch"
                            + " (optDropLast(false)).");
                }
                throw new IllegalArgumentException(
                        "The " + what + " dataset produced no batches: give it at least one sample.");
            }
            try (Batch b = it.next()) {
                // DJL's progress total counts samples, not batches
                long samples = Math.max(1, b.getProgressTotal());
                long batches = (samples + b.getSize() - 1) / b.getSize();
                return new FitState.FirstBatch(b.getData().head().getShape(), batches, b.getSize());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (TranslateException e) {
            throw new IllegalStateException("Could not read the " + what + " data: " + e.getMessage(), e);
        }
    }

    /**
     * Refuses CutMix on batches that are not images, before the first step.
     *
     * @param stages the plan
     * @param input the shape of the first training batch
     */
    static void checkMixing(List<Stage> stages, Shape input) {
        for (Stage stage : stages) {
            if (stage.mixUp().cutMixAlpha() > 0) {
                try {
                    BatchMixing.requireImages(input);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("Stage '" + stage.name() + "': " + e.getMessage(), e);
                }
            }
        }
    }

    /** Initialises parameters that have no values yet (a new head) and checks the output width. */
    static void initialize(Block block, NDManager manager, Shape inputShape, int numClasses) {
        boolean uninitialised = false;
        for (Pair<String, Parameter> p : block.getParameters()) {
            uninitialised |= !p.getValue().isInitialized();
        }
        if (uninitialised) {
            block.initialize(manager, DataType.FLOAT32, inputShape);
        }
        Shape out = block.getOutputShapes(new Shape[] {inputShape})[0];
        long outClasses = out.get(out.dimension() - 1);
        if (outClasses != numClasses) {
            throw new IllegalStateException("The model outputs " + outClasses + " classes but this fine-tune is for "
                    + numClasses + ". Loading a parameter file restores the head it was saved with: call replaceHead("
                    + numClasses + ") after loading the pretrained weights.");
        }
    }
}
