/** Profiles the integer engine on one model in-process: node --cpu-prof --import tsx bench/profile-int.ts [model] [batch] [runs]. */
import * as path from 'path';
import { loadModel } from '../src/onnx/load';
import { openDataset } from '../src/data';
import { buildQuantizedModel } from '../src/pipeline/quantize';
import { randomBatches, randomDataset } from './parts';

const file = process.argv[2] ?? path.resolve(__dirname, '../../shared/models/resnet20_cifar10.onnx');
const batch = Number(process.argv[3] ?? 100);
const runs = Number(process.argv[4] ?? 3);
const model = loadModel(file);
const cifar = path.basename(file).startsWith('resnet');
const dataset = cifar ? openDataset(path.resolve(__dirname, '../../shared/data/cifar10/train_first4000.bin'), { limit: 64 }) : randomDataset(model, 64);
const preprocess = cifar ? { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } : { scale: 1 / 255, mean: [0.3], std: [0.35] };
const { intModel } = buildQuantizedModel(model, { dataset, preprocess }, {}, 32, 64);
const x = randomBatches(model, batch, 1)[0];
intModel.run(x);
const t0 = performance.now();
for (let i = 0; i < runs; i++) intModel.run(x);
console.log(`integer engine: ${((batch * runs) / (performance.now() - t0) * 1000).toFixed(0)} images/s (1 thread)`);
