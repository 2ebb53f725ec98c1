// Benchmark (not a test): where the advisor's 100k-candidate time goes. Times (wall and CPU of
// this process, median of 3) one predict() end to end, the feature encoding alone, and
// onnxruntime's session.run on the shipped ensemble with default / 1 / 2 intra-op threads and
// on copies cut to the first K trees of each target. The cut copies only show how session.run
// scales with the tree count: they are NOT valid models (boosting stops early, their error is
// not the model card's), and nothing here changes models/.
//   npx tsx bench/advisor-trees.ts
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { candidates } from './advisor.ts';
import { OnnxAdvisor, loadMeta } from '../advisor/infer.ts';
import { encodeBatch } from '../advisor/features.ts';
import { keepTrees, treesByTarget } from '../advisor/target-subset.ts';
const meta = loadMeta('models/advisor.features.json');
const inputs = candidates(meta, 100_000);
const x = encodeBatch(meta.features, inputs);
const cols = meta.features.columns.length;
const shipped = readFileSync('models/advisor.onnx');
const perTarget = treesByTarget(shipped);
/** A copy of the shipped model cut to the first k trees of each target (timing only: not a valid model). */
function truncated(k: number): string {
  const p = join(tmpdir(), `ffwatt-advisor-first-${k}-trees.onnx`);
  writeFileSync(p, keepTrees(shipped, new Set([...perTarget.values()].flatMap((ids) => ids.slice(0, k)))));
  return p;
}
async function time(label: string, path: string, opts: ort.InferenceSession.SessionOptions = {}) {
  const s = await ort.InferenceSession.create(path, opts);
  const feed = { features: new ort.Tensor('float32', x, [inputs.length, cols]) };
  await s.run(feed);
  const walls: number[] = [],
    cpus: number[] = [];
  for (let r = 0; r < 3; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await s.run(feed);
    walls.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  walls.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  console.log(JSON.stringify({ label, sessionRunWallMs: Math.round(walls[1]), sessionRunCpuMs: Math.round(cpus[1]) }));
  await s.release();
}

// end to end through the advisor (encode + run + decode)
const adv = await OnnxAdvisor.load('models/advisor.onnx');
await adv.predict(inputs.slice(0, 1000));
{
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await adv.predict(inputs);
  const c = process.cpuUsage(c0);
  console.log(
    JSON.stringify({
      label: 'predict e2e shipped',
      wallMs: Math.round(performance.now() - t0),
      cpuMs: Math.round((c.user + c.system) / 1000),
    }),
  );
}
{
  const c0 = process.cpuUsage();
  encodeBatch(meta.features, inputs);
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ label: 'encode', cpuMs: Math.round((c.user + c.system) / 1000) }));
}
await adv.close();
const counts = [...perTarget.values()].map((ids) => ids.length);
await time(`shipped ${counts.join('/')} trees per target, default threads`, 'models/advisor.onnx');
await time('shipped 1 thread', 'models/advisor.onnx', { intraOpNumThreads: 1 });
await time('shipped 2 threads', 'models/advisor.onnx', { intraOpNumThreads: 2 });
for (const k of [25, 10, 5].filter((k) => k < Math.max(...counts))) {
  const p = truncated(k);
  await time(`first ${k} trees/target`, p);
  rmSync(p, { force: true });
}
