// scripts/onnx/run.js: run an ONNX model with ONNX Runtime (onnxruntime-node,
// CPU) for gtl's tests and benchmarks. Test set-up only: gtl never needs it.
//
//   node run.js MODEL.onnx THREADS IN.npy OUT.npy [IN2.npy OUT2.npy ...]
//     runs the model's first input on each float32 .npy and writes its first
//     output as float32 .npy.
//   node run.js --bench MODEL.onnx ARCH THREADS BATCH SIZE WARMUP STEPS
//     times STEPS runs on a random [BATCH, 3, SIZE, SIZE] input after WARMUP
//     runs and prints one JSON line in scripts/bench/pytorch_ref.py's schema
//     (tool "onnxruntime"), for scripts/bench/table.py.
//
// NODE_PATH must reach onnxruntime-node (scripts/onnx/setup.sh installs it).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function readNpy(path) {
  const b = fs.readFileSync(path);
  if (b.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + hlen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, start);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${path}: want float32 ('<f4'), header ${header.trim()}`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${path}: Fortran order`);
  const m = header.match(/'shape':\s*\(([^)]*)\)/);
  const shape = m[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const n = shape.reduce((a, c) => a * c, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = b.readFloatLE(start + 4 * i);
  return new ort.Tensor('float32', data, shape);
}

function writeNpy(path, t) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')}${t.dims.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const h = Buffer.alloc(10);
  h.write('\x93NUMPY', 0, 'latin1');
  h[6] = 1; h[7] = 0;
  h.writeUInt16LE(header.length, 8);
  const d = Buffer.alloc(4 * t.data.length);
  for (let i = 0; i < t.data.length; i++) d.writeFloatLE(t.data[i], 4 * i);
  fs.writeFileSync(path, Buffer.concat([h, Buffer.from(header, 'latin1'), d]));
}

async function session(model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', executionProviders: ['cpu'],
  });
}

async function main(argv) {
  if (argv[0] === '--bench') {
    const [model, arch] = [argv[1], argv[2]];
    const [threads, batch, size, warmup, steps] = argv.slice(3, 8).map(Number);
    const s = await session(model, threads);
    const n = batch * 3 * size * size;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.random() * 2 - 1;
    const feeds = { [s.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, size, size]) };
    for (let i = 0; i < warmup; i++) await s.run(feeds);
    const times = [];
    const began = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) {
      const t0 = process.hrtime.bigint();
      await s.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const total = Number(process.hrtime.bigint() - began) / 1e9;
    times.sort((a, b) => a - b);
    const pct = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
    const cpu = require('os').cpus()[0];
    console.log(JSON.stringify({
      tool: 'onnxruntime', model: arch, mode: 'infer', batch, image_size: size, device: 'cpu',
      device_name: cpu ? cpu.model.trim() : 'cpu', amp: null, channels_last: false, freeze: 0, threads, steps, warmup,
      images_per_s: batch * steps / total, step_p50_ms: pct(0.5) * 1e3, step_p90_ms: pct(0.9) * 1e3,
      peak_mem_bytes: process.memoryUsage().rss, peak_mem_kind: 'rss', onnxruntime: require('onnxruntime-node/package.json').version,
    }));
    return;
  }
  const [model, threads] = [argv[0], Number(argv[1])];
  if (!model || !(threads > 0) || argv.length < 4 || argv.length % 2 !== 0) {
    throw new Error('usage: node run.js MODEL.onnx THREADS IN.npy OUT.npy [IN2.npy OUT2.npy ...]');
  }
  const s = await session(model, threads);
  for (let i = 2; i < argv.length; i += 2) {
    const out = await s.run({ [s.inputNames[0]]: readNpy(argv[i]) });
    writeNpy(argv[i + 1], out[s.outputNames[0]]);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`run.js: ${e.message}`);
  process.exit(1);
});
