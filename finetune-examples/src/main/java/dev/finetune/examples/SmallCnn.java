package dev.finetune.examples;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;

/**
 * The small CNN of the examples: a stem and three conv blocks (conv, BatchNorm, ReLU, pooling) and a
 * linear head over the 64 globally averaged features, for 28x28 grey images. Five layer groups.
 */
public final class SmallCnn {

    private SmallCnn() {}

    /**
     * @param classes head width
     * @return the uninitialised network
     */
    public static SequentialBlock build(int classes) {
        SequentialBlock net = new SequentialBlock();
        net.add(new SequentialBlock().add(conv(16)).add(BatchNorm.builder().build()).add(Activation.reluBlock()));
        net.add(new SequentialBlock().add(conv(32)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                .add(Pool.maxPool2dBlock(new Shape(2, 2))));
        net.add(new SequentialBlock().add(conv(64)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                .add(Pool.maxPool2dBlock(new Shape(2, 2))));
        net.add(new SequentialBlock().add(conv(64)).add(BatchNorm.builder().build()).add(Activation.reluBlock())
                .add(Pool.globalAvgPool2dBlock()));
        net.add(Linear.builder().setUnits(classes).build());
        return net;
    }

    private static Block conv(int filters) {
        return Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(filters).build();
    }
}
