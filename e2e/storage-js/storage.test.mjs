// End-to-end test of the REST front with the official @supabase/storage-js
// client: every client method of API.md §10, asserting the returned data.
// Run by restapi/e2e_storagejs_test.go, which starts the server and passes
// STORAGE_URL, SERVICE_KEY, ANON_KEY and USER_KEY (an authenticated user
// whose id is USER_ID).
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { StorageClient } from '@supabase/storage-js'

const url = process.env.STORAGE_URL
const client = (key) => new StorageClient(url, { apikey: key, Authorization: `Bearer ${key}` })
const svc = client(process.env.SERVICE_KEY)
const anon = client(process.env.ANON_KEY)
const user = client(process.env.USER_KEY)
const userId = process.env.USER_ID

const ok = ({ data, error }) => {
  assert.equal(error, null, error && `${error.message} (${error.statusCode})`)
  return data
}
const failed = ({ data, error }, statusCode) => {
  assert.equal(data, null)
  assert.ok(error, 'expected an error')
  assert.equal(error.statusCode, statusCode, error.message)
  return error
}
const text = async (blob) => Buffer.from(await blob.arrayBuffer()).toString()

before(async () => {
  assert.ok(url, 'STORAGE_URL is not set')
  ok(await svc.createBucket('docs', { public: false }))
  ok(await svc.createBucket('pics', { public: true, fileSizeLimit: '1mb', allowedMimeTypes: ['image/*'] }))
})

test('bucket CRUD', async () => {
  assert.deepEqual(ok(await svc.createBucket('tmp', { public: false, fileSizeLimit: 1000 })), { name: 'tmp' })
  const got = ok(await svc.getBucket('tmp'))
  assert.deepEqual(Object.keys(got).sort(),
    ['allowed_mime_types', 'created_at', 'file_size_limit', 'id', 'name', 'owner', 'public', 'updated_at'])
  assert.equal(got.file_size_limit, 1000)
  assert.equal(got.public, false)

  const list = ok(await svc.listBuckets())
  assert.deepEqual(list.map((b) => b.name), ['docs', 'pics', 'tmp'])
  assert.deepEqual(ok(await svc.listBuckets({ limit: 1, offset: 1, sortColumn: 'name', sortOrder: 'desc' })).map((b) => b.name), ['pics'])
  assert.deepEqual(ok(await svc.listBuckets({ search: 'TM' })).map((b) => b.name), ['tmp'])

  assert.deepEqual(ok(await svc.updateBucket('tmp', { public: true, allowedMimeTypes: ['text/*'] })), { message: 'Successfully updated' })
  const updated = ok(await svc.getBucket('tmp'))
  assert.equal(updated.public, true)
  assert.equal(updated.file_size_limit, 1000, 'an absent field is kept')
  assert.deepEqual(updated.allowed_mime_types, ['text/*'])

  ok(await svc.from('tmp').upload('x.txt', 'x'))
  failed(await svc.deleteBucket('tmp'), '409')
  assert.deepEqual(ok(await svc.emptyBucket('tmp')), { message: 'Empty bucket has been queued. Completion may take up to an hour.' })
  assert.deepEqual(ok(await svc.deleteBucket('tmp')), { message: 'Successfully deleted' })
  const missing = failed(await svc.getBucket('tmp'), '404')
  assert.equal(missing.message, 'Bucket not found')
  failed(await svc.createBucket('docs'), '409')
  assert.deepEqual(ok(await anon.listBuckets()), [], 'no policy lets anon see buckets')
})

test('upload a Blob, a Buffer and a stream, then download them', async () => {
  const docs = svc.from('docs')
  const blob = ok(await docs.upload('blob/a.txt', new Blob(['from a blob'], { type: 'text/plain' }), { metadata: { kind: 'blob' } }))
  assert.equal(blob.path, 'blob/a.txt')
  assert.equal(blob.fullPath, 'docs/blob/a.txt')
  assert.match(blob.id, /^[0-9a-f-]{36}$/)
  ok(await docs.upload('buf/b.bin', Buffer.from('from a buffer'), { contentType: 'application/octet-stream' }))
  const stream = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode('from '))
      c.enqueue(new TextEncoder().encode('a stream'))
      c.close()
    },
  })
  ok(await docs.upload('stream/c.txt', stream, { contentType: 'text/plain' }))

  assert.equal(await text(ok(await docs.download('blob/a.txt'))), 'from a blob')
  assert.equal(await text(ok(await docs.download('buf/b.bin'))), 'from a buffer')
  const s = ok(await docs.download('stream/c.txt').asStream())
  let got = ''
  for await (const chunk of s) got += Buffer.from(chunk).toString()
  assert.equal(got, 'from a stream')

  const info = ok(await docs.info('blob/a.txt'))
  assert.equal(info.name, 'blob/a.txt')
  assert.equal(info.bucketId, 'docs')
  assert.equal(info.size, 11)
  assert.equal(info.contentType, 'text/plain')
  assert.equal(info.cacheControl, 'max-age=3600')
  assert.deepEqual(info.metadata, { kind: 'blob' })
  assert.equal(ok(await docs.exists('blob/a.txt')), true)
  const { data: exists, error } = await docs.exists('blob/nothing.txt')
  assert.equal(exists, false)
  assert.equal(error.statusCode, '404')
})

test('update, upsert and the duplicate error', async () => {
  const docs = svc.from('docs')
  ok(await docs.upload('u.txt', 'one'))
  const dup = failed(await docs.upload('u.txt', 'two'), '409')
  assert.equal(dup.message, 'The resource already exists')
  ok(await docs.upload('u.txt', 'two', { upsert: true }))
  assert.equal(await text(ok(await docs.download('u.txt'))), 'two')
  const up = ok(await docs.update('u.txt', new Blob(['three'])))
  assert.equal(up.fullPath, 'docs/u.txt')
  assert.equal(await text(ok(await docs.download('u.txt'))), 'three')
})

test('bucket limits surface as 413 and 415', async () => {
  const pics = svc.from('pics')
  const tooBig = failed(await pics.upload('big.png', Buffer.alloc(1_000_001), { contentType: 'image/png' }), '413')
  assert.equal(tooBig.message, 'The object exceeded the maximum allowed size')
  const badType = failed(await pics.upload('a.txt', 'text'), '415')
  assert.equal(badType.message, 'mime type text/plain;charset=UTF-8 is not supported')
  ok(await pics.upload('ok.png', Buffer.from('png'), { contentType: 'image/png' }))
})

test('public URLs, signed URLs and signed upload URLs', async () => {
  const pics = svc.from('pics')
  const pub = pics.getPublicUrl('ok.png', { download: 'pic.png' })
  const res = await fetch(pub.data.publicUrl)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'png')
  assert.match(res.headers.get('content-disposition'), /filename=pic\.png/)

  const docs = svc.from('docs')
  ok(await docs.upload('dir/signed me.txt', 'secret'))
  const signed = ok(await docs.createSignedUrl('dir/signed me.txt', 60, { download: true }))
  const got = await fetch(signed.signedUrl)
  assert.equal(got.status, 200)
  assert.equal(await got.text(), 'secret')
  assert.equal(got.headers.get('content-disposition'), 'attachment;')

  const many = ok(await docs.createSignedUrls(['dir/signed me.txt', 'nothing'], 60))
  assert.equal(many.length, 2)
  assert.equal((await fetch(many[0].signedUrl)).status, 200)
  assert.equal(many[1].signedUrl, null)
  assert.equal(many[1].error, 'Either the object does not exist or you do not have access to it')

  const up = ok(await docs.createSignedUploadUrl('dir/uploaded.txt'))
  assert.equal(up.path, 'dir/uploaded.txt')
  const done = ok(await docs.uploadToSignedUrl('dir/uploaded.txt', up.token, new Blob(['via signed url'])))
  assert.equal(done.fullPath, 'docs/dir/uploaded.txt')
  assert.equal(await text(ok(await docs.download('dir/uploaded.txt'))), 'via signed url')
  failed(await docs.createSignedUploadUrl('dir/uploaded.txt'), '409')
  const again = ok(await docs.createSignedUploadUrl('dir/uploaded.txt', { upsert: true }))
  ok(await docs.uploadToSignedUrl('dir/uploaded.txt', again.token, Buffer.from('replaced'), { upsert: true }))
  assert.equal(await text(ok(await docs.download('dir/uploaded.txt'))), 'replaced')
})

test('list and listV2 with paging', async () => {
  const docs = svc.from('docs')
  for (const k of ['l/a.txt', 'l/B.txt', 'l/c.txt', 'l/sub/d.txt', 'l/sub2/e.txt']) ok(await docs.upload(k, k))
  const all = ok(await docs.list('l'))
  assert.deepEqual(all.map((e) => e.name), ['a.txt', 'B.txt', 'c.txt', 'sub', 'sub2'])
  assert.equal(all[3].id, null, 'folders have a null id')
  assert.equal(all[0].metadata.size, 7)
  assert.deepEqual(ok(await docs.list('l', { limit: 2, offset: 2 })).map((e) => e.name), ['c.txt', 'sub'])
  assert.deepEqual(ok(await docs.list('l', { search: 's' })).map((e) => e.name), ['sub', 'sub2'])
  assert.deepEqual(ok(await docs.list('l', { sortBy: { column: 'name', order: 'desc' } })).map((e) => e.name),
    ['sub2', 'sub', 'c.txt', 'B.txt', 'a.txt'])

  const seen = { folders: [], objects: [] }
  let cursor
  let pages = 0
  do {
    const page = ok(await docs.listV2({ prefix: 'l/', with_delimiter: true, limit: 2, cursor }))
    pages++
    seen.folders.push(...page.folders.map((f) => f.name))
    seen.objects.push(...page.objects.map((o) => o.name))
    cursor = page.hasNext ? page.nextCursor : undefined
  } while (cursor)
  assert.equal(pages, 3)
  assert.deepEqual(seen.folders, ['l/sub/', 'l/sub2/'])
  assert.deepEqual(seen.objects, ['l/B.txt', 'l/a.txt', 'l/c.txt'], 'byte order, full keys')
  const flat = ok(await docs.listV2({ prefix: 'l/sub', sortBy: { column: 'created_at', order: 'desc' } }))
  assert.deepEqual(flat.objects.map((o) => o.name), ['l/sub2/e.txt', 'l/sub/d.txt'])
  assert.equal(flat.hasNext, false)
})

test('move, copy and remove', async () => {
  const docs = svc.from('docs')
  ok(await docs.upload('m/from.txt', 'move me'))
  assert.deepEqual(ok(await docs.move('m/from.txt', 'm/to.txt')), { message: 'Successfully moved' })
  failed(await docs.download('m/from.txt'), '404')
  assert.equal(await text(ok(await docs.download('m/to.txt'))), 'move me')
  ok(await docs.upload('m/taken.txt', 'x'))
  failed(await docs.move('m/to.txt', 'm/taken.txt'), '409')

  assert.deepEqual(ok(await docs.copy('m/to.txt', 'm/copy.txt')), { path: 'docs/m/copy.txt' })
  assert.deepEqual(ok(await svc.from('pics').copy('ok.png', 'x/ok.png', { destinationBucket: 'docs' })), { path: 'docs/x/ok.png' })
  assert.equal(await text(ok(await docs.download('x/ok.png'))), 'png')
  failed(await docs.copy('m/to.txt', 'x/copy.txt', { destinationBucket: 'pics' }), '415')

  const removed = ok(await docs.remove(['m/to.txt', 'm/copy.txt', 'm/missing.txt']))
  assert.deepEqual(removed.map((r) => r.name).sort(), ['m/copy.txt', 'm/to.txt'])
  assert.equal((await docs.exists('m/to.txt')).data, false)
})

test('row level security through the client', async () => {
  const mine = user.from('docs')
  const own = ok(await mine.upload(`${userId}/note.txt`, 'mine'))
  assert.equal(own.fullPath, `docs/${userId}/note.txt`)
  const denied = failed(await mine.upload('elsewhere/note.txt', 'nope'), '403')
  assert.match(denied.message, /row-level security/)
  assert.deepEqual(ok(await mine.list(userId)).map((e) => e.name), ['note.txt'])
  assert.deepEqual(ok(await mine.list()).map((e) => e.name), [userId], 'only her own folder is visible')
  failed(await anon.from('docs').download(`${userId}/note.txt`), '404')
})
