/** Lines that say nothing once a run is over: FFmpeg's stats and progress lines. */
const NOISE = [
  /^\s*frame=\s*\d+/,
  /^\s*size=\s*\S+\s+time=/,
  /^(fps|bitrate|total_size|out_time\w*|dup_frames|drop_frames|speed|progress|stream_\d+_\d+_q)=/,
];

/** The last `limit` bytes of stderr, without progress noise, kept line by line. */
export class StderrTail {
  private lines: string[] = [];
  private bytes = 0;
  private partial = '';
  constructor(private readonly limit = 4096) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r\n|\r|\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
    if (this.partial.length > this.limit) {
      this.add(this.partial);
      this.partial = '';
    }
  }

  private add(line: string): void {
    if (line.trim() === '' || NOISE.some((re) => re.test(line))) return;
    const l = line.length > this.limit ? line.slice(-this.limit) : line;
    this.lines.push(l);
    this.bytes += l.length + 1;
    while (this.bytes > this.limit && this.lines.length > 1) this.bytes -= this.lines.shift()!.length + 1;
  }

  text(): string {
    if (this.partial) {
      this.add(this.partial);
      this.partial = '';
    }
    return this.lines.join('\n');
  }
}
