package dev.finetune.vision.transform;

import ai.djl.Model;
import ai.djl.metric.Metrics;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.translate.TranslatorContext;

/** The little of a translator context that image preprocessing uses. */
public final class TestContext implements TranslatorContext {
    private final NDManager manager;

    /** @param manager owns the arrays */
    public TestContext(NDManager manager) {
        this.manager = manager;
    }

    @Override
    public Model getModel() {
        return null;
    }

    @Override
    public NDManager getNDManager() {
        return manager;
    }

    @Override
    public NDManager getPredictorManager() {
        return manager;
    }

    @Override
    public Block getBlock() {
        return null;
    }

    @Override
    public Metrics getMetrics() {
        return null;
    }

    @Override
    public Object getAttachment(String key) {
        return null;
    }

    @Override
    public void setAttachment(String key, Object value) {}

    @Override
    public void close() {}
}
