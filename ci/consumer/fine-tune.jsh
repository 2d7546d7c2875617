// finetune in JShell from the published artifacts alone: no checkout of this repository, only a
// project whose pom names dev.finetune:finetune-vision and libtorch's native for the machine (the
// README's "Use it from your project", or this folder's pom.xml). In that project:
//
//   mvn -q dependency:build-classpath -Dmdep.outputFile=cp.txt
//   jshell -R-Dai.djl.offline=true -R-Dbackbone=model.pt -R-Dimages=photos \
//          --class-path "$(cat cp.txt)" fine-tune.jsh
//
// backbone: a pretrained network exported to TorchScript without its head; images: a folder with one
// sub-folder of images per class; -R-Dsize=224 for a network trained at 224 px (default 32). Or open
// JShell with that class path and paste the lines one at a time.
import java.nio.file.*;
import ai.djl.Model;
import dev.finetune.core.FineTuner;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.advice.Diagnosis;
import dev.finetune.core.result.*;
import dev.finetune.vision.data.*;
import dev.finetune.vision.transform.ImagePipeline;
import dev.finetune.vision.backbone.*;

Path backbone = Paths.get(System.getProperty("backbone", "model.pt"));
Path folder = Paths.get(System.getProperty("images", "images"));
int size = Integer.getInteger("size", 32);

// 1. the image folder, a stratified and seeded split, and the two pipelines (augmentation only in training)
ImageCatalog images = ImageCatalog.scan(folder);
System.out.println(images.classCounts().describe());
DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(images);
System.out.println(parts.describe());
ImagePipeline pipeline = ImagePipeline.builder().setSize(size).optEvalResize(size).optAllowUpscale(true).build();
ImageDataset train = ImageDataset.builder().setCatalog(parts.train()).optPipeline(pipeline.training()).setSampling(32, true).build();
ImageDataset validation = ImageDataset.builder().setCatalog(parts.validation()).optPipeline(pipeline.evaluation()).setSampling(64, false).build();
ImageDataset test = ImageDataset.builder().setCatalog(parts.test()).optPipeline(pipeline.evaluation()).setSampling(64, false).build();

// 2. the pretrained backbone and a new head for the folder's classes
Model model = TorchScriptBackbone.load(backbone);
FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto()).replaceHead(images.classNames().size()).optClassNames(images.classNames()).optProgress(false);
System.out.println(tuner.describeGroups(Stage.discriminative(2.6)));

// 3. the head first, then every group with rates falling x2.6 per group towards the input
tuner.stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2)).stage(Stage.discriminative(2.6).withEpochs(2).withLearningRate(3e-3));
FineTuneResult result = tuner.fit(train, validation);
System.out.println(result);
Diagnosis.of(result).forEach(f -> System.out.println("diagnosis: " + f.words()));

// 4. the held-out test set, once
Evaluation held = tuner.evaluate(test);
System.out.printf("test accuracy %.3f, macro-F1 %.3f%n", held.accuracy(), held.macroF1());
model.close();
/exit
