// The TF.js side of the conversion check for convert_nsfwjs_mobilenetv2.py (run by hand, never by the build).
//
//   mkdir -p /tmp/tfjs-check && cd /tmp/tfjs-check && npm init -y \
//     && npm install @tensorflow/tfjs@4.22.0 pngjs@7.0.0          # pure JS: no native binary
//   python3 finetune-examples/models/convert_nsfwjs_mobilenetv2.py --nsfwjs package   # extracts model.json
//   NODE_PATH=/tmp/tfjs-check/node_modules node finetune-examples/models/check_nsfwjs_tfjs.js \
//     /tmp/nsfwjs-mobilenetv2 /tmp/tfjs-check/out a.png b.png ...
//   python3 finetune-examples/models/convert_nsfwjs_mobilenetv2.py --nsfwjs package --verify /tmp/tfjs-check/out
//
// Loads the extracted TF.js layers model (model.json + shard .bin) through a file-reading IOHandler with
// tf.loadLayersModel, decodes each PNG (alpha composited onto white), scales to [0, 1] and resizes to
// 224x224 with tf.image.resizeBilinear(alignCorners=true) as nsfwjs does, and writes for each image the
// input tensor (NHWC float32, <name>.input.f32) and the model's outputs (the 1280 pooled features, the
// 5 logits before softmax, the 5 probabilities) to out/index.json.
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
const { PNG } = require('pngjs');

function fileHandler(dir) {
  return {
    load: async () => {
      const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const specs = [];
      const buffers = [];
      for (const group of mj.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: mj.modelTopology,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: mj.format,
        generatedBy: mj.generatedBy,
        convertedBy: mj.convertedBy,
      };
    },
  };
}

function readPng(file) {
  const png = PNG.sync.read(fs.readFileSync(file));
  const { width, height, data } = png; // RGBA 8-bit
  const rgb = new Float32Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const a = data[4 * i + 3] / 255;
    for (let c = 0; c < 3; c++) rgb[3 * i + c] = data[4 * i + c] * a + 255 * (1 - a);
  }
  return tf.tensor3d(rgb, [height, width, 3]);
}

async function main() {
  const [modelDir, outDir, ...images] = process.argv.slice(2);
  fs.mkdirSync(outDir, { recursive: true });
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(fileHandler(modelDir));
  const probe = tf.model({
    inputs: model.inputs,
    outputs: [model.getLayer('flatten_1').output, model.getLayer('dense_2').output, model.output],
  });
  const [k3, b3] = model.getLayer('dense_3').getWeights();
  const classes = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']; // nsfwjs's nsfw_classes order
  const index = { tfjs: tf.version.tfjs, backend: tf.getBackend(), classes, images: [], feature_max: 0 };
  for (const file of images) {
    const name = path.basename(file).replace(/\.[^.]+$/, '');
    const x = tf.tidy(() => {
      const img = readPng(file).div(255);
      return tf.image.resizeBilinear(img, [224, 224], true).reshape([1, 224, 224, 3]);
    });
    const t0 = Date.now();
    const [feat, h2, probs] = probe.predict(x);
    const logits = tf.tidy(() => h2.matMul(k3).add(b3));
    const ms = Date.now() - t0;
    fs.writeFileSync(path.join(outDir, name + '.input.f32'), Buffer.from((await x.data()).buffer));
    const f = Array.from(await feat.data());
    index.feature_max = Math.max(index.feature_max, ...f);
    index.images.push({
      name, file, input: name + '.input.f32', features: f,
      logits: Array.from(await logits.data()), probabilities: Array.from(await probs.data()),
    });
    console.log(name, 'probabilities', Array.from(await probs.data()).map(v => v.toFixed(4)).join(' '), ms + ' ms');
    tf.dispose([x, feat, h2, probs, logits]);
  }
  fs.writeFileSync(path.join(outDir, 'index.json'), JSON.stringify(index));
}

main().catch(e => { console.error(e); process.exit(1); });
