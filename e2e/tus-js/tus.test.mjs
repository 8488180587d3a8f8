// End-to-end test of resumable uploads with tus-js-client (what Uppy and
// supabase apps use): a 64 MiB file in 6 MiB chunks, cut off mid-chunk and
// resumed by a second Upload from its URL, then read back through the REST
// front and the S3 front and compared. Run by e2e/tus-js/run.sh (or any
// driver) with STORAGE_URL, SERVICE_KEY, S3_ENDPOINT (with its /s3 prefix),
// S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY; cmd/storage's TestTusJS runs it
// in go test (without S3_ENDPOINT the S3 read-back is skipped). TUS_SIZE
// changes the size.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import * as tus from 'tus-js-client'
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3'

const url = process.env.STORAGE_URL
const key = process.env.SERVICE_KEY
const size = Number(process.env.TUS_SIZE || 64 << 20)
const chunkSize = 6 << 20
const bucket = 'tus-e2e'
const auth = { authorization: `Bearer ${key}` }

const sha256 = (b) => createHash('sha256').update(b).digest('hex')

before(async () => {
  assert.ok(url && key, 'STORAGE_URL and SERVICE_KEY must be set')
  const r = await fetch(`${url}/bucket`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ name: bucket, public: false }),
  })
  assert.equal(r.status, 200, await r.text())
})

// upload runs one tus.Upload until it succeeds, fails, or stop() says to
// abort it; it resolves with how it ended.
function upload(data, options, stop = () => false) {
  return new Promise((resolve) => {
    const u = new tus.Upload(data, {
      endpoint: `${url}/upload/resumable`,
      chunkSize,
      retryDelays: [0, 500, 1000, 2000],
      headers: { ...auth, 'x-upsert': 'true' },
      ...options,
      onProgress(sent) {
        if (stop(sent)) {
          u.abort().then(() => resolve({ aborted: true, url: u.url }))
        }
      },
      onSuccess: () => resolve({ url: u.url }),
      onError: (error) => resolve({ error, url: u.url }),
    })
    u.start()
  })
}

async function headOffset(uploadURL) {
  const r = await fetch(uploadURL, { method: 'HEAD', headers: { ...auth, 'tus-resumable': '1.0.0' } })
  assert.equal(r.status, 200)
  return Number(r.headers.get('upload-offset'))
}

test('a 64 MiB upload in 6 MiB chunks, cut off and resumed, reads back through REST and S3', async () => {
  const data = randomBytes(size)
  const name = `dir/tus ${size}.bin`
  const metadata = { bucketName: bucket, objectName: name, contentType: 'application/x-e2e', cacheControl: '60' }

  // Abort in the middle of the fourth chunk: the first three are stored.
  const cut = 3 * chunkSize + chunkSize / 2
  const first = await upload(data, { metadata }, (sent) => sent >= cut)
  assert.ok(first.aborted, first.error && String(first.error))
  assert.match(first.url, /\/upload\/resumable\/[A-Za-z0-9_-]+$/)
  const stored = await headOffset(first.url)
  assert.ok(stored % chunkSize === 0 && stored >= 3 * chunkSize && stored < size, `offset ${stored} after the cut`)

  // Another Upload (a reloaded page) resumes from the upload's URL.
  const second = await upload(data, { metadata, uploadUrl: first.url })
  assert.equal(second.error, undefined, second.error && String(second.error))
  assert.equal(await headOffset(first.url), size)

  const rest = await fetch(`${url}/object/authenticated/${bucket}/${encodeURIComponent(name).replaceAll('%2F', '/')}`, { headers: auth })
  assert.equal(rest.status, 200)
  assert.equal(rest.headers.get('content-type'), 'application/x-e2e')
  assert.equal(rest.headers.get('cache-control'), 'max-age=60')
  const viaREST = Buffer.from(await rest.arrayBuffer())

  const want = sha256(data)
  assert.equal(viaREST.length, size)
  assert.equal(sha256(viaREST), want, 'REST download differs')
  if (!process.env.S3_ENDPOINT) {
    console.log('S3_ENDPOINT is not set: the S3 read-back is skipped')
    return
  }
  const s3 = new S3Client({
    endpoint: process.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: process.env.S3_ACCESS_KEY_ID, secretAccessKey: process.env.S3_SECRET_ACCESS_KEY },
  })
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: name }))
  const viaS3 = Buffer.from(await got.Body.transformToByteArray())

  assert.equal(viaS3.length, size)
  assert.equal(sha256(viaS3), want, 'S3 download differs')
})

test('a chunk smaller than 5 MiB is staged until the next one', async () => {
  const data = randomBytes(9 << 20)
  const name = 'small-chunks.bin'
  const res = await upload(data, { metadata: { bucketName: bucket, objectName: name }, chunkSize: 2 << 20 })
  assert.equal(res.error, undefined, res.error && String(res.error))
  const r = await fetch(`${url}/object/authenticated/${bucket}/${name}`, { headers: auth })
  assert.equal(sha256(Buffer.from(await r.arrayBuffer())), sha256(data))
})

test('errors reach the client with the status and message of the reference', async () => {
  const res = await upload(Buffer.from('x'), { metadata: { bucketName: 'missing', objectName: 'x' }, retryDelays: [] })
  assert.ok(res.error)
  assert.equal(res.error.originalResponse.getStatus(), 404)
  assert.equal(res.error.originalResponse.getBody(), 'Bucket not found')
})
