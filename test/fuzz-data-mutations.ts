/** Deterministic damage to data sets (CIFAR-10 binary, IDX, gzip, image folders), written into a case folder. */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { SHARED, rng } from './robust-fixtures';

type Random = () => number;
const int = (r: Random, n: number) => Math.floor(r() * n);
const pick = <T>(r: Random, items: readonly T[]): T => items[int(r, items.length)];

let cifarBase: Buffer | undefined;
let idxBase: { images: Buffer; labels: Buffer } | undefined;

/** The first 6 CIFAR-10 test records. */
function cifar(): Buffer {
  cifarBase ??= fs.readFileSync(path.join(SHARED, 'data/cifar10/test_batch_first1000_lossless.bin')).subarray(0, 6 * 3073);
  return cifarBase;
}

/** The first 6 Fashion-MNIST calibration images and labels as IDX (headers rewritten for 6 items). */
function idx(): { images: Buffer; labels: Buffer } {
  if (!idxBase) {
    const images = zlib.gunzipSync(fs.readFileSync(path.join(SHARED, 'data/fmnist/calib1000-images-idx3-ubyte.gz')));
    const labels = zlib.gunzipSync(fs.readFileSync(path.join(SHARED, 'data/fmnist/calib1000-labels-idx1-ubyte.gz')));
    const img = Buffer.from(images.subarray(0, 16 + 6 * 784));
    img.writeUInt32BE(6, 4);
    const lab = Buffer.from(labels.subarray(0, 8 + 6));
    lab.writeUInt32BE(6, 4);
    idxBase = { images: img, labels: lab };
  }
  return idxBase;
}

function png(r: Random, width: number, height: number): Buffer {
  const p = new PNG({ width, height });
  for (let i = 0; i < p.data.length; i++) p.data[i] = int(r, 256);
  return PNG.sync.write(p);
}

function jpg(r: Random, width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = int(r, 256);
  return Buffer.from(jpeg.encode({ data, width, height }, 80).data);
}

/** Flips 1–6 bits, most in the first `hot` bytes (headers), some anywhere. */
function flipBits(r: Random, bytes: Buffer, hot: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0, n = 1 + int(r, 6); i < n; i++) {
    const at = r() < 0.7 ? int(r, Math.min(hot, out.length)) : int(r, out.length);
    out[at] ^= 1 << int(r, 8);
  }
  return out;
}

function damage(r: Random, bytes: Buffer, hot: number): [string, Buffer] {
  switch (int(r, 5)) {
    case 0: return ['bit flips', flipBits(r, bytes, hot)];
    case 1: { const cut = int(r, bytes.length); return [`truncated to ${cut}`, bytes.subarray(0, cut)]; }
    case 2: return ['junk appended', Buffer.concat([bytes, Buffer.from(Array.from({ length: 1 + int(r, 3100) }, () => int(r, 256)))])];
    case 3: return ['gzip then damaged', flipBits(r, zlib.gzipSync(bytes), 40)];
    default: { const g = zlib.gzipSync(bytes); return ['gzip truncated', g.subarray(0, int(r, g.length))]; }
  }
}

export const DATA_STRATEGIES: Record<string, (r: Random, dir: string) => { description: string; dataPath: string }> = {
  cifar(r, dir) {
    const [what, bytes] = r() < 0.2 ? ['empty', Buffer.alloc(0)] as [string, Buffer] : damage(r, cifar(), 3073 * 2);
    const gz = what.startsWith('gzip') || r() < 0.1;
    const file = path.join(dir, gz ? 'data.bin.gz' : 'data.bin');
    fs.writeFileSync(file, bytes);
    return { description: `CIFAR-10 ${what}`, dataPath: file };
  },
  idx(r, dir) {
    const base = idx();
    const target = r() < 0.6 ? 'images' : 'labels';
    const [what, bytes] = damage(r, base[target], 16);
    const gz = what.startsWith('gzip');
    const names = { images: `x-images-idx3-ubyte${gz && target === 'images' ? '.gz' : ''}`, labels: `x-labels-idx1-ubyte${gz && target === 'labels' ? '.gz' : ''}` };
    fs.writeFileSync(path.join(dir, names.images), target === 'images' ? bytes : base.images);
    if (r() > 0.05) fs.writeFileSync(path.join(dir, names.labels), target === 'labels' ? bytes : base.labels);
    return { description: `IDX ${target} ${what}`, dataPath: path.join(dir, names.images) };
  },
  idxHeader(r, dir) {
    const images = Buffer.from(idx().images);
    const field = pick(r, [2, 3, 4, 8, 12]);
    if (field < 4) images[field] = pick(r, [0, 1, 3, 5, 8, 9, 13, 255]);
    else images.writeUInt32BE(pick(r, [0, 1, 5, 7, 28, 65536, 2 ** 31, 2 ** 32 - 1]), field);
    fs.writeFileSync(path.join(dir, 'x-images-idx3-ubyte'), images);
    fs.writeFileSync(path.join(dir, 'x-labels-idx1-ubyte'), idx().labels);
    return { description: `IDX header byte ${field} altered`, dataPath: path.join(dir, 'x-images-idx3-ubyte') };
  },
  imageFolder(r, dir) {
    const root = path.join(dir, 'images');
    const files: string[] = [];
    for (const cls of ['cat', 'dog']) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      for (let i = 0; i < 2; i++) {
        const file = path.join(root, cls, `${i}.${i === 0 ? 'png' : 'jpg'}`);
        fs.writeFileSync(file, i === 0 ? png(r, 8, 8) : jpg(r, 8, 8));
        files.push(file);
      }
    }
    const victim = pick(r, files);
    const kind = int(r, 8);
    let description: string;
    if (kind <= 2) {
      const [what, bytes] = damage(r, fs.readFileSync(victim), 64);
      fs.writeFileSync(victim, bytes);
      description = `${path.basename(victim)} ${what}`;
    } else if (kind === 3) {
      fs.writeFileSync(victim, victim.endsWith('png') ? png(r, pick(r, [1, 7, 9, 64]), 8) : jpg(r, 8, pick(r, [1, 16])));
      description = `${path.basename(victim)} has another size`;
    } else if (kind === 4) {
      fs.writeFileSync(victim, victim.endsWith('png') ? jpg(r, 8, 8) : png(r, 8, 8));
      description = `${path.basename(victim)} holds the other format`;
    } else if (kind === 5) {
      fs.writeFileSync(victim, Buffer.alloc(int(r, 3)));
      description = `${path.basename(victim)} nearly empty`;
    } else if (kind === 6) {
      for (const f of files) fs.rmSync(f);
      if (r() < 0.5) fs.rmSync(path.join(root, 'dog'), { recursive: true });
      description = 'no images';
    } else {
      const header = fs.readFileSync(files[0]);
      header.writeUInt32BE(pick(r, [0, 100000, 2 ** 31]), 16); // PNG IHDR width
      fs.writeFileSync(files[0], header);
      description = 'PNG header declares a huge or empty width';
    }
    return { description, dataPath: root };
  },
};

export const DATA_STRATEGY_NAMES = Object.keys(DATA_STRATEGIES);

/** Writes case `seed` of `strategy` into `dir` (an empty folder) and returns the path to open. */
export function generateDataCase(strategy: string, seed: number, dir: string): { description: string; dataPath: string } {
  const make = DATA_STRATEGIES[strategy];
  if (!make) throw new Error(`unknown data fuzz strategy ${strategy}`);
  return make(rng(seed * 104729 + DATA_STRATEGY_NAMES.indexOf(strategy)), dir);
}
