package dev.finetune.core.advice;

/** What Chu et al. 2016 (Table 3) recommend when all but the last layer are copied. */
public enum Recommendation {
    /** Keep the copied layers frozen and train the new last layer (F(1-7)R(8)). */
    FREEZE,
    /** Fine-tune the copied layers with the new last layer (T(1-7)R(8)). */
    TUNE,
    /** Either can win here: compare both on validation data. */
    TRY_BOTH
}
