/** Layer groups: the ordered parts of a model (stem, blocks, head) that strategies act on. */
package dev.finetune.core.groups;
