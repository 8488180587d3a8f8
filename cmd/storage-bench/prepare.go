package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Sizes of the pools small-object workloads work on.
const (
	readKeys   = 256  // objects GET and HEAD cycle through
	deleteKeys = 2000 // objects a delete workload needs at least
	mixedKeys  = 512  // objects the mixed workload reads and overwrites
)

// prepareSmall readies put, get, head or delete of small objects. Service
// workloads use the bench bucket; user workloads the RLS bucket, below the
// user's folder.
func (b *bench) prepareSmall(ctx context.Context, f front, id ident, kind string) (*prepared, error) {
	api, err := b.api(ctx, f, id)
	if err != nil {
		return nil, err
	}
	bucket, prefix := benchBucket, ""
	if id == asService {
		err = b.ensureBucket(ctx, benchBucket)
	} else {
		bucket, prefix = rlsBucket, b.userSub+"/"
		err = b.ensureRLS(ctx)
	}
	if err != nil {
		return nil, err
	}
	size := int64(len(b.small))
	p := &prepared{clients: b.cfg.clients, warmup: true}
	switch kind {
	case "put":
		var n atomic.Int64
		p.op = func(ctx context.Context, _ int) (int64, error) {
			key := fmt.Sprintf("%sput/%s/%s/%d", prefix, f, b.nonce, n.Add(1))
			if err := api.put(ctx, bucket, key, bytes.NewReader(b.small), size, false); err != nil {
				return 0, err
			}
			if id == asService {
				b.addDeletable(key)
			}
			return size, nil
		}
	case "get", "head":
		keys := make([]string, readKeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("%sget/%s/%03d", prefix, humanBytes(size), i)
		}
		if err := b.once("read:"+bucket+prefix, func() error { return b.seedObjects(ctx, bucket, keys, b.small) }); err != nil {
			return nil, err
		}
		var n atomic.Int64
		p.op = func(ctx context.Context, _ int) (int64, error) {
			key := keys[int(n.Add(1))%len(keys)]
			if kind == "head" {
				return 0, api.head(ctx, bucket, key)
			}
			got, err := api.get(ctx, bucket, key)
			if err == nil && got != size {
				err = fmt.Errorf("get %s: %d bytes, want %d", key, got, size)
			}
			return got, err
		}
	case "delete":
		// No warm-up: it would spend the keys the window needs, and the
		// connections are warm from the workloads before.
		p.warmup = false
		chunks, err := b.deletePool(ctx, p.clients)
		if err != nil {
			return nil, err
		}
		p.op = func(ctx context.Context, c int) (int64, error) {
			if len(chunks[c]) == 0 {
				return 0, errExhausted
			}
			key := chunks[c][len(chunks[c])-1]
			chunks[c] = chunks[c][:len(chunks[c])-1]
			return 0, api.del(ctx, bucket, key)
		}
	}
	return p, nil
}

// deletePool takes the keys earlier put workloads left in the bench bucket,
// tops them up to deleteKeys and deals them to clients (each client pops
// only its own, so no lock is needed).
func (b *bench) deletePool(ctx context.Context, clients int) ([][]string, error) {
	b.mu.Lock()
	keys := b.deletable
	b.deletable = nil
	b.mu.Unlock()
	if missing := deleteKeys - len(keys); missing > 0 {
		more := make([]string, missing)
		for i := range more {
			more[i] = fmt.Sprintf("del/%s/%d-%d", b.nonce, time.Now().UnixNano(), i)
		}
		b.progressf("seeding %d objects to delete", missing)
		if err := b.seedObjects(ctx, benchBucket, more, b.small); err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	chunks := make([][]string, clients)
	for i, k := range keys {
		chunks[i%clients] = append(chunks[i%clients], k)
	}
	return chunks, nil
}

// prepareLarge readies one-request transfers of a -large object; the
// download reads what the upload of this run wrote (or writes it first).
func (b *bench) prepareLarge(ctx context.Context, f front, down bool) (*prepared, error) {
	api, err := b.api(ctx, f, asService)
	if err != nil {
		return nil, err
	}
	if err := b.ensureBucket(ctx, benchBucket); err != nil {
		return nil, err
	}
	key, size := fmt.Sprintf("large/%s-%s", f, b.nonce), b.cfg.large
	up := func(ctx context.Context) error {
		return api.put(ctx, benchBucket, key, newPatternBody(b.block, size), size, true)
	}
	p := &prepared{clients: 1}
	if down {
		if err := b.once("large:"+key, func() error { return up(ctx) }); err != nil {
			return nil, err
		}
		p.op = func(ctx context.Context, _ int) (int64, error) {
			n, err := api.get(ctx, benchBucket, key)
			if err == nil && n != size {
				err = fmt.Errorf("get %s: %d bytes, want %d", key, n, size)
			}
			return n, err
		}
	} else {
		p.op = func(ctx context.Context, _ int) (int64, error) {
			if err := up(ctx); err != nil {
				return 0, err
			}
			b.mu.Lock()
			b.done["large:"+key] = true
			b.mu.Unlock()
			return size, nil
		}
	}
	p.after = func(r *Result) {
		gib := float64(size) / (1 << 30)
		if r.CPUMs != nil {
			r.set("cpu_s_per_gib", *r.CPUMs/1000/gib)
		}
		if r.ServerCPUMs != nil {
			r.set("server_cpu_s_per_gib", *r.ServerCPUMs/1000/gib)
		}
		if r.PeakRSSMB != nil && r.StartRSSMB != nil {
			r.set("rss_growth_mb", *r.PeakRSSMB-*r.StartRSSMB)
		}
	}
	return p, nil
}

// prepareList readies one client walking the listing bucket page by page;
// a walk that reaches the end starts over, so in the 1,000,000-key bucket
// pages come from ever deeper in the key space.
func (b *bench) prepareList(ctx context.Context, kind string, big bool) (*prepared, error) {
	n, bucket := b.cfg.keys10k, "bench-list-10k"
	if big {
		n, bucket = b.cfg.keys1m, "bench-list-1m"
	}
	if (kind == "list-v1" || kind == "list-v2") && b.rest == nil {
		return nil, skip("no rest endpoint")
	}
	if (kind == "s3-list" || kind == "s3-list-delim") && b.s3 == nil {
		return nil, skip("no s3 endpoint")
	}
	if err := b.ensureListBucket(ctx, bucket, n); err != nil {
		return nil, err
	}
	page := b.cfg.page
	p := &prepared{clients: 1, warmup: true, entries: &atomic.Int64{}}
	var off int
	var cursor string
	p.op = func(ctx context.Context, _ int) (int64, error) {
		var k int
		var err error
		fromStart := off == 0 && cursor == ""
		switch kind {
		case "list-v1":
			k, err = b.rest.listV1(ctx, bucket, "obj", page, off)
			off += page
			if k < page {
				off = 0
			}
		case "list-v2":
			k, cursor, err = b.rest.listV2(ctx, bucket, "obj/", page, cursor)
		default:
			delim := ""
			if kind == "s3-list-delim" {
				delim = "/"
			}
			k, cursor, err = b.s3.listPage(ctx, bucket, "obj/", delim, int32(page), cursor)
		}
		if err == nil && k == 0 && fromStart {
			err = errors.New("empty listing")
		}
		p.entries.Add(int64(k))
		return 0, err
	}
	return p, nil
}

// ensureListBucket fills a listing bucket with n keys obj/0000001…: by SQL
// when the bench has the database (copies of one row written through the
// API), else through the API when n is small.
func (b *bench) ensureListBucket(ctx context.Context, bucket string, n int) error {
	if err := b.ensureBucket(ctx, bucket); err != nil {
		return err
	}
	return b.once("list:"+bucket, func() error {
		t0 := time.Now()
		defer func() { b.progressf("%s holds %d keys (%.1fs)", bucket, n, time.Since(t0).Seconds()) }()
		if b.mon != nil {
			if err := b.ensureBucket(ctx, benchBucket); err != nil {
				return err
			}
			if err := b.seedObjects(ctx, benchBucket, []string{"tpl/seed"}, b.small); err != nil {
				return err
			}
			return b.mon.seed(ctx, bucket, "obj/", n, benchBucket, "tpl/seed")
		}
		if n > 20000 {
			return skip(fmt.Sprintf("seeding %d keys needs -pg-dsn", n))
		}
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("obj/%07d", i+1)
		}
		return b.seedObjects(ctx, bucket, keys, b.small)
	})
}

// prepareMixed readies the mixed load: reads and overwrites of a shared
// set, new objects each client later deletes, and list pages; even clients
// use REST, odd ones S3 (when both exist).
func (b *bench) prepareMixed(ctx context.Context) (*prepared, error) {
	var apis []objAPI
	if b.rest != nil {
		apis = append(apis, restAPI{b.rest})
	}
	if b.s3 != nil {
		apis = append(apis, s3API{b.s3})
	}
	if len(apis) == 0 {
		return nil, skip("no endpoint")
	}
	if err := b.ensureBucket(ctx, benchBucket); err != nil {
		return nil, err
	}
	shared := make([]string, mixedKeys)
	for i := range shared {
		shared[i] = fmt.Sprintf("mixed/shared/%04d", i)
	}
	if err := b.once("mixed", func() error { return b.seedObjects(ctx, benchBucket, shared, b.small) }); err != nil {
		return nil, err
	}
	clients := b.cfg.mixedClients
	rngs := make([]*rand.Rand, clients)
	own := make([][]string, clients)
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(uint64(c), 42))
	}
	size := int64(len(b.small))
	var ctr atomic.Int64
	op := func(ctx context.Context, c int) (int64, error) {
		api, r := apis[c%len(apis)], rngs[c]
		key := shared[r.IntN(len(shared))]
		switch x := r.IntN(100); {
		case x < 60:
			n, err := api.get(ctx, benchBucket, key)
			if err == nil && n != size {
				err = fmt.Errorf("get %s: %d bytes, want %d", key, n, size)
			}
			return n, err
		case x < 70:
			return 0, api.head(ctx, benchBucket, key)
		case x < 85:
			return size, api.put(ctx, benchBucket, key, bytes.NewReader(b.small), size, true)
		case x < 97 && (x < 92 || len(own[c]) == 0):
			k := fmt.Sprintf("mixed/own/%s/%d", b.nonce, ctr.Add(1))
			if err := api.put(ctx, benchBucket, k, bytes.NewReader(b.small), size, false); err != nil {
				return 0, err
			}
			own[c] = append(own[c], k)
			return size, nil
		case x < 97:
			k := own[c][len(own[c])-1]
			own[c] = own[c][:len(own[c])-1]
			return 0, api.del(ctx, benchBucket, k)
		default:
			_, err := api.list(ctx, benchBucket, "mixed/shared/", b.cfg.page)
			return 0, err
		}
	}
	return &prepared{op: op, clients: clients, warmup: true}, nil
}
