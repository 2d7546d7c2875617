package dev.finetune.core.internal;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;

/** The one check that a model has values in every parameter before it is evaluated or exported. */
public final class ParameterValues {

    private ParameterValues() {}

    /**
     * Refuses a block with a parameter that has no value yet (a new head before the first fit).
     *
     * @param block the model's block
     * @param todo what the user should do, e.g. "call fit before evaluate"
     * @throws IllegalStateException naming the first parameter without a value and {@code todo}
     */
    public static void require(Block block, String todo) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!p.getValue().isInitialized()) {
                throw new IllegalStateException("The model's parameter " + p.getKey() + " has no value yet (a new"
                        + " head gets its values in fit): " + todo);
            }
        }
    }
}
