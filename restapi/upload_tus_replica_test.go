package restapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta/metatest"
)

// twoServers starts two servers on one database and one directory of
// files, each with its own pool, filestore and loopback port: two
// replicas behind a load balancer. edit adjusts the second's options.
func twoServers(t *testing.T, edit func(*Options)) (a *server, bURL string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "objects")
	fs1, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	a = newServer(t, serverOpts{backend: fs1})
	metatest.Exec(t, a.dsn, perUserPolicies)
	fs2, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return a, replica(t, a, fs2, edit)
}

// on rewrites an upload URL to another server, as a load balancer would
// send the request there.
func on(t testing.TB, loc, server string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := url.Parse(server)
	u.Host = s.Host
	return u.String()
}

func TestTUSResumesOnAnotherServer(t *testing.T) {
	t.Parallel()
	for _, be := range []string{"filestore", "s3store"} {
		t.Run(be, func(t *testing.T) {
			t.Parallel()
			partSize := func(o *Options) { o.TUSPartSize = 5 * mib }
			var a *server
			var bURL string
			if be == "filestore" {
				a, bURL = twoServers(t, partSize)
			} else {
				// One S3 bucket behind both servers.
				a = newServer(t, serverOpts{backend: newS3Backend(t)})
				metatest.Exec(t, a.dsn, perUserPolicies)
				bURL = replica(t, a, a.be, partSize)
			}
			resumeOnAnotherServer(t, a, bURL)
		})
	}
}

func resumeOnAnotherServer(t *testing.T, a *server, bURL string) {
	ca := tusClient{t: t, base: a.url, path: tusPath, headers: bearerHeader(a.userA)}
	cb := tusClient{t: t, base: bURL, path: tusPath, headers: bearerHeader(a.userA)}
	name := userAID + "/two-servers.bin"
	data := tusData(20*mib+11, 6)
	loc := ca.mustCreate(map[string]string{"bucketName": "private", "objectName": name}, int64(len(data)))
	ca.upload(loc, data[:6*mib], 0, 6*mib)
	t.Run("server B knows the upload server A started", func(t *testing.T) {
		if got := cb.offset(on(t, loc, bURL)); got != 6*mib {
			t.Fatalf("offset %d on B", got)
		}
	})
	t.Run("a chunk cut off on B keeps its complete parts", func(t *testing.T) {
		// B cuts chunks into 5 MiB parts: 5 of the 8 MiB sent are kept.
		cb.cutPatch(on(t, loc, bURL), 6*mib, 12*mib, data[6*mib:14*mib])
		if got := cb.offset(on(t, loc, bURL)); got != 11*mib {
			t.Fatalf("offset %d, want %d", got, 11*mib)
		}
	})
	t.Run("A finishes it with the right bytes", func(t *testing.T) {
		from := ca.offset(loc)
		ca.upload(loc, data, from, 6*mib)
		for _, srv := range []string{a.url, bURL} {
			r := (&server{url: srv}).do(t, req{method: "GET", path: "/object/authenticated/private/" + name, token: a.userA})
			if r.status != 200 || !bytes.Equal(r.body, data) {
				t.Fatalf("download from %s: %d, %d bytes", srv, r.status, len(r.body))
			}
		}
	})
}

// slowBody yields b in slices with pauses, so two uploads overlap.
type slowBody struct {
	r     *bytes.Reader
	slice int
	pause time.Duration
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(p) > s.slice {
		p = p[:s.slice]
	}
	n, err := s.r.Read(p)
	if err == nil {
		time.Sleep(s.pause)
	}
	return n, err
}

func TestTUSConcurrentPatchesCannotCorrupt(t *testing.T) {
	t.Parallel()
	a, bURL := twoServers(t, nil)
	name := userAID + "/contended.bin"
	const chunk = 6 * mib
	first, second := tusData(chunk, 7), tusData(chunk, 8)
	rest := tusData(chunk+3*mib, 9)
	ca := tusClient{t: t, base: a.url, path: tusPath, headers: bearerHeader(a.userA)}
	loc := ca.mustCreate(map[string]string{"bucketName": "private", "objectName": name}, chunk+int64(len(rest)))

	// Two clients PATCH the same offset at once, one through each server,
	// with different bytes.
	type result struct {
		status int
		body   string
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, src := range [][]byte{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 100 * time.Millisecond)
			target := loc
			if i == 1 {
				target = on(t, loc, bURL)
			}
			hr, _ := http.NewRequest("PATCH", target, &slowBody{r: bytes.NewReader(src), slice: 256 << 10, pause: 10 * time.Millisecond})
			hr.ContentLength = chunk
			for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
				"Content-Type": "application/offset+octet-stream", "Authorization": "Bearer " + a.userA} {
				hr.Header.Set(k, v)
			}
			res, err := client.Do(hr)
			if err != nil {
				results[i] = result{status: -1, body: err.Error()}
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			results[i] = result{status: res.StatusCode, body: string(b)}
		}()
	}
	wg.Wait()
	t.Logf("A: %d %q, B: %d %q", results[0].status, results[0].body, results[1].status, results[1].body)
	ok := 0
	for _, r := range results {
		switch r.status {
		case 204:
			ok++
		case 409, 400, -1: // offset conflict, or interrupted by the other request
		default:
			t.Errorf("unexpected answer %d %q", r.status, r.body)
		}
	}
	if ok > 1 {
		t.Fatal("both PATCHes of one offset succeeded")
	}

	// Whatever won, the stored bytes are one client's chunk, whole.
	off := ca.offset(loc)
	if off != 0 && off != chunk {
		t.Fatalf("offset %d: a chunk was stored in part", off)
	}
	if off == 0 { // both lost: the client retries
		ca.upload(loc, first, 0, chunk)
	}
	obj := append(make([]byte, chunk), rest...)
	ca.upload(loc, obj, chunk, chunk)
	r := a.download(t, "private", name)
	if r.status != 200 || len(r.body) != len(obj) {
		t.Fatalf("download: %d, %d bytes", r.status, len(r.body))
	}
	if head := r.body[:chunk]; !bytes.Equal(head, first) && !bytes.Equal(head, second) {
		t.Fatal("the first chunk mixes both clients' bytes")
	}
	if !bytes.Equal(r.body[chunk:], rest) {
		t.Fatal("the rest differs")
	}
}

// TestTUSStreamsWithoutBuffering sends a 256 MiB upload as one PATCH (as
// tus-js-client does by default) and checks that the heap (server and
// client share the process) stays small: tusd sees fasthttp's body stream,
// not a buffered body.
func TestTUSStreamsWithoutBuffering(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 256 MiB")
	}
	const size = 256 * mib
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, `insert into storage.buckets (id, name) values ('big', 'big')`)
	c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.service)}
	loc := c.mustCreate(map[string]string{"bucketName": "big", "objectName": "tus.bin"}, size)
	sum := sha256.New()
	watch := watchHeap()
	body := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{9}), size), sum)
	hr, _ := http.NewRequest("PATCH", loc, body)
	hr.ContentLength = size
	for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream", "Authorization": "Bearer " + s.service} {
		hr.Header.Set(k, v)
	}
	start := time.Now()
	res, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	took := time.Since(start)
	growth := watch.growth()
	if res.StatusCode != 204 || res.Header.Get("Upload-Offset") != strconv.Itoa(size) {
		t.Fatalf("PATCH: %d %v", res.StatusCode, res.Header)
	}
	t.Logf("256 MiB in one PATCH: %v (%.0f MiB/s), heap growth %d KiB", took.Round(time.Millisecond),
		float64(size)/float64(mib)/took.Seconds(), growth>>10)
	hr, _ = http.NewRequestWithContext(context.Background(), "GET", s.url+"/object/big/tus.bin", nil)
	hr.Header.Set("Authorization", "Bearer "+s.service)
	res, err = client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, _ := io.Copy(got, res.Body)
	res.Body.Close()
	if n != size || !bytes.Equal(got.Sum(nil), sum.Sum(nil)) {
		t.Fatalf("download: %d bytes, digest differs", n)
	}
	if growth >= 32*mib {
		t.Fatalf("heap grew by %d MiB, want < 32 MiB", growth>>20)
	}
}
