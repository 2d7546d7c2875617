// finetune in JShell, step by step. From the repository root, after `mvn -B -q -DskipTests install`:
//
//   mvn -B -q -pl finetune-examples dependency:build-classpath -Dmdep.outputFile=target/cp.txt
//   jshell -R-Dai.djl.offline=true --class-path "finetune-examples/target/classes:$(cat finetune-examples/target/cp.txt)" \
//          finetune-examples/jshell/fine-tune.jsh
//
// or open JShell with that class path and paste the lines one at a time.
import java.nio.file.*;
import ai.djl.Model;
import ai.djl.ndarray.types.Shape;
import dev.finetune.core.FineTuner;
import dev.finetune.core.stage.Stage;
import dev.finetune.core.advice.*;
import dev.finetune.core.result.*;
import dev.finetune.vision.data.*;
import dev.finetune.vision.transform.ImagePipeline;
import dev.finetune.vision.backbone.*;
import dev.finetune.examples.FolderFineTune;

// 1. an image folder: five Fashion-MNIST classes the backbone never saw, 40 PNGs each
Path folder = Paths.get("target", "jshell-images");
if (!Files.isDirectory(folder)) FolderFineTune.writeFashionFolder(folder, 40);
ImageCatalog images = ImageCatalog.scan(folder);
System.out.println(images.classCounts().describe());

// 2. a stratified, seeded split and the two pipelines (augmentation only in training)
DataSplit.Splits parts = DataSplit.builder().optSeed(7).build().split(images);
System.out.println(parts.describe());
ImagePipeline pipeline = ImagePipeline.builder().setSize(32).optEvalResize(32).optAllowUpscale(true).build();
ImageDataset train = ImageDataset.builder().setCatalog(parts.train()).optPipeline(pipeline.training()).setSampling(32, true).build();
ImageDataset validation = ImageDataset.builder().setCatalog(parts.validation()).optPipeline(pipeline.evaluation()).setSampling(64, false).build();
ImageDataset test = ImageDataset.builder().setCatalog(parts.test()).optPipeline(pipeline.evaluation()).setSampling(64, false).build();

// 3. the pretrained backbone (TorchScript, no head) and a new head for five classes
Model model = TorchScriptBackbone.load(FolderFineTune.sourceBackbone());
FineTuner tuner = FineTuner.from(model).optHeadReplacer(Heads.auto(new Shape(1, 3, 32, 32))).replaceHead(5).optClassNames(images.classNames()).optProgress(false);
System.out.println(tuner.describeGroups(Stage.discriminative(2.6)));

// 4. head first, then every group with rates falling x2.6 per group towards the input
tuner.stage(Stage.headOnly().withEpochs(2).withLearningRate(1e-2)).stage(Stage.discriminative(2.6).withEpochs(3).withLearningRate(3e-3));
FineTuneResult result = tuner.fit(train, validation);
System.out.println(result);
Diagnosis.of(result).forEach(f -> System.out.println("diagnosis: " + f.words()));

// 5. the held-out test set, once
Evaluation held = tuner.evaluate(test);
System.out.printf("test accuracy %.3f, macro-F1 %.3f%n", held.accuracy(), held.macroF1());
model.close();
/exit
