// Problems found in a matrix file, each tied to a key path, and how a path becomes a line.
// Every problem is reported as "FILE:LINE: KEY: what is wrong — fix: what to do".

import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { InputError } from '../core/errors.ts';

export type KeyPath = Array<string | number>;

export interface Problem {
  path: KeyPath;
  message: string;
  fix: string;
}

const FIX_SEPARATOR = ' — fix: ';

/** Encode a message and its fix into one string (zod carries one message per issue). */
export function withFix(message: string, fix: string): string {
  return `${message}${FIX_SEPARATOR}${fix}`;
}

export function splitFix(text: string): { message: string; fix: string } {
  const at = text.indexOf(FIX_SEPARATOR);
  if (at < 0) return { message: text, fix: 'see docs/matrix.md' };
  return { message: text.slice(0, at), fix: text.slice(at + FIX_SEPARATOR.length) };
}

/** `scenarios[0].rate[1].bitrate` */
export function formatKeyPath(path: KeyPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Maps key paths of the parsed value back to lines of the file. */
export class SourceMap {
  constructor(
    private readonly doc: Document.Parsed | null,
    private readonly lines: LineCounter | null,
  ) {}

  /**
   * The line of the deepest node on `path` that exists (a key's own line when reached
   * through a key), and the path trimmed of list indexes the file never wrote (a scalar
   * given where a list is accepted is treated as a one-item list).
   */
  locate(path: KeyPath): { line: number | null; path: KeyPath } {
    if (!this.doc || !this.lines) return { line: null, path };
    let node: unknown = this.doc.contents;
    let offset: number | null = rangeStart(node);
    const shown: KeyPath = [];
    for (let i = 0; i < path.length; i++) {
      const part = path[i];
      if (typeof part === 'number') {
        if (isSeq(node) && part < node.items.length) {
          shown.push(part);
          node = node.items[part];
          offset = rangeStart(node) ?? offset;
          continue;
        }
        // a single value given where a list is accepted: no [0] in the shown path
        if (part === 0 && !isSeq(node) && node !== null && node !== undefined) continue;
      } else if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === part);
        if (pair) {
          shown.push(part);
          offset = rangeStart(pair.key) ?? offset;
          node = pair.value;
          continue;
        }
      }
      shown.push(...path.slice(i));
      break;
    }
    return { line: offset === null ? null : this.lines.linePos(offset).line, path: shown };
  }
}

function rangeStart(node: unknown): number | null {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as Node).range;
    if (range) return range[0];
  }
  return null;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}

export function formatProblem(
  fileName: string,
  map: SourceMap,
  p: Problem,
): { text: string; line: number | null; field: string } {
  const { line, path } = map.locate(p.path);
  const field = formatKeyPath(path);
  const where = line === null ? fileName : `${fileName}:${line}`;
  return { text: `${where}: ${field}: ${p.message}${FIX_SEPARATOR}${p.fix}`, line, field };
}

/** Throw all problems as one InputError (exit 2); details name the first. */
export function throwProblems(fileName: string, map: SourceMap, problems: Problem[]): never {
  const shown = problems.slice(0, 25).map((p) => ({ ...formatProblem(fileName, map, p), fix: p.fix }));
  const more = problems.length > shown.length ? [`… and ${problems.length - shown.length} more`] : [];
  const head = problems.length > 1 ? [`matrix ${fileName} has ${problems.length} problems:`] : [];
  const first = shown[0];
  throw new InputError([...head, ...shown.map((s) => s.text), ...more].join('\n'), {
    file: fileName,
    line: first.line ?? undefined,
    field: first.field,
    fix: first.fix,
  });
}

/** Closest allowed word, for "did you mean" hints (edit distance ≤ 2, or a prefix). */
export function closest(word: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = 3;
  for (const a of allowed) {
    const d = editDistance(word.toLowerCase(), a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  if (best) return best;
  return allowed.find((a) => a.startsWith(word) || word.startsWith(a));
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
