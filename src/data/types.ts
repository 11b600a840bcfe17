/** Labelled image data sets as the engines consume them: raw uint8 pixels, CHW per image, read a range at a time. */

export type DatasetFormat = 'cifar10-binary' | 'idx' | 'image-folder';

export interface Dataset {
  /** The file or folder the images were read from, for messages. */
  source: string;
  format: DatasetFormat;
  count: number;
  channels: number;
  height: number;
  width: number;
  /** One class index per image (-1 throughout when the data set has no labels). */
  labels: Int32Array;
  /** True for images without labels (a flat folder, an IDX file without its labels): accuracy is unavailable, agreement is not. */
  unlabelled?: boolean;
  /** Class names, when the data set knows them (image folders: the sorted sub-folder names). */
  classNames?: string[];
  /** Pixels of images [start, end) as uint8, each image C×H×W (planes), images back to back. */
  readPixels(start: number, end: number): Uint8Array;
  /** Names the file an image came from, for error messages. */
  describeImage(index: number): string;
}

/** Per-channel normalisation: y = (x * scale - mean[c]) / std[c]. */
export interface Preprocess {
  scale: number;
  mean: number[];
  std: number[];
}

export interface OpenOptions {
  /** Read at most this many images (the first ones). */
  limit?: number;
  /** Channel count wanted for image folders (1: grayscale, 3: RGB); images are converted to it. */
  channels?: number;
  /** Class names in label order (a sidecar's labels): image sub-folders with these names get their index. */
  classNames?: readonly string[];
  /** Resize the images to this size (bilinear) as they are read; without it, image-folder images of a size different from the first image are an error. */
  resize?: { height: number; width: number };
}
