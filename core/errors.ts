/** Exit codes of every ffwatt command (docs/architecture.md): 0 ok, 1 run failed, 2 bad input. */
export const EXIT_OK = 0;
export const EXIT_RUN_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

/** Bad input from the user (usage, matrix, config): exit code 2, message names the file/field and the fix. */
export class InputError extends Error {
  readonly exitCode = EXIT_BAD_INPUT;
  constructor(
    message: string,
    readonly details: { file?: string; line?: number; field?: string; fix?: string } = {},
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** A run or a service failed for reasons that are not the user's input: exit code 1. */
export class RunError extends Error {
  readonly exitCode = EXIT_RUN_FAILED;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'RunError';
  }
}

export function exitCodeOf(err: unknown): number {
  if (
    err &&
    typeof err === 'object' &&
    'exitCode' in err &&
    typeof (err as { exitCode: unknown }).exitCode === 'number'
  ) {
    return (err as { exitCode: number }).exitCode;
  }
  return EXIT_RUN_FAILED;
}
