// `ffwatt recommend --node NAME --master URL`: the node's hardware class comes from a real master
// process with the operator's credentials (as `ffwatt nodes` reads it); the model of that class
// answers, and a node or credential the master does not know is exit 2 naming the fix.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, freePort, runFfwatt, startFfwatt, stop, waitFor, type Proc } from './helpers.ts';
import { trainAdvisor } from '../../advisor/train.ts';
import { writeModelFiles } from '../../advisor/model-files.ts';
import { syntheticRows } from '../../advisor/test-helpers.ts';

const TMP = mkdtempSync(join(tmpdir(), 'ffwatt-recommend-node-'));
const TOKEN_FILE = join(TMP, 'admin.token');
const REG_TOKEN = randomBytes(24).toString('hex');
const CLASS = 'intel-xeon-platinum-8375c-1s2c-8g-5e1c0a77';
let base = '';
let master: Proc;
let model = '';

const ffwatt = (args: string[]) => runFfwatt(args, { FFWATT_MASTER: '', FFWATT_TOKEN_FILE: '' });
const ask = (node: string, extra: string[] = ['--token-file', TOKEN_FILE]) =>
  ffwatt([
    'recommend',
    '--min-vmaf',
    '90',
    '--resolution',
    '640x360',
    '--fps',
    '30',
    '--node',
    node,
    '--master',
    base,
    ...extra,
    '--model',
    model,
    '--limit',
    '2',
  ]);

beforeAll(async () => {
  writeFileSync(TOKEN_FILE, randomBytes(24).toString('hex'));
  writeFileSync(join(TMP, 'registration.token'), REG_TOKEN);
  const rows = syntheticRows({ repetitions: 2 }).map((r) => ({ ...r, hardwareClass: CLASS }));
  model = writeModelFiles(
    trainAdvisor(rows, { seed: 2, gbrt: { nTrees: 40 }, tune: false }),
    rows,
    join(TMP, 'models', CLASS),
  ).onnx;
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  master = startFfwatt([
    'master',
    '--listen',
    `127.0.0.1:${port}`,
    '--data',
    join(TMP, 'data'),
    '--token-file',
    TOKEN_FILE,
    '--registration-token-file',
    join(TMP, 'registration.token'),
  ]);
  await waitFor(
    'master /readyz',
    async () => {
      if (master.child.exitCode !== null) throw new Error(master.output());
      const r = await request(`${base}/readyz`);
      await r.body.text();
      return r.statusCode === 200;
    },
    30_000,
  );
  // what an agent sends when it registers (docs/api.md)
  const reg = await api(base, 'POST', '/nodes/register', {
    token: REG_TOKEN,
    body: {
      id: 'worker-1',
      hostname: 'enc-box-1',
      hardwareClass: CLASS,
      hardware: { cpuModel: 'Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz', cores: 2, kernel: '6.1.0' },
      encoders: { h264: 'libx264' },
      meters: [],
      labels: [],
    },
  });
  expect(reg.status).toBe(201);
}, 120_000);

afterAll(async () => {
  if (master) await stop(master);
  rmSync(TMP, { recursive: true, force: true });
});

describe('ffwatt recommend --node with a master', () => {
  it("plans for the node's hardware class, found by id or hostname", async () => {
    for (const node of ['worker-1', 'enc-box-1']) {
      const r = await ask(node);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(`(class ${CLASS})`);
    }
  }, 120_000);

  it('exits 2 naming the nodes for an unknown node, and the fix for missing credentials', async () => {
    const r = await ask('worker-9');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(`--node worker-9: no such node in the master ${base}; use one of: worker-1`);
    const n = await ask('worker-1', []);
    expect(n.code).toBe(2);
    expect(n.stderr).toMatch(/no credentials for the master: pass --token-file FILE/);
  }, 120_000);
});
