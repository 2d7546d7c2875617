/**
 * Strategy comparison: several plans on the same model, data and seeds, with accuracy and cost. A
 * run that fails (a diverging learning rate, say) is reported as failed and the others go on.
 */
package dev.finetune.core.compare;
