import ort from 'onnxruntime-node';
import { trainAdvisor } from '../advisor/train.ts';
import { writeModelFiles } from '../advisor/model-files.ts';
import { syntheticRows } from '../advisor/test-helpers.ts';
const rows = syntheticRows();
const tr = trainAdvisor(rows);
const p = writeModelFiles(tr, rows, '/tmp/advdiag', 'm').onnx;
const cols = tr.meta.features.columns.length;
for (const n of [1000, 10000, 100000]) {
  for (const threads of [1, 2, 0]) {
    const s = await ort.InferenceSession.create(p, threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {});
    const x = new Float32Array(n * cols);
    for (let i = 0; i < x.length; i++) x[i] = Math.random();
    await s.run({ features: new ort.Tensor('float32', x, [n, cols]) });
    const t0 = performance.now();
    await s.run({ features: new ort.Tensor('float32', x, [n, cols]) });
    console.log(n, 'threads', threads, ((performance.now() - t0) / 1000).toFixed(3), 's');
  }
}
