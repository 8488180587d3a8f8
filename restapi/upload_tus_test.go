package restapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

const mib = 1 << 20

func tusData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// tusClient speaks TUS 1.0.0 over plain net/http, as tus-js-client does.
type tusClient struct {
	t       testing.TB
	base    string // server URL
	path    string // tusPath or tusPath+"/sign"
	headers map[string]string
}

func (c tusClient) with(k, v string) tusClient {
	h := map[string]string{}
	for k, v := range c.headers {
		h[k] = v
	}
	h[k] = v
	c.headers = h
	return c
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func tusMetadata(md map[string]string) string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(md[k])))
	}
	return strings.Join(parts, ",")
}

func (c tusClient) send(method, target string, h map[string]string, body []byte) resp {
	c.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = c.base + target
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequest(method, target, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	hr.Header.Set("Tus-Resumable", "1.0.0")
	for k, v := range c.headers {
		hr.Header.Set(k, v)
	}
	for k, v := range h {
		hr.Header.Set(k, v)
	}
	res, err := client.Do(hr)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// create is POST: a new upload of length bytes, with chunk as the
// creation-with-upload body when not nil.
func (c tusClient) create(md map[string]string, length int64, chunk []byte) resp {
	c.t.Helper()
	h := map[string]string{"Upload-Length": strconv.FormatInt(length, 10), "Upload-Metadata": tusMetadata(md)}
	if chunk != nil {
		h["Content-Type"] = "application/offset+octet-stream"
	}
	return c.send("POST", c.path, h, chunk)
}

func (c tusClient) mustCreate(md map[string]string, length int64) string {
	c.t.Helper()
	r := c.create(md, length, nil)
	if r.status != 201 || r.header.Get("Location") == "" {
		c.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return r.header.Get("Location")
}

func (c tusClient) patch(loc string, offset int64, chunk []byte) resp {
	c.t.Helper()
	return c.send("PATCH", loc, map[string]string{"Upload-Offset": strconv.FormatInt(offset, 10),
		"Content-Type": "application/offset+octet-stream"}, chunk)
}

func (c tusClient) head(loc string) resp { c.t.Helper(); return c.send("HEAD", loc, nil, nil) }

// offset is the Upload-Offset a HEAD reports.
func (c tusClient) offset(loc string) int64 {
	c.t.Helper()
	r := c.head(loc)
	if r.status != 200 {
		c.t.Fatalf("HEAD %s: %d", loc, r.status)
	}
	n, err := strconv.ParseInt(r.header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

// upload sends data[from:] in chunks of chunk bytes and returns the last
// response.
func (c tusClient) upload(loc string, data []byte, from int64, chunk int) resp {
	c.t.Helper()
	var r resp
	for off := from; off < int64(len(data)); {
		end := min(off+int64(chunk), int64(len(data)))
		r = c.patch(loc, off, data[off:end])
		if r.status != 204 || r.header.Get("Upload-Offset") != strconv.FormatInt(end, 10) {
			c.t.Fatalf("PATCH at %d: %d %q offset %q", off, r.status, r.body, r.header.Get("Upload-Offset"))
		}
		off = end
	}
	return r
}

// cutPatch sends a PATCH announcing announced bytes, writes only sent of
// them and ends its side of the connection: a client that went away. It
// returns the status the server answers once it has noticed.
func (c tusClient) cutPatch(loc string, offset int64, announced int, sent []byte) int {
	c.t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		c.t.Fatal(err)
	}
	base, _ := url.Parse(c.base)
	conn, err := net.Dial("tcp", base.Host)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\n", u.Path, base.Host)
	fmt.Fprintf(&head, "Content-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n", offset, announced)
	for k, v := range c.headers {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		c.t.Fatal(err)
	}
	if _, err := conn.Write(sent); err != nil {
		c.t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		c.t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		c.t.Fatalf("cut PATCH: %v", err)
	}
	res.Body.Close()
	return res.StatusCode
}

// download reads an object through the REST front as the service role.
func (s *server) download(t testing.TB, bucket, key string) resp {
	t.Helper()
	return s.do(t, req{method: "GET", path: "/object/authenticated/" + bucket + "/" + key, token: s.service})
}

var locationRe = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/upload/resumable/(sign/)?([A-Za-z0-9_-]+)$`)

func TestTUSOptionsAdvertiseTheProtocol(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{fileSizeLimit: 50 * mib})
	for _, path := range []string{tusPath, tusPath + "/sign"} {
		r := s.do(t, req{method: "OPTIONS", path: path, headers: map[string]string{"Origin": "https://app.example"}})
		if r.status != 200 || r.header.Get("Tus-Version") != "1.0.0" || r.header.Get("Tus-Max-Size") != strconv.Itoa(50*mib) ||
			r.header.Get("Tus-Extension") != "creation,creation-with-upload,termination,expiration" {
			t.Fatalf("OPTIONS %s: %d %v", path, r.status, r.header)
		}
		if !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "X-Signature") ||
			r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Errorf("OPTIONS %s: CORS %v", path, r.header)
		}
	}
}

func TestTUSUploadsInChunksAndResumes(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		new  func(testing.TB) backend.Backend
	}{
		{name: "filestore", new: func(testing.TB) backend.Backend { return nil }},
		{name: "s3store", new: newS3Backend},
	} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, serverOpts{backend: be.new(t)})
			metatest.Exec(t, s.dsn, perUserPolicies)
			c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.userA)}
			name := userAID + "/big.bin"
			data := tusData(13*mib+5, 1)
			create := c.create(map[string]string{"bucketName": "private", "objectName": name, "contentType": "application/x-test",
				"cacheControl": "3600", "metadata": `{"k":"v"}`}, int64(len(data)), nil)
			loc := create.header.Get("Location")
			m := locationRe.FindStringSubmatch(loc)
			if create.status != 201 || m == nil || create.header.Get("Upload-Expires") == "" || create.header.Get("Tus-Resumable") != "1.0.0" {
				t.Fatalf("create: %d %v", create.status, create.header)
			}
			id, _ := base64.RawURLEncoding.DecodeString(m[2])
			if !regexp.MustCompile(`^private/` + userAID + `/big\.bin/[0-9a-f-]{36}$`).Match(id) {
				t.Errorf("upload id decodes to %q, want private/<name>/<version>", id)
			}

			t.Run("a chunk lands", func(t *testing.T) {
				r := c.patch(loc, 0, data[:6*mib])
				if r.status != 204 || r.header.Get("Upload-Offset") != strconv.Itoa(6*mib) || r.header.Get("Upload-Expires") == "" {
					t.Fatalf("%d %q %v", r.status, r.body, r.header)
				}
			})
			t.Run("a cut-off chunk is not stored and HEAD says where to resume", func(t *testing.T) {
				if st := c.cutPatch(loc, 6*mib, 6*mib, data[6*mib:8*mib]); st != 400 {
					t.Errorf("cut PATCH answered %d", st)
				}
				r := c.head(loc)
				if r.status != 200 || r.header.Get("Upload-Offset") != strconv.Itoa(6*mib) ||
					r.header.Get("Upload-Length") != strconv.Itoa(len(data)) || r.header.Get("Cache-Control") != "no-store" ||
					r.header.Get("Content-Length") != strconv.Itoa(len(data)) ||
					!strings.Contains(r.header.Get("Upload-Metadata"), "bucketName "+base64.StdEncoding.EncodeToString([]byte("private"))) {
					t.Fatalf("HEAD: %d %v", r.status, r.header)
				}
			})
			t.Run("a stale offset is a conflict", func(t *testing.T) {
				if r := c.patch(loc, 0, data[:mib]); r.status != 409 {
					t.Fatalf("%d %s", r.status, r.body)
				}
			})
			t.Run("the rest completes the object", func(t *testing.T) {
				last := c.upload(loc, data, c.offset(loc), 6*mib)
				if last.header.Get("Tus-Complete") != "1" || last.header.Get("Upload-Expires") != "" {
					t.Errorf("last PATCH: %v", last.header)
				}
				if got := c.offset(loc); got != int64(len(data)) {
					t.Errorf("HEAD after completion: offset %d", got)
				}
				r := s.download(t, "private", name)
				if r.status != 200 || !bytes.Equal(r.body, data) || r.header.Get("Content-Type") != "application/x-test" ||
					r.header.Get("Cache-Control") != "max-age=3600" {
					t.Fatalf("download: %d, %d bytes, %v", r.status, len(r.body), r.header)
				}
				info := s.do(t, req{method: "GET", path: "/object/info/authenticated/private/" + name, token: s.userA})
				if !strings.Contains(string(info.body), `"metadata":{"k":"v"}`) {
					t.Errorf("info: %s", info.body)
				}
			})
			t.Run("a finished upload cannot be terminated", func(t *testing.T) {
				r := c.send("DELETE", loc, nil, nil)
				if r.status != 400 || string(r.body) != "Cannot terminate an already completed upload" {
					t.Fatalf("%d %q", r.status, r.body)
				}
			})
		})
	}
}

func TestTUSSmallChunksAndCreationWithUpload(t *testing.T) {
	t.Parallel()
	for _, be := range []struct {
		name string
		new  func(testing.TB) backend.Backend
	}{
		{name: "filestore", new: func(testing.TB) backend.Backend { return nil }},
		{name: "s3store", new: newS3Backend},
	} {
		t.Run(be.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, serverOpts{backend: be.new(t)})
			metatest.Exec(t, s.dsn, perUserPolicies)
			c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.service)}
			data := tusData(11*mib+3, 2)
			// The first megabyte rides on the POST; chunks under S3's
			// 5 MiB minimum part are staged until enough arrive.
			r := c.create(map[string]string{"bucketName": "private", "objectName": "small-chunks"}, int64(len(data)), data[:mib])
			if r.status != 201 || r.header.Get("Upload-Offset") != strconv.Itoa(mib) {
				t.Fatalf("create with upload: %d %q %v", r.status, r.body, r.header)
			}
			c.upload(r.header.Get("Location"), data, mib, 1*mib+mib/2)
			if got := s.download(t, "private", "small-chunks"); !bytes.Equal(got.body, data) {
				t.Fatalf("download: %d, %d bytes", got.status, len(got.body))
			}
			t.Run("an empty upload completes at once", func(t *testing.T) {
				r := c.create(map[string]string{"bucketName": "private", "objectName": "empty"}, 0, nil)
				if r.status != 201 || r.header.Get("Tus-Complete") != "1" {
					t.Fatalf("%d %q %v", r.status, r.body, r.header)
				}
				if got := s.download(t, "private", "empty"); got.status != 200 || len(got.body) != 0 {
					t.Fatalf("download: %d %q", got.status, got.body)
				}
			})
			t.Run("a chunk without Content-Length is refused", func(t *testing.T) {
				loc := c.mustCreate(map[string]string{"bucketName": "private", "objectName": "chunked"}, 10)
				hr, _ := http.NewRequest("PATCH", loc, io.MultiReader(strings.NewReader("0123456789")))
				hr.ContentLength = -1
				for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
					"Content-Type": "application/offset+octet-stream", "Authorization": "Bearer " + s.service} {
					hr.Header.Set(k, v)
				}
				res, err := client.Do(hr)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 411 {
					t.Fatalf("got %d, want 411", res.StatusCode)
				}
			})
		})
	}
}

func TestTUSTerminate(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies)
	c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.userA)}
	loc := c.mustCreate(map[string]string{"bucketName": "private", "objectName": userAID + "/gone.bin"}, 8*mib)
	c.upload(loc, tusData(6*mib, 3), 0, 6*mib)
	if r := c.send("DELETE", loc, nil, nil); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if r := c.head(loc); r.status != 404 {
		t.Errorf("HEAD after DELETE: %d", r.status)
	}
	if r := c.patch(loc, 6*mib, []byte("x")); r.status != 404 {
		t.Errorf("PATCH after DELETE: %d %s", r.status, r.body)
	}
	var n int
	if err := pgValue(t, s.dsn, `select count(*) from storage.gateway_tus_uploads`, &n); err != nil || n != 0 {
		t.Errorf("%d upload rows left, %v", n, err)
	}
}

func TestTUSExpiry(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies)
	c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.service)}
	r := c.create(map[string]string{"bucketName": "private", "objectName": "expiring"}, 10*mib, nil)
	exp, err := http.ParseTime(r.header.Get("Upload-Expires"))
	if r.status != 201 || err != nil || exp.Before(time.Now().Add(50*time.Minute)) || exp.After(time.Now().Add(61*time.Minute)) {
		t.Fatalf("create: %d, Upload-Expires %q (%v), want about an hour from now", r.status, r.header.Get("Upload-Expires"), err)
	}
	loc := r.header.Get("Location")
	c.upload(loc, tusData(6*mib, 5), 0, 6*mib)
	metatest.Exec(t, s.dsn, `update storage.gateway_tus_uploads set expires_at = now() - interval '1 second'`)
	if r := c.head(loc); r.status != 404 {
		t.Fatalf("HEAD of an expired upload: %d", r.status)
	}
	st, err := s.store.Sweep(context.Background(), meta.SweepOptions{})
	if err != nil || st.StaleUploads != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	var n int
	if err := pgValue(t, s.dsn, `select count(*) from storage.gateway_tus_uploads`, &n); err != nil || n != 0 {
		t.Errorf("%d upload rows left, %v", n, err)
	}
}

func TestTUSLocationFromForwardedHeaders(t *testing.T) {
	t.Parallel()
	s := newServer(t, serverOpts{})
	metatest.Exec(t, s.dsn, perUserPolicies)
	fwd := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "storage.example", "X-Forwarded-Prefix": "/storage/v1"}
	md := map[string]string{"bucketName": "private", "objectName": "fwd"}
	t.Run("ignored unless trusted", func(t *testing.T) {
		c := tusClient{t: t, base: s.url, path: tusPath, headers: bearerHeader(s.service)}
		for k, v := range fwd {
			c = c.with(k, v)
		}
		if loc := c.mustCreate(md, 1); !locationRe.MatchString(loc) {
			t.Fatalf("Location %q", loc)
		}
	})
	t.Run("used when trusted", func(t *testing.T) {
		url := replica(t, s, s.be, func(o *Options) { o.TrustForwarded = true })
		c := tusClient{t: t, base: url, path: tusPath, headers: bearerHeader(s.service)}
		for k, v := range fwd {
			c = c.with(k, v)
		}
		loc := c.mustCreate(md, 1)
		if !regexp.MustCompile(`^https://storage\.example/storage/v1/upload/resumable/[A-Za-z0-9_-]+$`).MatchString(loc) {
			t.Fatalf("Location %q", loc)
		}
	})
}

// replica starts a second server on s's database over be (s's backend,
// or another store over the same files): its own pool, handler and
// loopback port, as another replica behind a load balancer. edit adjusts
// its options.
func replica(t testing.TB, s *server, be backend.Backend, edit func(*Options)) string {
	t.Helper()
	st, err := meta.Open(context.Background(), meta.Options{DSN: s.dsn, Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	v, err := auth.New(auth.Options{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Store: st, Verifier: v}
	if edit != nil {
		edit(&o)
	}
	h := New(o)
	t.Cleanup(h.Close)
	return listen(t, h, false)
}

// pgValue scans the one value query returns.
func pgValue(t testing.TB, dsn, query string, dest any) error {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) //nolint:errcheck // test
	return conn.QueryRow(context.Background(), query).Scan(dest)
}
