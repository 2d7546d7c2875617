package dev.finetune.vision.data;

/** What a scan does with image files that cannot be decoded: it always reports them by path. */
public enum UnreadablePolicy {
    /** Stop with an error listing every unreadable file (the default). */
    FAIL,
    /** Leave them out, list them in {@link ImageCatalog#unreadable()} and log a warning. */
    SKIP
}
