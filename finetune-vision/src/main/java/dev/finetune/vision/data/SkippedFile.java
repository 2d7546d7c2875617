package dev.finetune.vision.data;

import java.nio.file.Path;

/**
 * A file a scan left out, and why (hidden, not an image, unreadable: with the decoder's message).
 *
 * @param path the file
 * @param reason why it was left out
 */
public record SkippedFile(Path path, String reason) {}
