/** The `quantInspector.*` settings, read with defaults. */
import * as vscode from 'vscode';

export interface Settings {
  weightBits: number;
  activationBits: number;
  method: string;
  granularity: string;
  calibrationData: string;
  testData: string;
  calibrationImages: number;
  testImages: number;
  preprocessing: Record<string, { mean?: number[]; std?: number[] }>;
  modelSourceFiles: string[];
  maxModelSizeMB: number;
  maxTensorElements: number;
}

export const METHODS = ['percentile', 'minmax', 'sigma3', 'mse', 'entropy'] as const;

export function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration('quantInspector', scope);
  return {
    weightBits: c.get('defaultWeightBits', 8),
    activationBits: c.get('defaultActivationBits', 8),
    method: c.get('method', 'percentile'),
    granularity: c.get('granularity', 'per-channel'),
    calibrationData: c.get('calibrationData', ''),
    testData: c.get('testData', ''),
    calibrationImages: c.get('calibrationImages', 256),
    testImages: c.get('testImages', 500),
    preprocessing: c.get('preprocessing', {}),
    modelSourceFiles: c.get('modelSourceFiles', []),
    maxModelSizeMB: c.get('maxModelSizeMB', 512),
    maxTensorElements: c.get('maxTensorElements', 100_000_000),
  };
}

/** mean/std configured for one model: the key is the model's file name or a path ending. */
export function preprocessingFor(settings: Settings, modelPath: string): { mean?: number[]; std?: number[] } {
  const entry = Object.entries(settings.preprocessing).find(([k]) => modelPath === k || modelPath.endsWith('/' + k) || modelPath.endsWith(k));
  return entry ? entry[1] : {};
}
