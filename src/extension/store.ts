/** Per-model results and choices kept in workspace storage, so reopening a model shows its last run. */
import type * as vscode from 'vscode';
import { isQuantRun, type QuantRun, type SensitivityEntry } from './results';

export interface QuantizeChoice {
  weightBits: number;
  activationBits: number;
  method: string;
  calibrationData: string;
}

export class ResultStore {
  constructor(private readonly memento: vscode.Memento) {}

  run(modelPath: string): QuantRun | undefined {
    const v = this.memento.get<unknown>(`run:${modelPath}`);
    return isQuantRun(v) ? v : undefined;
  }

  async setRun(modelPath: string, run: QuantRun): Promise<void> {
    await this.memento.update(`run:${modelPath}`, run);
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
    return this.memento.keys().filter((k) => k.startsWith('run:')).map((k) => k.slice(4));
  }
}
