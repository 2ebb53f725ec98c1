import type { NodeInfo } from '../../core/types.ts';
import { withMaster, type MasterFlags } from './connect.ts';
import { ago, renderTable } from './table.ts';

/** `ffwatt nodes`: the master's nodes with state, hardware class, CPU, GPU, encoders and last heartbeat. */
export async function nodesCommand(o: MasterFlags & { json?: boolean }): Promise<number> {
  return withMaster(o, async (m) => {
    const { nodes } = await m.request<{ nodes: NodeInfo[] }>('GET', '/nodes');
    if (o.json) {
      process.stdout.write(JSON.stringify({ master: m.url, nodes }, null, 2) + '\n');
      return 0;
    }
    if (nodes.length === 0) {
      process.stdout.write(`no node has registered with ${m.url} yet (start agents: docs/fleet.md)\n`);
      return 0;
    }
    const hw = (n: NodeInfo, k: string) =>
      (n.hardware as Record<string, unknown>)[k] as string | number | null | undefined;
    process.stdout.write(
      renderTable(
        ['node', 'hostname', 'state', 'hardware class', 'cpu', 'gpu', 'encoders', 'last heartbeat'],
        nodes.map((n) => [
          n.id,
          n.hostname,
          n.state,
          n.hardwareClass,
          hw(n, 'cpuModel'),
          hw(n, 'gpu'),
          Object.values(n.encoders).join(','),
          ago(n.lastHeartbeat),
        ]),
      ),
    );
    return 0;
  });
}
