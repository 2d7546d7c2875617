package dev.finetune.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import dev.finetune.core.internal.PlanOptimizer;
import dev.finetune.core.internal.WeightAverage;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Copies of the weights (and of the optimizer's state and the weight average) put back in place:
 * the arrays keep their identity, which the loop's parameter store relies on.
 */
final class TrainingSnapshot implements FitControl.Snapshot {

    private final NDManager copies;
    private final List<NDArray[]> pairs = new ArrayList<>();
    private final Block block;
    private final PlanOptimizer optimizer;
    private final Supplier<PlanOptimizer> current;
    private final PlanOptimizer.SavedState moments;
    private final WeightAverage average;
    private final WeightAverage.SavedState averaged;

    TrainingSnapshot(Block block, NDManager manager, PlanOptimizer optimizer, Supplier<PlanOptimizer> current,
            WeightAverage average) {
        this.block = block;
        this.optimizer = optimizer;
        this.current = current;
        copies = manager.newSubManager();
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().isInitialized()) {
                NDArray live = p.getValue().getArray();
                NDArray copy = live.duplicate();
                copy.attach(copies);
                pairs.add(new NDArray[] {live, copy});
            }
        }
        moments = optimizer != null ? optimizer.export(block.getParameters()) : null;
        this.average = average;
        averaged = average != null ? average.export(block.getParameters()) : null;
    }

    @Override
    public void restore() {
        for (NDArray[] pair : pairs) {
            pair[1].copyTo(pair[0]);
        }
        if (optimizer != null && optimizer == current.get()) { // the stage that took it still runs
            optimizer.reset();
            optimizer.restore(moments, block.getParameters());
        }
        if (average != null) {
            average.restore(averaged, block.getParameters());
        }
    }

    @Override
    public void close() {
        copies.close();
    }
}
