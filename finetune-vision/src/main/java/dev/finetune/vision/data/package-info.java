/** Image datasets: the IDX format of MNIST and Fashion-MNIST, with stratified class subsets. */
package dev.finetune.vision.data;
