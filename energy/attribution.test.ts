import { describe, expect, it } from 'vitest';
import { EstimateMeter } from './estimate.ts';
import { estimateWattsPerLogicalCpu, jobTreeEstimateZone } from './attribution.ts';

describe('job attribution of the estimate', () => {
  it('is CPU seconds of the process tree × W per busy core, a component zone never added to totals', () => {
    const z = jobTreeEstimateZone(3, 12.5, 2);
    expect(z).toMatchObject({
      zone: 'job-process-tree',
      source: 'estimate',
      role: 'component',
      grossJ: 37.5,
      avgW: 18.75,
    });
  });

  it('finds the estimate meter and its figure, and none when the CPU is measured', () => {
    expect(estimateWattsPerLogicalCpu([new EstimateMeter({ wattsPerLogicalCpu: 7 })])).toBe(7);
    expect(estimateWattsPerLogicalCpu([])).toBeNull();
  });
});
