package s3api

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/gofiber/fiber/v2"

	"github.com/supagate/storage/backend/filestore"
	"github.com/supagate/storage/meta"
	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }

const (
	testKey    = "TESTACCESSKEY"
	testSecret = "test-secret-key-0123456789"
	jwtSecret  = "a-test-jwt-secret-of-sufficient-length"
)

// testServer is our S3 front on a loopback port over a fresh database and
// a filestore backend.
type testServer struct {
	url    string // S3 endpoint, with the /s3 prefix
	root   string // root-mounted endpoint (dedicated listener)
	store  *meta.Store
	dsn    string
	jwt    *auth.Verifier
	sealer *meta.Sealer
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	dsn := metatest.NewDB(t)
	be, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := meta.Open(context.Background(), meta.Options{DSN: dsn, Backend: be, FileSizeLimit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	v, err := auth.New(auth.Options{Secret: []byte(jwtSecret)})
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := meta.NewSealer("test-encryption-key")
	anon, _ := v.Sign(map[string]any{"role": "anon"})
	h := New(Options{Store: st, JWT: v, Sealer: sealer, AccessKey: testKey, SecretKey: testSecret,
		TenantID: "stub", AnonKey: anon})
	ts := &testServer{store: st, dsn: dsn, jwt: v, sealer: sealer}
	ts.url = listen(t, func(app *fiber.App) { h.Mount(app, "/s3") }) + "/s3"
	ts.root = listen(t, func(app *fiber.App) { h.Mount(app, "") })
	return ts
}

func listen(t *testing.T, mount func(*fiber.App)) string {
	t.Helper()
	app := fiber.New(fiber.Config{StreamRequestBody: true, BodyLimit: 1 << 20, ReadBufferSize: 32 << 10,
		DisableStartupMessage: true})
	mount(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go app.Listener(ln)                                            //nolint:errcheck // ends with the test
	t.Cleanup(func() { app.ShutdownWithTimeout(5 * time.Second) }) //nolint:errcheck
	return "http://" + ln.Addr().String()
}

// client returns an aws-sdk-go-v2 S3 client for endpoint with the given keys.
func client(endpoint, key, secret, token string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(key, secret, token),
		// Plain http: checksums only when required, so bodies need not be
		// seekable; the streaming path has its own test.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

func (ts *testServer) service() *s3.Client { return client(ts.url, testKey, testSecret, "") }
