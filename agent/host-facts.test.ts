import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputHash } from './host-facts.ts';

describe('inputHash', () => {
  it('is the SHA-256 of a file input and changes when the file does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ffwatt-hash-'));
    const path = join(dir, 'in.mp4');
    writeFileSync(path, 'first');
    const input = { kind: 'file' as const, path, resolution: { width: 320, height: 240 }, fps: 30 };
    expect(await inputHash(input)).toBe(createHash('sha256').update('first').digest('hex'));
    writeFileSync(path, 'second, longer');
    expect(await inputHash(input)).toBe(createHash('sha256').update('second, longer').digest('hex'));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is stable for a synthetic source and differs between sources', async () => {
    const a = { kind: 'synthetic' as const, source: 'testsrc2' as const, resolution: { width: 320, height: 240 }, fps: 30 };
    expect(await inputHash(a)).toBe(await inputHash({ ...a }));
    expect(await inputHash(a)).not.toBe(await inputHash({ ...a, source: 'smptehdbars' }));
  });
});
