/** Strategy comparison: several plans on the same model, data and seeds, with accuracy and cost. */
package dev.finetune.core.compare;
