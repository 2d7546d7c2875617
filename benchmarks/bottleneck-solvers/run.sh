#!/usr/bin/env bash
# Hand-written bottleneck solvers vs LIBLINEAR's Java port (not a project dependency: fetched here
# into the local Maven repository only). Run from the repository root (about 5 minutes on 2 cores).
# Writes feature sets and figures under target/bottleneck-solvers/.
set -euo pipefail
OUT=target/bottleneck-solvers; mkdir -p "$OUT/classes"
mvn -B -q dependency:get -Dartifact=de.bwaldvogel:liblinear:2.44
mvn -B -q -pl finetune-vision -am test-compile dependency:build-classpath -Dmdep.includeScope=test \
    -Dmdep.outputFile="$PWD/$OUT/cp-\${project.artifactId}.txt"
CP="finetune-vision/target/classes:$(cat "$OUT/cp-finetune-vision.txt"):$HOME/.m2/repository/de/bwaldvogel/liblinear/2.44/liblinear-2.44.jar"
D=benchmarks/bottleneck-solvers
javac -d "$OUT/classes" -cp "$CP" $D/Extract.java $D/Bench.java
JAVA="java -cp $OUT/classes:$CP -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1"
# 64 features: the examples' pretrained Fashion-MNIST source ResNet on 6 classes, 300 per class per split
$JAVA Extract true 300 0,2,4,6,7,9 "$OUT/emb-train.txt" 2>/dev/null
$JAVA Extract false 300 0,2,4,6,7,9 "$OUT/emb-test.txt" 2>/dev/null
python3 $D/pixels.py "$OUT"
# 33 training images per class (198, as the issue's 199 clip-art images), 5 draws, tested on 1800
$JAVA dev.finetune.vision.bottleneck.Bench "$OUT/emb-train.txt" "$OUT/emb-test.txt" 33 5 ll-lr,hand-lr,ll-svm,hand-svm
$JAVA dev.finetune.vision.bottleneck.Bench "$OUT/px-train.txt" "$OUT/px-test.txt" 33 5 ll-lr,hand-lr,ll-svm,hand-svm
