import { openDatabase } from '../master/store.ts';
const db = openDatabase('/tmp/anz/p1m.sqlite');
console.log(db.prepare('select sqlite_version() v').get());
const time = (name: string, fn: () => unknown) => { const t = performance.now(); const r = fn(); console.log(name, Math.round(performance.now() - t), Array.isArray(r) ? r.length : r); };
time('multi-path json', () => db.prepare("SELECT json_extract(provenance,'$.ffmpegVersion','$.cpuModel','$.kernel','$.gpu','$.meters') k, node_id, COUNT(*) n FROM run WHERE campaign_id = ? AND status = 'succeeded' GROUP BY k, node_id").all('c-scale'));
time('sql two-pass moments', () => db.prepare(`WITH a AS (SELECT scenario_id, AVG(j_per_encoded_minute) m1, AVG(net_j_per_encoded_minute) m2, AVG(gross_j) m3, AVG(net_j) m4, AVG(avg_w) m5, AVG(fps) m6, AVG(speed) m7, AVG(bitrate_bps) m8, AVG(output_bytes) m9, AVG(media_seconds) m10, AVG(wall_s) m11, AVG(window_s) m12, AVG(psnr) m13, AVG(ssim) m14, AVG(vmaf) m15, AVG(idle_w) m16 FROM run WHERE campaign_id = @c AND status='succeeded' GROUP BY scenario_id)
 SELECT r.scenario_id, COUNT(r.j_per_encoded_minute), a.m1, SUM((r.j_per_encoded_minute-a.m1)*(r.j_per_encoded_minute-a.m1)), COUNT(r.vmaf), a.m15, SUM((r.vmaf-a.m15)*(r.vmaf-a.m15)) FROM run r JOIN a ON a.scenario_id = r.scenario_id WHERE r.campaign_id = @c AND r.status='succeeded' GROUP BY r.scenario_id`).all({ c: 'c-scale' }));
time('status counts', () => db.prepare("SELECT scenario_id, status, COALESCE(energy_source,'none'), COUNT(*) FROM run WHERE campaign_id = ? GROUP BY 1,2,3").all('c-scale'));
time('flags', () => db.prepare("SELECT run.scenario_id s, f.value, COUNT(*) FROM run, json_each(run.flags) f WHERE run.campaign_id = ? AND run.status='succeeded' AND run.flags <> '[]' GROUP BY 1,2").all('c-scale'));
