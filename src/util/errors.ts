/** An error caused by the user's input (file, model, data, option): shown as one line, never a stack trace. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Raised when work is cancelled by the user. */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Accuracy-based studies need labels: an InputError naming the data set and what does not. */
export function requireLabels(dataset: { source: string; unlabelled?: boolean }, why: string): void {
  if (dataset.unlabelled) {
    throw new InputError(`${dataset.source}: the test images have no labels, and this ${why}; give labelled images (class sub-folders, an IDX labels file), or use \`qinspect quantize\` for agreement and SQNR without labels`);
  }
}
