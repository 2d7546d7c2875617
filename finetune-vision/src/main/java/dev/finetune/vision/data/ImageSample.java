package dev.finetune.vision.data;

import java.nio.file.Path;

/**
 * One labelled image file.
 *
 * @param path the file
 * @param label the class index
 * @param group the unit it belongs to (patient, product, video), or null when there are no groups
 */
public record ImageSample(Path path, int label, String group) {}
