import cliProgress from 'cli-progress';
import type { FfwattEvent } from '../core/types.ts';

export interface ProgressDisplay {
  onEvent(ev: FfwattEvent): void;
  /** Total jobs may grow while the campaign runs (adaptive repetitions). */
  setTotal(total: number): void;
  stop(): void;
}

function fmtEta(seconds: number | null): string {
  if (seconds == null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Tracks counts and timing shared by both displays. */
class ProgressState {
  total = 0;
  done = 0;
  failed = 0;
  canceled = 0;
  current = '';
  repetition = 0;
  phase = '';
  fps: number | null = null;
  speed: number | null = null;
  private started = Date.now();

  eta(): number | null {
    if (this.done === 0) return null;
    const perJob = (Date.now() - this.started) / 1000 / this.done;
    return perJob * Math.max(0, this.total - this.done);
  }

  apply(ev: FfwattEvent): void {
    if (ev.kind === 'job') {
      this.current = ev.scenario.label;
      this.repetition = ev.repetition;
      this.phase = ev.phase;
      if (ev.phase === 'warmup') (this.fps = null), (this.speed = null);
    } else if (ev.kind === 'progress') {
      this.fps = ev.fps;
      this.speed = ev.speed;
    } else if (ev.kind === 'result') {
      this.done += 1;
      // A canceled job is not a failure: counted apart.
      if (ev.record.status === 'failed') this.failed += 1;
      else if (ev.record.status === 'canceled') this.canceled += 1;
    } else if (ev.kind === 'idle') {
      this.phase = ev.phase === 'start' ? `idle baseline ${ev.seconds}s` : 'idle measured';
    }
  }
}

/** A live bar on a terminal; plain lines (one per phase change and result) otherwise. */
export function createProgressDisplay(opts: { tty?: boolean; write?: (s: string) => void } = {}): ProgressDisplay {
  const tty = opts.tty ?? Boolean(process.stderr.isTTY);
  const write = opts.write ?? ((s: string) => process.stderr.write(s + '\n'));
  const st = new ProgressState();
  if (!tty) {
    return {
      setTotal: (n) => (st.total = n),
      onEvent(ev) {
        st.apply(ev);
        if (ev.kind === 'job' && ev.phase !== 'done')
          write(`[${st.done + 1}/${st.total}] ${ev.scenario.label} rep ${ev.repetition}: ${ev.phase}`);
        else if (ev.kind === 'idle')
          write(
            `idle baseline: ${ev.phase === 'start' ? `measuring ${ev.seconds} s, keep the machine quiet` : `${ev.watts?.toFixed(2)} W (${ev.source})`}`,
          );
        else if (ev.kind === 'result') {
          const r = ev.record;
          const e = r.energy;
          const figure =
            e?.jPerEncodedMinute != null
              ? `${e.jPerEncodedMinute.toFixed(1)} J/encoded min (${e.source})`
              : 'no energy figure';
          write(
            `[${st.done}/${st.total}] ${r.status}: ${figure}, ${r.fps?.toFixed(1) ?? '-'} fps, speed ${r.speed?.toFixed(2) ?? '-'}x${r.error ? ` — ${r.error}` : ''} | ETA ${fmtEta(st.eta())}`,
          );
        } else if (ev.kind === 'error') write(`error: ${ev.message}`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: 'cell {value}/{total} |{bar}| rep {rep} {label} {phase} | {fps} fps | {speed}x | ETA {etaText}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(1, 0, { rep: 0, label: '', phase: '', fps: '-', speed: '-', etaText: '--:--' });
  const payload = () => ({
    rep: st.repetition,
    label: st.current,
    phase: st.phase,
    fps: st.fps?.toFixed(1) ?? '-',
    speed: st.speed?.toFixed(2) ?? '-',
    etaText: fmtEta(st.eta()),
  });
  return {
    setTotal(n) {
      st.total = n;
      bar.setTotal(Math.max(1, n));
    },
    onEvent(ev) {
      st.apply(ev);
      bar.update(st.done, payload());
    },
    stop() {
      bar.update(st.done, payload());
      bar.stop();
    },
  };
}
