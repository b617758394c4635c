// TF.js layers models made at test time with real @tensorflow/tfjs, written as model.json plus weight
// shards in each layout tf.loadLayersModel accepts: tfjs-layers' own save (`class_name` at the top of
// modelTopology, format "layers-model"), and Keras exports as tensorflowjs_converter writes them (the
// Keras config under `modelTopology.model_config`, beside keras_version, backend and training_config).
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";

export type LayersModelKind = "residual" | "sequential";

/**
 * - tfjs: what `model.save()` writes.
 * - keras-2.2: tensorflowjs_converter 0.x on a Keras 2.2.4 HDF5 file: no format field, the topology under model_config.
 * - keras-2.2-list: the same for Keras 2.2.2 and older, whose Sequential config is the bare layer list (Sequential only).
 * - keras-2.4: tensorflowjs_converter 2.x on Keras 2.4: format "layers-model", model_config of class "Functional" (functional only).
 */
export type LayersLayout = "tfjs" | "keras-2.2" | "keras-2.2-list" | "keras-2.4";

export type WrittenLayersModel = {
  dir: string;
  model: tf.LayersModel;
  input: { name: string; shape: number[] };
  output: { name: string; shape: number[] };
};

import { rng as mulberry32 } from "../../lib/validation/sandbox/child-kit.ts";

/** Deterministic uniform [-1, 1) numbers: the sandbox child's own input generator. */
export { mulberry32 };

/** image [8,8,3] -> conv, batch norm, relu6 -> depthwise, 1x1 project -> add (skip) -> 1x1 | 3x3 concat -> pool -> softmax [5]. */
function buildResidual(): tf.LayersModel {
  const image = tf.input({ shape: [8, 8, 3], name: "image" });
  const stem = tf.layers
    .reLU({ maxValue: 6, name: "stem_relu6" })
    .apply(
      tf.layers
        .batchNormalization({ name: "stem_bn" })
        .apply(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", name: "stem_conv" }).apply(image)),
    ) as tf.SymbolicTensor;
  const project = tf.layers
    .conv2d({ filters: 4, kernelSize: 1, name: "block_project" })
    .apply(
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", name: "block_dw" }).apply(stem),
    ) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: "block_add" }).apply([stem, project]) as tf.SymbolicTensor;
  const mixed = tf.layers
    .concatenate({ name: "mixed_concat" })
    .apply([
      tf.layers.conv2d({ filters: 2, kernelSize: 1, name: "mixed_1x1" }).apply(sum) as tf.SymbolicTensor,
      tf.layers
        .conv2d({ filters: 2, kernelSize: 3, padding: "same", name: "mixed_3x3" })
        .apply(sum) as tf.SymbolicTensor,
    ]) as tf.SymbolicTensor;
  const probs = tf.layers
    .dense({ units: 5, activation: "softmax", name: "probs" })
    .apply(tf.layers.globalAveragePooling2d({ name: "pool" }).apply(mixed)) as tf.SymbolicTensor;
  return tf.model({ inputs: image, outputs: probs, name: "residual" });
}

function buildSequential(): tf.LayersModel {
  return tf.sequential({
    name: "seq",
    layers: [
      tf.layers.flatten({ inputShape: [4, 2], name: "seq_flatten" }),
      tf.layers.dense({ units: 6, activation: "relu", name: "seq_hidden" }),
      tf.layers.dense({ units: 3, name: "seq_out" }),
    ],
  });
}

/** Replaces the random initial weights with seeded ones (variances positive), so runs are reproducible. */
function seedWeights(model: tf.LayersModel, seed: number) {
  const next = mulberry32(seed);
  model.setWeights(
    model.weights.map((w) => {
      const shape = w.shape as number[];
      return tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () =>
          w.originalName.endsWith("moving_variance") ? 1 + next() / 2 : next() / 2,
        ),
        shape,
      );
    }),
  );
}

/** The model.json `layout` gives `artifacts` (what model.save() hands its save handler). */
function layoutJson(
  artifacts: tf.io.ModelArtifacts,
  layout: LayersLayout,
  weightsManifest: unknown,
): Record<string, unknown> {
  const { keras_version: _v, backend: _b, ...config } = artifacts.modelTopology as Record<string, unknown>;
  if (layout === "tfjs")
    return {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest,
    };
  const trainingConfig = {
    optimizer_config: {
      class_name: "Adam",
      config: { lr: 0.001, beta_1: 0.9, beta_2: 0.999, decay: 0, epsilon: 1e-7, amsgrad: false },
    },
    loss: "categorical_crossentropy",
    metrics: ["accuracy"],
    sample_weight_mode: null,
    loss_weights: null,
  };
  if (layout === "keras-2.4") {
    if (config.class_name !== "Model") throw new Error("keras-2.4 is a functional layout");
    return {
      format: "layers-model",
      generatedBy: "keras v2.4.0",
      convertedBy: "TensorFlow.js Converter v2.8.6",
      modelTopology: {
        keras_version: "2.4.0",
        backend: "tensorflow",
        model_config: { ...config, class_name: "Functional" },
        training_config: trainingConfig,
      },
      weightsManifest,
    };
  }
  let modelConfig = config;
  if (layout === "keras-2.2-list") {
    if (config.class_name !== "Sequential") throw new Error("keras-2.2-list is a Sequential layout");
    modelConfig = { class_name: "Sequential", config: (config.config as { layers: unknown[] }).layers };
  }
  return {
    modelTopology: {
      keras_version: "2.2.4",
      backend: "tensorflow",
      model_config: modelConfig,
      training_config: trainingConfig,
    },
    weightsManifest,
  };
}

/**
 * Writes a `kind` model into `dir` in `layout`: model.json and two weight shards
 * (group1-shard1of2.bin, group1-shard2of2.bin), as tensorflowjs_converter shards them.
 */
export async function writeLayersModel(
  dir: string,
  kind: LayersModelKind,
  layout: LayersLayout,
): Promise<WrittenLayersModel> {
  await tf.setBackend("cpu");
  const model = kind === "residual" ? buildResidual() : buildSequential();
  seedWeights(model, kind === "residual" ? 7 : 11);
  let artifacts: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  const a = artifacts!;
  const data = Buffer.from(a.weightData as ArrayBuffer);
  const cut = Math.floor(data.length / 8) * 4; // on a float boundary, as the converter cuts shards
  const paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, paths[0]!), data.subarray(0, cut));
  fs.writeFileSync(path.join(dir, paths[1]!), data.subarray(cut));
  fs.writeFileSync(
    path.join(dir, "model.json"),
    JSON.stringify(layoutJson(a, layout, [{ paths, weights: a.weightSpecs }])),
  );
  const outShape = model.outputs[0]!.shape.slice(1) as number[];
  return kind === "residual"
    ? { dir, model, input: { name: "image", shape: [-1, 8, 8, 3] }, output: { name: "probs", shape: [1, ...outShape] } }
    : {
        dir,
        model,
        input: { name: "seq_flatten_input", shape: [-1, 4, 2] },
        output: { name: "seq_out", shape: [1, ...outShape] },
      };
}

/** Loads `dir` with TF.js's own tf.loadLayersModel (model.json and shards read from disk, concatenated). */
export async function loadWithTfjs(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  };
  const data = Buffer.concat(
    json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))),
  );
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData,
    }),
  );
}

/** The first output values TF.js computes for the batch-1 input the sandbox child synthesises (seed 1). */
export async function expectedFirstOutputs(model: tf.LayersModel, inputShape: number[], seed = 1): Promise<number[]> {
  const shape = inputShape.map((d) => (d < 0 ? 1 : d));
  const next = mulberry32(seed);
  const x = tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next), shape, "float32");
  const y = model.predict(x) as tf.Tensor;
  const values = Array.from(await y.data()).slice(0, 16);
  tf.dispose([x, y]);
  return values;
}
