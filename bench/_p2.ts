import { scrapeInterleaved, startFfwattExporter } from './lib/scrape.ts';
import { RAPL_2SOCKET_SYSFS } from './lib/meters.ts';
const e = await startFfwattExporter(['--rapl', RAPL_2SOCKET_SYSFS]);
for (const rounds of [200, 200, 1000]) {
  const t0 = performance.now();
  const s = (await scrapeInterleaved([e], rounds)).get('ffwatt')!;
  console.log(rounds, 'cpu/scrape', s.cpuMsPerScrape.toFixed(3), 'ms; wall/scrape', ((performance.now() - t0) / (rounds + 20)).toFixed(2));
}
e.stop(); process.exit(0);
