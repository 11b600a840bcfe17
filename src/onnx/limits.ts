/** Caps applied before allocating anything a model file asks for. */
export interface LoadLimits {
  /** Largest model file (plus external data) in bytes. Setting: quantInspector.maxModelSizeMB. */
  maxModelBytes: number;
  /** Largest single tensor in elements. Setting: quantInspector.maxTensorElements. */
  maxTensorElements: number;
}

export const DEFAULT_LIMITS: LoadLimits = {
  maxModelBytes: 1024 * 1024 * 1024,
  maxTensorElements: 256 * 1024 * 1024,
};
