package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// hostileKeys are object names meant to escape, confuse or crash: each is
// either refused with a 4xx or stored and read back under exactly its name.
var hostileKeys = []struct {
	name   string
	key    string
	stored bool
	// long: the key is too long for the S3 backend once its tenant,
	// bucket and version are added (S3 keys end at 1024 bytes), so there
	// it is refused with KeyTooLongError.
	long bool
}{
	{"a dot-dot segment", "../x", false, false},
	{"a dot-dot segment deep inside", "a/b/../../../../etc/passwd", false, false},
	{"a lone dot-dot", "..", false, false},
	{"a dot segment", "./a", false, false},
	{"a dot segment inside", "a/./b", false, false},
	{"an absolute path", "/etc/passwd", true, false},
	{"a double slash", "a//b", true, false},
	{"a trailing slash", "dir/", true, false},
	{"a NUL byte", "a\x00b", false, false},
	{"a newline", "a\nb", false, false},
	{"a DEL", "a\x7fb", false, false},
	{"a C1 control", "a\u0085b", false, false},
	{"invalid UTF-8", "a\xff\xfeb", false, false},
	{"an overlong UTF-8 slash", "a\xc0\xafb", false, false},
	{"1025 bytes", strings.Repeat("k", 1025), false, false},
	{"1024 bytes", strings.Repeat("k", 1024), true, true},
	{"1024 bytes of four-byte runes", strings.Repeat("😀", 256), true, true},
	{"1024 bytes that all need escaping on disk", strings.Repeat("%", 1024), true, true},
	{"512 segments", strings.Repeat("a/", 511) + "a", true, true},
	{"percent signs", "%2e%2e/%2fx", true, false},
	{"backslashes", `..\..\x`, true, false},
	{"dots that are not segments", "...", true, false},
	{"a dot-dot look-alike", "\u2024\u2024/x", true, false},
	{"a file name with dots", "a..b/.hidden", true, false},
	{"spaces and symbols", " !$&'()*+,;=:@ ", true, false},
	{"a question mark and a hash", "q?x=1#frag", true, false},
	{"a Windows device name", "CON", true, false},
	{"the placeholder suffix", "dir/.emptyFolderPlaceholder", true, false},
}

// TestHostileKeys writes every hostile key through both fronts against
// both backends: a refused key leaves nothing, a stored one reads back
// byte for byte under the same name from both fronts, and the file backend
// never writes outside its root.
func TestHostileKeys(t *testing.T) {
	backends := map[string]func(t *testing.T) map[string]string{
		"file": func(t *testing.T) map[string]string {
			return map[string]string{}
		},
		"s3": func(t *testing.T) map[string]string {
			f := newFaultyS3(t, "hostile-backend")
			return map[string]string{"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": "hostile-backend",
				"STORAGE_S3_ENDPOINT": f.srv.URL, "STORAGE_S3_FORCE_PATH_STYLE": "true", "STORAGE_S3_REGION": "us-east-1",
				"STORAGE_S3_ACCESS_KEY_ID": "AKIAFAKE", "STORAGE_S3_SECRET_ACCESS_KEY": "fake-secret"}
		},
	}
	for _, be := range []string{"file", "s3"} {
		t.Run(be, func(t *testing.T) {
			// The data directory sits alone in a parent that must stay
			// empty but for it.
			parent := t.TempDir()
			env := backends[be](t)
			env["STORAGE_DATA_DIR"] = filepath.Join(parent, "data")
			s := startLive(t, env)
			ctx := context.Background()
			svc := s.serviceS3()
			token := jwtFor(t, "service_role", "")
			if _, err := svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("h")}); err != nil {
				t.Fatal(err)
			}
			for _, k := range hostileKeys {
				t.Run(k.name, func(t *testing.T) {
					body := "bytes of " + k.name
					if strings.HasSuffix(k.key, ".emptyFolderPlaceholder") {
						body = ""
					}
					stored := k.stored && !(k.long && be == "s3")
					_, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("h"), Key: aws.String(k.key), Body: strings.NewReader(body)})
					if (err == nil) != stored {
						t.Fatalf("S3 put: %v, want stored %v", s3Outcome(err), stored)
					}
					if err != nil && !strings.HasPrefix(s3Outcome(err), "400 ") {
						t.Errorf("S3 put refused with %s, want a 400", s3Outcome(err))
					}
					rbody := body + " (rest)"
					if body == "" {
						rbody = ""
					}
					r, rerr := rest(http.DefaultClient, "PUT", s.url+"/object/"+objectPath("h", k.key), token,
						strings.NewReader(rbody), map[string]string{"Content-Type": "text/plain"})
					if rerr != nil {
						t.Fatal(rerr)
					}
					if (r.status == 200) != stored {
						t.Fatalf("REST upload: %d %s, want stored %v", r.status, r.body, stored)
					}
					if r.status != 200 && (r.status != 400 || r.statusCode() >= "500") {
						t.Errorf("REST upload refused with %d %s, want a 4xx", r.status, r.body)
					}
					if !stored {
						// Reading, heading and deleting what cannot exist
						// are client errors too, never a 5xx.
						_, err := svc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("h"), Key: aws.String(k.key)})
						_, herr := svc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("h"), Key: aws.String(k.key)})
						_, derr := svc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("h"), Key: aws.String(k.key)})
						for _, e := range []error{err, herr, derr} {
							if o := s3Outcome(e); strings.HasPrefix(o, "5") {
								t.Errorf("S3: %s", o)
							}
						}
						for _, method := range []string{"GET", "HEAD", "DELETE"} {
							r, err := rest(http.DefaultClient, method, s.url+"/object/"+objectPath("h", k.key), token, nil, nil)
							if err != nil || r.status >= 500 || r.statusCode() >= "500" {
								t.Errorf("REST %s: %d %s %v", method, r.status, r.body, err)
							}
						}
						return
					}
					if got := readS3b(t, svc, "h", k.key); got != rbody {
						t.Errorf("S3 reads %q", got)
					}
					g, err := rest(http.DefaultClient, "GET", s.url+"/object/"+objectPath("h", k.key), token, nil, nil)
					if err != nil || g.status != 200 || string(g.body) != rbody {
						t.Errorf("REST reads %d %q %v", g.status, g.body, err)
					}
				})
			}
			t.Run("listing shows exactly the stored names", func(t *testing.T) {
				want := map[string]bool{}
				for _, k := range hostileKeys {
					if k.stored && !(k.long && be == "s3") {
						want[k.key] = true
					}
				}
				p := s3.NewListObjectsV2Paginator(svc, &s3.ListObjectsV2Input{Bucket: aws.String("h")})
				for p.HasMorePages() {
					page, err := p.NextPage(ctx)
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range page.Contents {
						if !want[aws.ToString(o.Key)] {
							t.Errorf("listed %q", aws.ToString(o.Key))
						}
						delete(want, aws.ToString(o.Key))
					}
				}
				for k := range want {
					t.Errorf("not listed: %q", k)
				}
			})
			t.Run("nothing was written outside the data directory", func(t *testing.T) {
				ents, err := os.ReadDir(parent)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range ents {
					if e.Name() != "data" {
						t.Errorf("found %s beside the data directory", e.Name())
					}
				}
				if be != "file" {
					return
				}
				root := filepath.Join(parent, "data", "objects")
				filepath.WalkDir(filepath.Join(parent, "data"), func(p string, d os.DirEntry, err error) error { //nolint:errcheck
					if err == nil && d.Type()&os.ModeSymlink != 0 {
						t.Errorf("a symlink in the data directory: %s", p)
					}
					if err == nil && !d.IsDir() && !strings.HasPrefix(p, root) && filepath.Dir(p) != filepath.Join(parent, "data") {
						t.Errorf("a file outside the object root: %s", p)
					}
					return nil
				})
			})
		})
	}
}

// TestPathTricks sends URLs whose raw paths play with encoding and dot
// segments: none may reach another bucket or user's object, and none may
// fail with a 5xx.
func TestPathTricks(t *testing.T) {
	m := newMatrix(t)
	B := uidB
	secret := B + "/b.txt"
	paths := []string{
		"/object/public/pub/../priv/" + secret,
		"/object/public/pub/%2e%2e/priv/" + secret,
		"/object/public/pub/..%2fpriv%2f" + strings.ReplaceAll(secret, "/", "%2f"),
		"/object/public/pub%2f..%2fpriv/" + secret,
		"/object/public/pub/%252e%252e/priv/" + secret,
		"/object/pub/../priv/" + secret,
		"/object/public/./priv/" + secret,
		"/object/public//priv/" + secret,
		"/object/sign/priv/" + secret,
		"/object/info/public/pub/../../info/priv/" + secret,
		"/s3/pub/../priv/" + secret,
		"/s3/priv/" + secret,
		"/s3/../object/priv/" + secret,
		"/object/public/pub/" + B + "%00/../../priv/" + secret,
		"/object/public/pub/" + B + "%ff/b.txt",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			for _, role := range []string{"no token", "user A"} {
				req, _ := http.NewRequest("GET", m.s.url+"/", nil)
				req.URL.Opaque = p // sent as is, not cleaned by the client
				if tok := m.tokens[role]; tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := oneShot().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(b), secret) && resp.StatusCode == 200 {
					t.Errorf("%s read B's private object: %s", role, b)
				}
				if resp.StatusCode >= 500 {
					t.Errorf("%s: %d %s", role, resp.StatusCode, b)
				}
			}
		})
	}
}
