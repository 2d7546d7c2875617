package dev.finetune.vision.data;

import ai.djl.Device;
import ai.djl.modality.cv.Image;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Pipeline;
import dev.finetune.vision.image.ResizeMode;
import dev.finetune.vision.transform.DescribedPipeline;
import dev.finetune.vision.transform.ImagePipeline;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Checks that every image of a catalog becomes the same network input, before any training. */
final class ShapeCheck {

    private static final int SHOWN = 10;

    private ShapeCheck() {}

    /** The size of a sample: recorded by the scan, or read from the header. */
    static int[] size(ImageSample s) throws IOException {
        return s.hasSize() ? new int[] {s.width(), s.height()} : ImageFiles.size(s.path());
    }

    /** By the description's arithmetic: no pixel is decoded. */
    static Shape bySize(ImageCatalog catalog, ImagePipeline pipeline) throws IOException {
        Shape shape = null;
        List<String> problems = new ArrayList<>();
        for (ImageSample s : catalog.samples()) {
            int[] wh = size(s);
            try {
                shape = pipeline.outputShape(wh[0], wh[1]);
            } catch (IllegalArgumentException e) {
                problems.add(s.path() + " (" + wh[0] + "x" + wh[1] + ")");
            }
        }
        if (!problems.isEmpty()) {
            int side = pipeline.size();
            throw new IllegalArgumentException(problems.size() + " of " + catalog.size() + " images are too small for the "
                    + side + "x" + side + " input, which " + pipeline.resizeMode() + " would enlarge them to ("
                    + (pipeline.resizeMode() == ResizeMode.PAD ? "the long side" : "both sides") + " must be at least "
                    + side + " while optAllowUpscale is false): " + list(problems) + ". Resize or remove them, or build"
                    + " the ImagePipeline with optAllowUpscale(true) to enlarge them.");
        }
        return shape == null ? pipeline.outputShape(pipeline.size(), pipeline.size()) : shape;
    }

    /**
     * By running the pipeline on a blank image of each distinct size (and channel count of the
     * flag): any pipeline, including one this library did not make. A training pipeline made by
     * an {@link ImagePipeline} runs as a twin, so its own random draws are untouched.
     */
    static Shape byDryRun(ImageCatalog catalog, Pipeline pipeline, Image.Flag flag) throws IOException {
        Pipeline run = pipeline instanceof DescribedPipeline && ((DescribedPipeline) pipeline).isTraining()
                ? ((DescribedPipeline) pipeline).twin() : pipeline;
        Map<List<Integer>, List<ImageSample>> bySize = new LinkedHashMap<>();
        for (ImageSample s : catalog.samples()) {
            int[] wh = size(s);
            bySize.computeIfAbsent(List.of(wh[0], wh[1]), k -> new ArrayList<>()).add(s);
        }
        int channels = flag == Image.Flag.GRAYSCALE ? 1 : 3;
        Map<Shape, List<String>> byShape = new LinkedHashMap<>();
        Map<Shape, Integer> count = new LinkedHashMap<>();
        List<String> failures = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (Map.Entry<List<Integer>, List<ImageSample>> e : bySize.entrySet()) {
                int w = e.getKey().get(0);
                int h = e.getKey().get(1);
                String first = e.getValue().get(0).path() + " (" + w + "x" + h
                        + (e.getValue().size() > 1 ? ", and " + (e.getValue().size() - 1) + " more of that size" : "")
                        + ")";
                try (NDManager step = m.newSubManager()) {
                    NDArray blank = step.zeros(new Shape(h, w, channels), DataType.UINT8);
                    Shape out = run.transform(new NDList(blank)).singletonOrThrow().getShape();
                    byShape.computeIfAbsent(out, k -> new ArrayList<>()).add(first);
                    count.merge(out, e.getValue().size(), Integer::sum);
                } catch (RuntimeException ex) {
                    failures.add(first + ": " + ex.getMessage());
                }
            }
        }
        if (!failures.isEmpty()) {
            throw new IllegalArgumentException(failures.size() + " image size(s) of " + catalog.size()
                    + " images fail in the pipeline: " + list(failures) + ". Resize or remove them, or change the"
                    + " pipeline (an ImagePipeline enlarges small images with optAllowUpscale(true)).");
        }
        Shape common = null;
        for (Map.Entry<Shape, Integer> e : count.entrySet()) {
            common = common == null || e.getValue() > count.get(common) ? e.getKey() : common;
        }
        if (byShape.size() > 1) {
            List<String> odd = new ArrayList<>();
            for (Map.Entry<Shape, List<String>> e : byShape.entrySet()) {
                if (!e.getKey().equals(common)) {
                    for (String f : e.getValue()) {
                        odd.add(f + " -> " + e.getKey());
                    }
                }
            }
            throw new IllegalArgumentException("The pipeline gives " + byShape.size() + " different input shapes, so"
                    + " batches cannot be stacked: most images become " + common + ", but " + list(odd)
                    + ". Use ImagePipeline's training() and evaluation(), whose framing is exact for every image size"
                    + " (DJL 0.35.1's ResizeShort + CenterCrop is not: 3x225x224 for a 376x379 image).");
        }
        return common;
    }

    private static String list(List<String> items) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(SHOWN, items.size()); i++) {
            sb.append(i == 0 ? "" : "; ").append(items.get(i));
        }
        if (items.size() > SHOWN) {
            sb.append("; and ").append(items.size() - SHOWN).append(" more");
        }
        return sb.toString();
    }
}
