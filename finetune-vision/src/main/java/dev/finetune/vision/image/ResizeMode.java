package dev.finetune.vision.image;

/**
 * How an image of any size and aspect ratio becomes the network's width x height input. Every
 * mode gives exactly width x height, whatever the image size.
 */
public enum ResizeMode {
    /**
     * Scale the short side to a given length (e.g. 256 for a 224 input) and cut the centred
     * width x height window: the aspect ratio is kept, the borders of a long image are lost
     * (ImageNet's evaluation recipe).
     */
    CENTER_CROP,
    /** Resize the whole image to width x height, ignoring its aspect ratio: nothing is cut, shapes are stretched. */
    SQUASH,
    /**
     * Letterbox: scale the image so that it fits inside width x height (the long side fills it) and
     * fill the rest with the background colour: nothing is cut and nothing is stretched.
     */
    PAD
}
