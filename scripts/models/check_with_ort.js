// Cross-checks the family fixtures against onnxruntime-node: runs every test/fixtures/families/<name>.onnx on the
// 1000 Fashion-MNIST test images and compares its output with the torch output saved in torch_logits/<name>.float32.
// Usage (from the repository root): node scripts/models/check_with_ort.js [name ...]
// Called by make_family_models.py after it has built the models. Exit status 1 if any output differs.
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const ort = require('onnxruntime-node');

const root = path.resolve(__dirname, '../..');
const dir = path.join(root, 'test/fixtures/families');
const shared = process.env.QI_SHARED || path.resolve(root, '../shared');

function readIdx(file, count) {
  const raw = zlib.gunzipSync(fs.readFileSync(file));
  const ndim = raw[3];
  const dims = [];
  for (let i = 0; i < ndim; i++) dims.push(raw.readUInt32BE(4 + 4 * i));
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  return { dims, data: raw.subarray(4 + 4 * ndim, 4 + 4 * ndim + count * per) };
}

async function main() {
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8'));
  const want = process.argv.slice(2);
  const entries = index.models.filter((m) => want.length === 0 || want.includes(m.name));
  const n = index.test.count;
  const imgs = readIdx(path.join(shared, 'data', index.test.file), n);
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = (imgs.data[i] / 255 - index.mean) / index.std;
  let bad = 0;
  for (const m of entries) {
    const session = await ort.InferenceSession.create(path.join(dir, m.file));
    const shape = m.layout === 'NHWC' ? [n, 28, 28, 1] : [n, 1, 28, 28]; // one channel: same bytes either way
    const out = await session.run({ [m.input]: new ort.Tensor('float32', x, shape) });
    const y = out[m.output].data;
    const ref = new Float32Array(fs.readFileSync(path.join(dir, m.torchLogits)).buffer.slice(0));
    let maxAbs = 0, maxRef = 0, agree = 0;
    for (let i = 0; i < ref.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(y[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    const argmax = (a, r) => { let b = 0; for (let k = 1; k < 10; k++) if (a[r * 10 + k] > a[r * 10 + b]) b = k; return b; };
    for (let r = 0; r < n; r++) if (argmax(y, r) === argmax(ref, r)) agree++;
    const ok = y.length === ref.length && maxAbs <= 1e-4 * Math.max(1, maxRef) && agree >= n - 1;
    if (!ok) bad++;
    console.log(`ort ${ok ? 'ok  ' : 'FAIL'} ${m.name.padEnd(20)} max|ort-torch| ${maxAbs.toExponential(2)} ` +
      `(max|torch| ${maxRef.toFixed(2)}), top-1 agreement ${agree}/${n}`);
  }
  process.exit(bad ? 1 : 0);
}
main().catch((e) => { console.error(e); process.exit(2); });
