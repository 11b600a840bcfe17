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
  inputShape: Record<string, number[]>;
  resizeImages: boolean;
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
    inputShape: c.get('inputShape', {}),
    resizeImages: c.get('resizeImages', false),
    modelSourceFiles: c.get('modelSourceFiles', []),
    maxModelSizeMB: c.get('maxModelSizeMB', 512),
    maxTensorElements: c.get('maxTensorElements', 100_000_000),
  };
}

/** The entry of a per-model setting: the key is the model's file name or a path ending. */
function entryFor<T>(table: Record<string, T>, modelPath: string): T | undefined {
  return Object.entries(table).find(([k]) => modelPath === k || modelPath.endsWith('/' + k) || modelPath.endsWith(k))?.[1];
}

/** mean/std configured for one model. */
export function preprocessingFor(settings: Settings, modelPath: string): { mean?: number[]; std?: number[] } {
  return entryFor(settings.preprocessing, modelPath) ?? {};
}

/** [C,H,W] configured for a model whose input size is symbolic, when set. */
export function inputShapeFor(settings: Settings, modelPath: string): number[] | undefined {
  const shape = entryFor(settings.inputShape, modelPath);
  return Array.isArray(shape) ? shape : undefined;
}

