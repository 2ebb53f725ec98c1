// Where an FFmpeg input starts, as its banner says: a live puller's first packet keeps the
// publisher's timestamp, so this is the source time its first frame shows (quality/align.ts checks it).
/**
 * The start time FFmpeg reports for input #0 (`Duration: …, start: 4.000000, …`), in seconds;
 * null when the header is not there (e.g. the input never opened).
 */
export function parseInputStartS(stderr: string): number | null {
  const at = stderr.search(/^Input #0, /m);
  if (at < 0) return null;
  const m = /^\s+Duration: [^\n]*?, start: (-?\d+(?:\.\d+)?)/m.exec(stderr.slice(at));
  return m ? Number(m[1]) : null;
}
