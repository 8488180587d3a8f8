// Throughput of a TUS upload (tus-js-client, 6 MiB chunks) next to one REST
// upload of the same bytes, with the server's peak RSS during each. Run by
// `BENCH=1 e2e/tus-js/run.sh` (SERVER_PID is the server; its peak RSS is
// reset through /proc/<pid>/clear_refs before each run). BENCH_SIZE and
// BENCH_RUNS change the size (256 MiB) and the runs per method (5).
import { readFileSync, writeFileSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import * as tus from 'tus-js-client'

const url = process.env.STORAGE_URL
const auth = { authorization: `Bearer ${process.env.SERVICE_KEY}` }
const pid = process.env.SERVER_PID
const size = Number(process.env.BENCH_SIZE || 256 << 20)
const runs = Number(process.env.BENCH_RUNS || 5)
const chunkSize = 6 << 20
const mib = 1 << 20

const status = () => readFileSync(`/proc/${pid}/status`, 'utf8')
const kib = (field) => Number(status().match(new RegExp(`${field}:\\s+(\\d+) kB`))[1])
const resetPeak = () => writeFileSync(`/proc/${pid}/clear_refs`, '5')

async function restUpload(data, name) {
  const r = await fetch(`${url}/object/bench/${name}`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }, body: data,
  })
  if (r.status !== 200) throw new Error(`REST upload: ${r.status} ${await r.text()}`)
}

function tusUpload(data, name) {
  return new Promise((resolve, reject) => {
    const u = new tus.Upload(data, {
      endpoint: `${url}/upload/resumable`, chunkSize, retryDelays: [],
      headers: { ...auth, 'x-upsert': 'true' },
      metadata: { bucketName: 'bench', objectName: name },
      onSuccess: resolve, onError: reject,
    })
    u.start()
  })
}

// measure runs the methods in turn (so neither gets the other's disk
// writeback), runs times each, and prints the median throughput and the
// server's peak RSS per method.
async function measure(methods, data) {
  const rows = Object.fromEntries(methods.map(([label]) => [label, []]))
  for (let i = 0; i < runs; i++) {
    for (const [label, fn] of methods) {
      resetPeak()
      const before = kib('VmRSS')
      const start = process.hrtime.bigint()
      await fn(data, `${label.replaceAll(' ', '-')}-${i}.bin`)
      const secs = Number(process.hrtime.bigint() - start) / 1e9
      rows[label].push({ secs, mibps: size / mib / secs, peak: kib('VmHWM'), before })
    }
  }
  for (const [label] of methods) {
    const rs = rows[label].slice().sort((a, b) => a.secs - b.secs)
    const med = rs[Math.floor(rs.length / 2)]
    console.log(`${label.padEnd(22)} ${(size / mib).toFixed(0)} MiB  median ${med.secs.toFixed(2)} s  ${med.mibps.toFixed(0)} MiB/s` +
      `  (runs: ${rows[label].map((r) => r.mibps.toFixed(0)).join(', ')} MiB/s)` +
      `  server RSS before ${(Math.min(...rs.map((r) => r.before)) / 1024).toFixed(0)} MiB, peak ${(Math.max(...rs.map((r) => r.peak)) / 1024).toFixed(0)} MiB`)
  }
}

const r = await fetch(`${url}/bucket`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
if (r.status !== 200) throw new Error(`create bucket: ${r.status} ${await r.text()}`)
const data = randomBytes(size)
console.log(`${size / mib} MiB, sha256 ${createHash('sha256').update(data).digest('hex').slice(0, 16)}…, ${runs} runs each, server pid ${pid}`)
await measure([['REST single upload', restUpload], ['TUS 6 MiB chunks', tusUpload]], data)
