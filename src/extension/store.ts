/**
 * Per-model results and choices kept in workspace storage: every quantize run (newest first, at most MAX_RUNS), so
 * that runs can be compared and reopening a model shows its last one; the sensitivity entries; the last choices.
 */
import type * as vscode from 'vscode';
import { isQuantRun, runLabel, type QuantRun, type SensitivityEntry } from './results';

export interface QuantizeChoice {
  weightBits: number;
  activationBits: number;
  method: string;
  calibrationData: string;
}

/** Runs kept per model; the oldest goes when a new one would make more. */
export const MAX_RUNS = 20;

/** A stored run as the current version reads it: an older one (no id, no label) gets both, from what it has. */
export function normalizeRun(v: QuantRun): QuantRun {
  return { ...v, id: typeof v.id === 'string' && v.id ? v.id : `run-${v.finishedAt ?? 'old'}`, label: typeof v.label === 'string' && v.label ? v.label : runLabel(v.settings) };
}

export class ResultStore {
  constructor(private readonly memento: vscode.Memento) {}

  /**
   * Every kept run of the model, newest first. Reads the list (`runs:<path>`); a workspace written by an older
   * version holds one run under `run:<path>`, which reads as a list of one.
   */
  runs(modelPath: string): QuantRun[] {
    const list = this.memento.get<unknown>(`runs:${modelPath}`);
    if (Array.isArray(list)) {
      const seen = new Set<string>();
      return list.filter(isQuantRun).map(normalizeRun).filter((r) => !seen.has(r.id!) && !!seen.add(r.id!));
    }
    const single = this.memento.get<unknown>(`run:${modelPath}`);
    return isQuantRun(single) ? [normalizeRun(single)] : [];
  }

  /** The newest run (what the editor, the status bar and CodeLens show). */
  run(modelPath: string): QuantRun | undefined {
    return this.runs(modelPath)[0];
  }

  /** Keeps a new run as the newest; the oldest beyond MAX_RUNS are dropped. Returns the run as stored (with its id). */
  async addRun(modelPath: string, run: QuantRun): Promise<QuantRun> {
    const stored = normalizeRun(run);
    const list = [stored, ...this.runs(modelPath).filter((r) => r.id !== stored.id)].slice(0, MAX_RUNS);
    await this.writeRuns(modelPath, list);
    return stored;
  }

  /** Replaces the kept run with the same id (e.g. sensitivity merged into it); a run not kept yet is added as the newest. */
  async setRun(modelPath: string, run: QuantRun): Promise<void> {
    const stored = normalizeRun(run);
    const list = this.runs(modelPath);
    const i = list.findIndex((r) => r.id === stored.id);
    if (i < 0) {
      await this.addRun(modelPath, stored);
      return;
    }
    list[i] = stored;
    await this.writeRuns(modelPath, list);
  }

  /** Forgets one kept run; true when there was one with that id. */
  async removeRun(modelPath: string, id: string): Promise<boolean> {
    const list = this.runs(modelPath);
    const rest = list.filter((r) => r.id !== id);
    if (rest.length === list.length) return false;
    await this.writeRuns(modelPath, rest);
    return true;
  }

  private async writeRuns(modelPath: string, list: QuantRun[]): Promise<void> {
    await this.memento.update(`runs:${modelPath}`, list);
    if (this.memento.get(`run:${modelPath}`) !== undefined) await this.memento.update(`run:${modelPath}`, undefined); // the old single run now lives in the list
  }

  sensitivity(modelPath: string): SensitivityEntry[] | undefined {
    const v = this.memento.get<unknown>(`sensitivity:${modelPath}`);
    return Array.isArray(v) ? (v as SensitivityEntry[]) : undefined;
  }

  async setSensitivity(modelPath: string, entries: SensitivityEntry[]): Promise<void> {
    await this.memento.update(`sensitivity:${modelPath}`, entries);
  }

  choice(modelPath: string): Partial<QuantizeChoice> {
    return this.memento.get<Partial<QuantizeChoice>>(`choice:${modelPath}`) ?? {};
  }

  async setChoice(modelPath: string, choice: Partial<QuantizeChoice>): Promise<void> {
    await this.memento.update(`choice:${modelPath}`, { ...this.choice(modelPath), ...choice });
  }

  /** Models that have stored runs (for CodeLens on their source). */
  modelsWithRuns(): string[] {
    const models = new Set<string>();
    for (const k of this.memento.keys()) {
      const m = k.startsWith('runs:') ? k.slice(5) : k.startsWith('run:') ? k.slice(4) : undefined;
      if (m !== undefined && this.run(m)) models.add(m);
    }
    return [...models];
  }
}
