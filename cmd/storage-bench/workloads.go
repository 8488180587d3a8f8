package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
)

// workload is a named measurement; prepare readies its data and returns
// the operation to time (nil prepare: measured during set-up).
type workload struct {
	name, desc string
	prepare    func(ctx context.Context, b *bench) (*prepared, error)
}

// front is the API a workload speaks.
type front string

const (
	frontREST front = "rest"
	frontS3   front = "s3"
)

// ident is who a workload acts as.
type ident int

const (
	asService ident = iota // service role: RLS bypassed
	asUser                 // authenticated user: REST JWT, S3 session token
	asUserKey              // authenticated user: an S3 key kept in Postgres
)

// workloads is the registry, in the order a full run takes them: the
// 1,000,000-key listings last, so the other workloads see a small table.
func workloads() []*workload {
	ws := []*workload{{name: "startup", desc: "managed server only: cold and warm start to first answers, idle RSS"}}
	for _, f := range []front{frontREST, frontS3} {
		for _, k := range []string{"put", "get", "head", "delete"} {
			ws = append(ws, small(f, asService, k, fmt.Sprintf("%s %s of small objects, service role", f, k)))
		}
	}
	ws = append(ws,
		small(frontREST, asUser, "put", "rest put as an authenticated user under per-folder RLS policies"),
		small(frontREST, asUser, "get", "rest get as an authenticated user under per-folder RLS policies"),
		small(frontS3, asUser, "put", "s3 put in session-token mode (user JWT) under per-folder RLS policies"),
		small(frontS3, asUser, "get", "s3 get in session-token mode (user JWT) under per-folder RLS policies"),
		small(frontS3, asUserKey, "put", "s3 put with a key kept in Postgres acting as the user, under RLS"),
	)
	for _, f := range []front{frontREST, frontS3} {
		for _, down := range []bool{false, true} {
			ws = append(ws, large(f, down))
		}
	}
	for _, big := range []bool{false, true} {
		if big {
			ws = append(ws, &workload{name: "mixed", desc: "60% get, 10% head, 22% put, 5% delete, 3% list pages; half REST, half S3; -mixed-clients",
				prepare: func(ctx context.Context, b *bench) (*prepared, error) { return b.prepareMixed(ctx) }})
		}
		for _, k := range []string{"list-v1", "list-v2", "s3-list", "s3-list-delim"} {
			ws = append(ws, listing(k, big))
		}
	}
	return ws
}

func small(f front, id ident, kind, desc string) *workload {
	name := string(f) + "-" + kind
	switch id {
	case asUser:
		name += "-rls"
	case asUserKey:
		name += "-rls-key"
	}
	return &workload{name: name, desc: desc, prepare: func(ctx context.Context, b *bench) (*prepared, error) {
		return b.prepareSmall(ctx, f, id, kind)
	}}
}

func large(f front, down bool) *workload {
	name, desc := string(f)+"-large-up", string(f)+" upload of one -large object (one request), repeated for -duration"
	if down {
		name, desc = string(f)+"-large-down", string(f)+" download of one -large object, repeated for -duration"
	}
	return &workload{name: name, desc: desc, prepare: func(ctx context.Context, b *bench) (*prepared, error) {
		return b.prepareLarge(ctx, f, down)
	}}
}

func listing(kind string, big bool) *workload {
	size, n := "10k", "-keys"
	if big {
		size, n = "1m", "-keys-1m"
	}
	descs := map[string]string{
		"list-v1":       "REST list (v1, offset paging)",
		"list-v2":       "REST list-v2 (cursor paging)",
		"s3-list":       "S3 ListObjectsV2 without delimiter",
		"s3-list-delim": "S3 ListObjectsV2 with delimiter /",
	}
	return &workload{name: kind + "-" + size,
		desc: descs[kind] + ", one client walking " + n + " keys in -page pages (rows seeded by SQL)",
		prepare: func(ctx context.Context, b *bench) (*prepared, error) {
			return b.prepareList(ctx, kind, big)
		}}
}

// objAPI is the object surface both fronts offer.
type objAPI interface {
	put(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64, upsert bool) error
	get(ctx context.Context, bucket, key string) (int64, error)
	head(ctx context.Context, bucket, key string) error
	del(ctx context.Context, bucket, key string) error
	// list reads the first page of up to n entries below prefix.
	list(ctx context.Context, bucket, prefix string, n int) (int, error)
}

type restAPI struct{ c *restClient }

func (r restAPI) put(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64, upsert bool) error {
	return r.c.put(ctx, bucket, key, body, size, upsert)
}
func (r restAPI) get(ctx context.Context, bucket, key string) (int64, error) {
	return r.c.get(ctx, bucket, key)
}
func (r restAPI) head(ctx context.Context, bucket, key string) error {
	return r.c.head(ctx, bucket, key)
}
func (r restAPI) del(ctx context.Context, bucket, key string) error { return r.c.del(ctx, bucket, key) }
func (r restAPI) list(ctx context.Context, bucket, prefix string, n int) (int, error) {
	k, _, err := r.c.listV2(ctx, bucket, prefix, n, "")
	return k, err
}

type s3API struct{ c *s3Client }

func (s s3API) put(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64, _ bool) error {
	return s.c.put(ctx, bucket, key, body, size)
}
func (s s3API) get(ctx context.Context, bucket, key string) (int64, error) {
	return s.c.get(ctx, bucket, key)
}
func (s s3API) head(ctx context.Context, bucket, key string) error { return s.c.head(ctx, bucket, key) }
func (s s3API) del(ctx context.Context, bucket, key string) error  { return s.c.del(ctx, bucket, key) }
func (s s3API) list(ctx context.Context, bucket, prefix string, n int) (int, error) {
	k, _, err := s.c.listPage(ctx, bucket, prefix, "", int32(n), "")
	return k, err
}

// api returns the client for a front and identity, or a skip.
func (b *bench) api(ctx context.Context, f front, id ident) (objAPI, error) {
	switch {
	case f == frontREST && b.rest == nil, f == frontS3 && b.s3 == nil:
		return nil, skip("no " + string(f) + " endpoint")
	case f == frontREST && id == asService:
		return restAPI{b.rest}, nil
	case f == frontREST && id == asUser && b.restUser != nil:
		return restAPI{b.restUser}, nil
	case f == frontS3 && id == asService:
		return s3API{b.s3}, nil
	case f == frontS3 && id == asUser && b.s3User != nil:
		return s3API{b.s3User}, nil
	case f == frontS3 && id == asUserKey && b.s3UserKey != nil:
		c, err := b.s3UserKey(ctx)
		if err != nil {
			return nil, err
		}
		return s3API{c}, nil
	}
	return nil, skip("no user identity for this front (-user-token, -anon-key, -user-s3-key)")
}

// serviceAPI is the client used to seed: S3 when there is one.
func (b *bench) serviceAPI() objAPI {
	if b.s3 != nil {
		return s3API{b.s3}
	}
	return restAPI{b.rest}
}

// ensureBucket creates a private bucket once (an existing one is fine).
func (b *bench) ensureBucket(ctx context.Context, name string) error {
	return b.once("bucket:"+name, func() error {
		if b.s3 != nil {
			return b.s3.createBucket(ctx, name)
		}
		err := b.rest.createBucket(ctx, name)
		var he *httpError
		if errors.As(err, &he) && strings.Contains(he.body, "409") {
			return nil // the reference answers 400 with statusCode "409"
		}
		return err
	})
}

// ensureRLS creates the RLS bucket and, with a database connection, its
// per-folder policies.
func (b *bench) ensureRLS(ctx context.Context) error {
	if b.userSub == "" {
		return skip("no -user-sub: the user's folder is unknown")
	}
	if err := b.ensureBucket(ctx, rlsBucket); err != nil {
		return err
	}
	return b.once("policies", func() error {
		if b.mon == nil {
			return nil // a target without -pg-dsn: its policies are its own
		}
		return b.mon.installPolicies(ctx, rlsBucket)
	})
}

// seedObjects writes keys with body through the service client, in
// parallel.
func (b *bench) seedObjects(ctx context.Context, bucket string, keys []string, body []byte) error {
	api := b.serviceAPI()
	workers := min(16, len(keys))
	errc := make(chan error, workers)
	var next atomic.Int64
	for w := 0; w < workers; w++ {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					errc <- nil
					return
				}
				if err := api.put(ctx, bucket, keys[i], bytes.NewReader(body), int64(len(body)), true); err != nil {
					errc <- fmt.Errorf("bench: seed %s/%s: %w", bucket, keys[i], err)
					return
				}
			}
		}()
	}
	var first error
	for w := 0; w < workers; w++ {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
