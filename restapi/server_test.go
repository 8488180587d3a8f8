package restapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testSecret = "super-secret-jwt-token-with-at-least-32-characters"

// Users of the tests: the policies of perUserPolicies give each a folder
// named after their id in the "private" and "public" buckets.
const (
	userAID = "11111111-1111-1111-1111-111111111111"
	userBID = "22222222-2222-2222-2222-222222222222"
)

// server is one REST front on a loopback port with a fresh database.
type server struct {
	url     string
	dsn     string
	store   *meta.Store
	be      backend.Backend
	handler *Handler
	// Bearer tokens.
	anon, service, userA, userB string
}

// serverOpts tweak newServer.
type serverOpts struct {
	backend       backend.Backend // nil: a filestore in a temp dir
	fileSizeLimit int64
	realStatus    bool
	now           func() time.Time
	// preparse leaves fasthttp's multipart pre-parsing on, as an app that
	// forgot DisablePreParseMultipartForm has it.
	preparse bool
}

// newServer starts the REST front as cmd/storage wires it (streamed request
// bodies, 1 MiB buffered, no multipart pre-parsing) with the reclaimer
// running.
func newServer(t testing.TB, o serverOpts) *server {
	t.Helper()
	dsn := metatest.NewDB(t)
	be := o.backend
	if be == nil {
		fs, err := filestore.New(filepath.Join(t.TempDir(), "objects"))
		if err != nil {
			t.Fatal(err)
		}
		be = fs
	}
	st, err := meta.Open(context.Background(), meta.Options{DSN: dsn, Backend: be, FileSizeLimit: o.fileSizeLimit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); st.RunReclaimer(ctx, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	v, err := auth.New(auth.Options{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Store: st, Verifier: v, FileSizeLimit: o.fileSizeLimit, RealStatus: o.realStatus, Now: o.now})
	s := &server{dsn: dsn, store: st, be: be, handler: h, url: listen(t, h, o.preparse)}
	sign := func(c map[string]any) string {
		tok, err := v.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	s.anon = sign(map[string]any{"role": "anon"})
	s.service = sign(map[string]any{"role": "service_role"})
	s.userA = sign(map[string]any{"role": "authenticated", "sub": userAID})
	s.userB = sign(map[string]any{"role": "authenticated", "sub": userBID})
	return s
}

// listen serves h on 127.0.0.1 until the test ends.
func listen(t testing.TB, h *Handler, preparse bool) string {
	t.Helper()
	app := fiber.New(fiber.Config{StreamRequestBody: true, BodyLimit: 1 << 20, ReadBufferSize: 32 << 10,
		DisablePreParseMultipartForm: !preparse, DisableStartupMessage: true})
	h.Mount(app)
	app.Use(NotFound)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)                                            //nolint:errcheck // ends with the test
	t.Cleanup(func() { app.ShutdownWithTimeout(5 * time.Second) }) //nolint:errcheck // best effort
	return "http://" + ln.Addr().String()
}

// perUserPolicies creates a private and a public bucket ("open") and lets
// authenticated users read, write, update and delete in the folder named
// after their id, in both.
const perUserPolicies = `
insert into storage.buckets (id, name, public) values ('private', 'private', false), ('open', 'open', true);
create policy "own folder select" on storage.objects for select to authenticated
    using ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder insert" on storage.objects for insert to authenticated
    with check ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder update" on storage.objects for update to authenticated
    using ((storage.foldername(name))[1] = auth.uid()::text);
create policy "own folder delete" on storage.objects for delete to authenticated
    using ((storage.foldername(name))[1] = auth.uid()::text);
`

// req is one HTTP request of a test.
type req struct {
	method, path, token string
	body                any // nil, string, []byte, io.Reader or a JSON value
	headers             map[string]string
}

// resp is a test's view of a response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return v
}

var client = &http.Client{Timeout: 2 * time.Minute}

func (s *server) do(t testing.TB, r req) resp {
	t.Helper()
	var body io.Reader
	ct := ""
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body, ct = bytes.NewReader(j), "application/json"
	}
	hr, err := http.NewRequest(r.method, s.url+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	res, err := client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// errShape is the part of an error body tests compare.
type errShape struct {
	StatusCode string `json:"statusCode"`
	Error      string `json:"error"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

// wantError checks a handled error: wire 400 (unless wire says otherwise)
// and the body's statusCode, code and, when msg is set, message.
func wantError(t testing.TB, r resp, wire int, statusCode, code, msg string) {
	t.Helper()
	var e errShape
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if r.status != wire || e.StatusCode != statusCode || e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("got HTTP %d %s, want HTTP %d {statusCode:%q code:%q message:%q}", r.status, r.body, wire, statusCode, code, msg)
	}
}

// golden compares got with testdata/<name>.golden, rewriting it under -update.
func golden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err == nil {
		got = append(buf.Bytes(), '\n')
	}
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

// upload stores body at bucket/key as the service role and fails the test
// on error.
func (s *server) upload(t testing.TB, bucket, key, body, contentType string) {
	t.Helper()
	r := s.do(t, req{method: "POST", path: "/object/" + bucket + "/" + key, token: s.service, body: body,
		headers: map[string]string{"Content-Type": contentType}})
	if r.status != 200 {
		t.Fatalf("upload %s/%s: %d %s", bucket, key, r.status, r.body)
	}
}
