package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/metatest"
)

var (
	crashIterations = flag.Int("crash.iterations", 16, "how many times TestCrash kills the server")
	crashSeed       = flag.Uint64("crash.seed", 0, "seed of TestCrash's choices; 0 picks one (logged)")
)

const crashBucket = "crash"

// TestCrash kills a server process with SIGKILL at random moments while
// clients upload (REST insert and upsert, S3 single and multipart), copy,
// move and delete, many times over. After every restart it checks the
// promise of DESIGN.md's write path against a client-side ledger: every
// acknowledged write is there with the bytes the client sent, a write cut
// off by the kill is either wholly there or wholly absent, every row's
// bytes exist and match, and nothing else is listed. At the end the sweep
// leaves the backend holding exactly the live versions.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped with -short")
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("crash.seed=%d crash.iterations=%d", seed, *crashIterations)
	rng := rand.New(rand.NewPCG(seed, 0))
	dsn, dir := metatest.NewDB(t), t.TempDir()
	env := baseEnv(dsn, dir)
	h := &crashHarness{t: t, env: env, dsn: dsn, objects: filepath.Join(dir, "objects"),
		ledger: newLedger(), refusals: map[string]int{}}
	var stats crashStats
	for i := 0; i <= *crashIterations; i++ {
		c := h.start()
		if i == 0 {
			if _, err := c.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(crashBucket)}); err != nil {
				t.Fatal(err)
			}
		} else {
			h.verify(c)
			if t.Failed() {
				c.kill()
				t.Fatalf("iteration %d: the state after the kill is wrong (seed %d)", i, seed)
			}
		}
		if i == *crashIterations {
			c.kill()
			break
		}
		h.load(c, rng, &stats)
		stats.kills++
	}
	out := h.sweep()
	stats.reclaimed = out
	stats.cutApplied = h.applied
	h.checkBackendExact()
	t.Logf("refusals: %v", h.refusals)
	t.Logf("crash: %d kills, %d requests; %d writes committed, %d rejected, %d cut off by a kill (%d of them had taken effect); sweep: %s",
		stats.kills, stats.requests.Load(), stats.committed.Load(), stats.rejected.Load(),
		stats.cut.Load(), stats.cutApplied, out)
}

type crashStats struct {
	kills                         int
	requests, committed, rejected atomic.Int64
	cut                           atomic.Int64
	cutApplied                    int
	reclaimed                     string
}

// crashHarness runs the children and keeps the ledger.
type crashHarness struct {
	t       *testing.T
	env     map[string]string
	dsn     string
	objects string
	ledger  *ledger
	applied int // cut-off operations that had taken effect

	mu       sync.Mutex
	refusals map[string]int // "op status code" of refused operations
}

// crashChild is one server process.
type crashChild struct {
	cmd    *exec.Cmd
	url    string
	s3     *s3.Client
	http   *http.Client
	token  string
	stderr *syncBuffer
	waited chan struct{}
}

func (h *crashHarness) start() *crashChild {
	t := h.t
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = os.Environ()
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, childEnv+"=serve")
	// The child dies with the test, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &crashChild{cmd: cmd, stderr: &syncBuffer{}, waited: make(chan struct{})}
	cmd.Stderr = c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil && c.url == "" {
				c.url = m[1]
				close(c.waited)
			}
		}
	}()
	select {
	case <-c.waited:
	case <-time.After(60 * time.Second):
		c.kill()
		t.Fatalf("server did not start:\n%s", c.stderr.String())
	}
	c.http = &http.Client{Timeout: 60 * time.Second}
	c.s3 = s3Client(c.url+"/s3", hS3Key, hS3Secret, "")
	c.token = jwtFor(t, "service_role", "")
	return c
}

// kill ends the process with SIGKILL and reaps it.
func (c *crashChild) kill() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

// objState is what a key holds: nothing, or bytes with this MD5.
type objState struct {
	present   bool
	md5       string
	multipart bool // the ETag is a multipart one, not the MD5
}

func (s objState) String() string {
	if !s.present {
		return "absent"
	}
	return s.md5[:8]
}

// outcome is one possible result of a cut-off operation: the states of the
// keys it touches.
type outcome map[string]objState

// ledger is what clients were told. Each key belongs to one worker, so at
// most one operation on it is in flight at any time.
type ledger struct {
	mu      sync.Mutex
	state   map[string]objState
	pending [][]outcome // operations cut off by a kill: one of the outcomes holds
}

func newLedger() *ledger { return &ledger{state: map[string]objState{}} }

func (l *ledger) get(k string) objState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state[k]
}

func (l *ledger) set(o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, s := range o {
		l.state[k] = s
	}
}

func (l *ledger) cut(alts ...outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, alts)
}

// load runs workers against c for a random time and kills it.
func (h *crashHarness) load(c *crashChild, rng *rand.Rand, st *crashStats) {
	const workers = 4
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		wr := &crashWorker{h: h, c: c, st: st, rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(w))), id: w}
		go func() {
			defer wg.Done()
			wr.run(ctx)
		}()
	}
	time.Sleep(time.Duration(150+rng.IntN(1200)) * time.Millisecond)
	c.kill()
	cancel()
	wg.Wait()
	if h.t.Failed() {
		h.t.Logf("server log:\n%s", c.stderr.String())
	}
}

// crashWorker issues operations on its own keys until the server dies.
type crashWorker struct {
	h   *crashHarness
	c   *crashChild
	st  *crashStats
	rng *rand.Rand
	id  int
}

func (w *crashWorker) key() string {
	names := []string{"a", "b", "dir/c", "dir/sub/d é", "e+f", "g"}
	return fmt.Sprintf("w%d/%s", w.id, names[w.rng.IntN(len(names))])
}

// body returns random bytes of a random size, mostly small.
func (w *crashWorker) body() []byte {
	var n int
	switch p := w.rng.IntN(100); {
	case p < 70:
		n = w.rng.IntN(32 << 10)
	case p < 95:
		n = 32<<10 + w.rng.IntN(480<<10)
	default:
		n = 512<<10 + w.rng.IntN(2<<20)
	}
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := w.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// errKind classifies a call's failure: the server answered with an error
// (the operation did not happen), the connection broke (it may have), or
// the server answered 2xx but the body broke off (it did, probably).
type errKind int

const (
	answered errKind = iota
	refused
	broken
)

func s3Kind(err error) errKind {
	var re *smithyhttp.ResponseError
	if err == nil {
		return answered
	}
	if errors.As(err, &re) && re.HTTPStatusCode() >= 300 {
		return refused
	}
	return broken
}

func (w *crashWorker) run(ctx context.Context) {
	for ctx.Err() == nil {
		if !w.step(ctx) {
			return
		}
	}
}

// step runs one random operation and records its outcome; it reports
// false once the server is gone.
func (w *crashWorker) step(ctx context.Context) bool {
	l := w.h.ledger
	k := w.key()
	old := l.get(k)
	switch p := w.rng.IntN(100); {
	case p < 20:
		b := w.body()
		_, err := w.c.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(k),
			Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b)))})
		return w.record("s3 put", s3Kind(err), err, outcome{k: old}, outcome{k: {present: true, md5: md5hex(b)}})
	case p < 32:
		b := w.body()
		r, err := rest(w.c.http, http.MethodPost, w.c.url+"/object/"+objectPath(crashBucket, k), w.c.token,
			bytes.NewReader(b), map[string]string{"Content-Type": "application/octet-stream"})
		next := outcome{k: {present: true, md5: md5hex(b)}}
		if old.present {
			next = outcome{k: old} // an insert never overwrites
		}
		return w.record("rest insert", restKind(r, err), restErr(r, err), outcome{k: old}, next)
	case p < 44:
		b := w.body()
		r, err := rest(w.c.http, http.MethodPut, w.c.url+"/object/"+objectPath(crashBucket, k), w.c.token,
			bytes.NewReader(b), map[string]string{"Content-Type": "application/octet-stream"})
		return w.record("rest upsert", restKind(r, err), restErr(r, err), outcome{k: old}, outcome{k: {present: true, md5: md5hex(b)}})
	case p < 56:
		return w.multipart(ctx, k, old)
	case p < 68:
		src := w.key()
		s := l.get(src)
		if !s.present || src == k {
			return true
		}
		_, err := w.c.s3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(k),
			CopySource: aws.String(crashBucket + "/" + escapeKey(src))})
		return w.record("s3 copy", s3Kind(err), err, outcome{k: old}, outcome{k: s})
	case p < 80:
		src := w.key()
		s := l.get(src)
		if !s.present || src == k {
			return true
		}
		body := fmt.Sprintf(`{"bucketId":%q,"sourceKey":%q,"destinationKey":%q}`, crashBucket, src, k)
		r, err := rest(w.c.http, http.MethodPost, w.c.url+"/object/move", w.c.token, strings.NewReader(body),
			map[string]string{"Content-Type": "application/json"})
		before := outcome{src: s, k: old}
		after := outcome{src: {}, k: s}
		if old.present {
			after = before // a move never overwrites
		}
		return w.record("rest move", restKind(r, err), restErr(r, err), before, after)
	case p < 90:
		_, err := w.c.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(k)})
		return w.record("s3 delete", s3Kind(err), err, outcome{k: old}, outcome{k: {}})
	default:
		r, err := rest(w.c.http, http.MethodDelete, w.c.url+"/object/"+objectPath(crashBucket, k), w.c.token, nil, nil)
		next := outcome{k: {}}
		if !old.present {
			next = outcome{k: old}
		}
		return w.record("rest delete", restKind(r, err), restErr(r, err), outcome{k: old}, next)
	}
}

// restErr describes a refused REST call.
func restErr(r restCall, err error) error {
	if err != nil || r.status < 300 {
		return err
	}
	return fmt.Errorf("%d %s %s", r.status, r.statusCode(), r.code())
}

// refused counts a refusal; a 5xx, which no operation here should ever
// cause, fails the test.
func (h *crashHarness) refused(t *testing.T, op string, err error) bool {
	desc := err.Error()
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		desc = fmt.Sprint(re.HTTPStatusCode())
		var ae interface{ ErrorCode() string }
		if errors.As(err, &ae) {
			desc += " " + ae.ErrorCode()
		}
	}
	h.mu.Lock()
	h.refusals[op+" "+desc]++
	h.mu.Unlock()
	if strings.HasPrefix(desc, "5") || strings.Contains(desc, " 5") {
		t.Errorf("%s: the server failed: %v", op, err)
	}
	return true
}

func restKind(r restCall, err error) errKind {
	switch {
	case err != nil:
		return broken
	case r.status >= 300:
		return refused
	}
	return answered
}

// record applies an operation's result to the ledger: after an answer the
// new state holds, after a refusal the old one, and when the connection
// broke either may.
func (w *crashWorker) record(op string, kind errKind, err error, before, after outcome) bool {
	w.st.requests.Add(1)
	if kind == refused {
		w.h.refused(w.h.t, op, err)
	}
	l := w.h.ledger
	switch kind {
	case answered:
		w.st.committed.Add(1)
		l.set(after)
	case refused:
		w.st.rejected.Add(1)
		l.set(before)
	case broken:
		w.st.cut.Add(1)
		l.cut(before, after)
		return false
	}
	return true
}

// multipart uploads k in one or two parts; only its completion changes
// the object.
func (w *crashWorker) multipart(ctx context.Context, k string, old objState) bool {
	b := w.body()
	if w.rng.IntN(100) < 15 {
		b = append(bytes.Repeat([]byte{byte(w.rng.IntN(256))}, 5<<20), b[:min(len(b), 64<<10)]...)
	}
	cr, err := w.c.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(crashBucket), Key: aws.String(k)})
	w.st.requests.Add(1)
	if err != nil {
		return s3Kind(err) == refused && w.h.refused(w.h.t, "s3 create upload", err)
	}
	chunks := [][]byte{b}
	if len(b) > 5<<20 {
		chunks = [][]byte{b[:5<<20], b[5<<20:]}
	}
	var parts []types.CompletedPart
	for i, ch := range chunks {
		n := int32(i + 1)
		pr, err := w.c.s3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(crashBucket), Key: aws.String(k),
			UploadId: cr.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(ch),
			ContentLength: aws.Int64(int64(len(ch)))})
		w.st.requests.Add(1)
		if err != nil {
			return s3Kind(err) == refused && w.h.refused(w.h.t, "s3 upload part", err)
		}
		parts = append(parts, types.CompletedPart{ETag: pr.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = w.c.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(crashBucket),
		Key: aws.String(k), UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return w.record("s3 multipart", s3Kind(err), err, outcome{k: old}, outcome{k: {present: true, md5: md5hex(b), multipart: true}})
}

func escapeKey(k string) string {
	return strings.TrimPrefix(objectPath("x", k), "x/")
}

// observe reads every key the ledger knows through the S3 front.
func (h *crashHarness) observe(c *crashChild) map[string]objState {
	t := h.t
	seen := map[string]objState{}
	h.ledger.mu.Lock()
	keys := make([]string, 0, len(h.ledger.state))
	for k := range h.ledger.state {
		keys = append(keys, k)
	}
	for _, alts := range h.ledger.pending {
		for k := range alts[0] {
			keys = append(keys, k)
		}
	}
	h.ledger.mu.Unlock()
	for _, k := range keys {
		out, err := c.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(crashBucket), Key: aws.String(k)})
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			seen[k] = objState{}
			continue
		}
		if err != nil {
			t.Errorf("get %q: %v", k, err)
			continue
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil {
			t.Errorf("get %q: reading the body: %v", k, err)
			continue
		}
		etag := strings.Trim(aws.ToString(out.ETag), `"`)
		s := objState{present: true, md5: md5hex(b), multipart: strings.Contains(etag, "-")}
		if !s.multipart && etag != s.md5 {
			t.Errorf("%q: ETag %s but the bytes' MD5 is %s", k, etag, s.md5)
		}
		seen[k] = s
	}
	return seen
}

// verify checks the state a restarted server shows against the ledger and
// resolves the operations the kill cut off.
func (h *crashHarness) verify(c *crashChild) {
	t := h.t
	seen := h.observe(c)
	l := h.ledger
	l.mu.Lock()
	pendingKeys := map[string]bool{}
	for _, alts := range l.pending {
		match := -1
		for i, o := range alts {
			ok := true
			for k, want := range o {
				pendingKeys[k] = true
				if got := seen[k]; got.present != want.present || got.md5 != want.md5 {
					ok = false
				}
			}
			if ok {
				match = i
				break
			}
		}
		if match < 0 {
			t.Errorf("a cut-off operation left a state that is neither before nor after it: saw %v, want one of %v", pick(seen, alts[0]), alts)
			continue
		}
		for k, s := range alts[match] {
			l.state[k] = s
		}
		if match > 0 {
			h.applied++
		}
	}
	l.pending = nil
	for k, want := range l.state {
		if pendingKeys[k] {
			continue
		}
		if got := seen[k]; got.present != want.present || got.md5 != want.md5 {
			t.Errorf("%q: the server shows %v, the client was told %v", k, got, want)
		}
	}
	live := map[string]objState{}
	for k, s := range l.state {
		if s.present {
			live[k] = s
		}
	}
	l.mu.Unlock()
	h.checkListing(c, live)
	h.checkRows(live)
}

func pick(seen map[string]objState, like outcome) outcome {
	o := outcome{}
	for k := range like {
		o[k] = seen[k]
	}
	return o
}

// checkListing lists the bucket: exactly the live keys are there.
func (h *crashHarness) checkListing(c *crashChild, live map[string]objState) {
	var listed []string
	p := s3.NewListObjectsV2Paginator(c.s3, &s3.ListObjectsV2Input{Bucket: aws.String(crashBucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			h.t.Errorf("list: %v", err)
			return
		}
		for _, o := range page.Contents {
			listed = append(listed, aws.ToString(o.Key))
		}
	}
	var want []string
	for k := range live {
		want = append(want, k)
	}
	sort.Strings(want)
	sort.Strings(listed)
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		h.t.Errorf("listing shows %q, want %q", listed, want)
	}
}

// row is a storage.objects row of the crash bucket.
type row struct {
	name, version, etag string
	size                int64
}

func (h *crashHarness) rows() []row {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rs, err := conn.Query(ctx, `select name, version, metadata->>'eTag', (metadata->>'size')::bigint
		from storage.objects where bucket_id = $1`, crashBucket)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []row
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.name, &r.version, &r.etag, &r.size); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rs.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func backendKey(bucket, name, version string) string {
	return "stub/" + bucket + "/" + name + "/" + version
}

// checkRows reads every row's bytes from the file backend: they exist and
// match the ledger and the row.
func (h *crashHarness) checkRows(live map[string]objState) {
	t := h.t
	fs, err := filestore.New(h.objects)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h.rows() {
		want, ok := live[r.name]
		if !ok {
			t.Errorf("row %q exists, but no client was told so", r.name)
			continue
		}
		rd, info, err := fs.Get(context.Background(), backendKey(crashBucket, r.name, r.version), nil)
		if err != nil {
			t.Errorf("row %q points at missing bytes: %v", r.name, err)
			continue
		}
		b, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			t.Errorf("row %q: %v", r.name, err)
			continue
		}
		if md5hex(b) != want.md5 || int64(len(b)) != r.size || info.ETag != r.etag {
			t.Errorf("row %q: bytes md5 %s size %d etag %s; row size %d etag %s; client was told %s",
				r.name, md5hex(b), len(b), info.ETag, r.size, r.etag, want.md5)
		}
	}
}

// sweep runs `storage sweep` with no grace period (no server is running)
// and returns its report.
func (h *crashHarness) sweep() string {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"sweep", "--grace=1ns", "--upload-ttl=1ns"},
		func(k string) string { return h.env[k] }, &out, &errs)
	if code != 0 {
		h.t.Fatalf("sweep: exit %d: %s", code, errs.String())
	}
	return strings.TrimSpace(out.String())
}

// checkBackendExact: after the sweep the backend holds the live versions
// and nothing else: no orphan, no replaced version, no temp file and no
// abandoned multipart upload.
func (h *crashHarness) checkBackendExact() {
	t := h.t
	want := map[string]bool{}
	for _, r := range h.rows() {
		want[backendKey(crashBucket, r.name, r.version)] = true
	}
	fs, err := filestore.New(h.objects)
	if err != nil {
		t.Fatal(err)
	}
	err = fs.List(context.Background(), "", func(k string, _ time.Time) error {
		if !want[k] {
			t.Errorf("after the sweep the backend still holds %s", k)
		}
		delete(want, k)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range want {
		t.Errorf("live bytes %s are gone", k)
	}
	for _, d := range []string{".tmp", ".multipart"} {
		ents, err := os.ReadDir(filepath.Join(h.objects, d))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) > 0 {
			t.Errorf("after the sweep %s holds %d entries", d, len(ents))
		}
	}
}
