package dev.finetune.vision.export;

import dev.finetune.vision.image.ResizeMode;

import java.awt.Color;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/** The preprocessing entries of {@code serving.properties}, written and read back. */
final class ServingArguments {

    static final String WIDTH = "width";
    static final String HEIGHT = "height";
    static final String GREY = "finetune.grey";
    static final String RESIZE_MODE = "finetune.resizeMode";
    static final String RESIZE_SHORT = "finetune.resizeShort";
    static final String BACKGROUND = "finetune.background";
    static final String NORMALIZE = "finetune.normalize";

    private ServingArguments() {}

    static void write(ClassifierExport.Preprocessing pre, Properties p) {
        p.setProperty(WIDTH, String.valueOf(pre.width()));
        p.setProperty(HEIGHT, String.valueOf(pre.height()));
        p.setProperty(GREY, String.valueOf(pre.grey()));
        p.setProperty(RESIZE_MODE, pre.resizeMode().name());
        if (pre.resizeShort() > 0) {
            p.setProperty(RESIZE_SHORT, String.valueOf(pre.resizeShort()));
        }
        p.setProperty(BACKGROUND, String.format(Locale.ROOT, "#%06X", pre.background().getRGB() & 0xffffff));
        if (pre.mean() != null) {
            p.setProperty(NORMALIZE, join(pre.mean()) + "," + join(pre.std()));
        }
    }

    static ClassifierExport.Preprocessing preprocessing(Map<String, ?> arguments) {
        int width = integer(arguments, WIDTH, -1);
        int height = integer(arguments, HEIGHT, -1);
        boolean grey = Boolean.parseBoolean(string(arguments, GREY, "false"));
        String modeName = string(arguments, RESIZE_MODE, null);
        ResizeMode mode;
        try {
            mode = ResizeMode.valueOf(modeName);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw bad(RESIZE_MODE, modeName, "one of CENTER_CROP, SQUASH, PAD");
        }
        int resizeShort = integer(arguments, RESIZE_SHORT, 0);
        String colour = string(arguments, BACKGROUND, "#FFFFFF");
        Color background;
        try {
            background = Color.decode(colour);
        } catch (NumberFormatException e) {
            throw bad(BACKGROUND, colour, "a colour such as #FFFFFF");
        }
        float[] mean = null;
        float[] std = null;
        String normalize = string(arguments, NORMALIZE, null);
        if (normalize != null) {
            String[] tokens = normalize.split("\\s*,\\s*");
            int n = grey ? 1 : 3;
            if (tokens.length != 2 * n) {
                throw bad(NORMALIZE, normalize, n + " means then " + n + " standard deviations");
            }
            mean = new float[n];
            std = new float[n];
            try {
                for (int i = 0; i < n; i++) {
                    mean[i] = Float.parseFloat(tokens[i]);
                    std[i] = Float.parseFloat(tokens[n + i]);
                }
            } catch (NumberFormatException e) {
                throw bad(NORMALIZE, normalize, "numbers");
            }
        }
        return new ClassifierExport.Preprocessing(width, height, grey, mode, mean, std, resizeShort, background);
    }

    private static String string(Map<String, ?> arguments, String key, String fallback) {
        Object v = arguments.get(key);
        return v == null ? fallback : v.toString().trim();
    }

    private static int integer(Map<String, ?> arguments, String key, int fallback) {
        String v = string(arguments, key, null);
        if (v == null) {
            if (fallback < 0) {
                throw bad(key, null, "a whole number");
            }
            return fallback;
        }
        try {
            return (int) Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw bad(key, v, "a whole number");
        }
    }

    private static IllegalArgumentException bad(String key, String value, String expected) {
        return new IllegalArgumentException("serving.properties " + (value == null ? "lacks " + key : "has " + key + "="
                + value) + "; expected " + expected + " (as ClassifierExport.save writes).");
    }

    private static String join(float[] values) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", values[i]));
        }
        return sb.toString();
    }
}
