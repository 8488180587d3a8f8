package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/supagate/storage/meta/metatest"
)

// The users of the matrix: their folders are the first segment of a key.
const (
	uidA = "aaaaaaaa-0000-4000-8000-000000000001"
	uidB = "bbbbbbbb-0000-4000-8000-000000000002"
)

// matrixPolicies: in the private bucket each user reads and writes her own
// folder; in the public bucket anyone reads and each user writes her own
// folder; authenticated users see both buckets, anon sees public ones.
// Nothing else is granted (no bucket writes, no policies for anon writes).
const matrixPolicies = `
create policy "priv own select" on storage.objects for select to authenticated
	using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "priv own insert" on storage.objects for insert to authenticated
	with check (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "priv own update" on storage.objects for update to authenticated
	using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text)
	with check (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "priv own delete" on storage.objects for delete to authenticated
	using (bucket_id = 'priv' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "pub read" on storage.objects for select to anon, authenticated using (bucket_id = 'pub');
create policy "pub own insert" on storage.objects for insert to authenticated
	with check (bucket_id = 'pub' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "buckets for users" on storage.buckets for select to authenticated using (true);
create policy "public buckets for anon" on storage.buckets for select to anon using (public);
`

// matrix is the server and identities the RLS matrix runs against.
type matrix struct {
	t       *testing.T
	s       *liveServer
	svc     *s3.Client
	tokens  map[string]string     // REST role → bearer token ("" for none)
	clients map[string]*s3.Client // S3 role → client
	n       atomic.Int64
}

var (
	restRoles = []string{"no token", "anon", "user A", "user B", "service"}
	s3Roles   = []string{"anon", "user A", "user B", "A's key", "service"}
)

func newMatrix(t *testing.T) *matrix {
	t.Helper()
	anonKey := jwtFor(t, "anon", "")
	s := startLive(t, map[string]string{"ANON_KEY": anonKey})
	m := &matrix{t: t, s: s, svc: s.serviceS3()}
	ctx := context.Background()
	if _, err := m.svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("priv")}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("pub"), ACL: types.BucketCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scratch")}); err != nil {
		t.Fatal(err)
	}
	metatest.Exec(t, s.dsn, matrixPolicies)
	for _, k := range []string{"priv/" + uidA + "/a.txt", "priv/" + uidB + "/b.txt", "pub/" + uidA + "/a.txt", "pub/" + uidB + "/b.txt"} {
		b, key, _ := strings.Cut(k, "/")
		m.seed(b, key)
	}
	tokA, tokB := jwtFor(t, "authenticated", uidA), jwtFor(t, "authenticated", uidB)
	m.tokens = map[string]string{"no token": "", "anon": anonKey, "user A": tokA, "user B": tokB,
		"service": jwtFor(t, "service_role", "")}
	key, secret := m.credential(fmt.Sprintf(`{"role":"authenticated","sub":%q}`, uidA))
	m.clients = map[string]*s3.Client{
		"anon":    s3Client(s.url+"/s3", "stub", anonKey, anonKey),
		"user A":  s3Client(s.url+"/s3", "stub", anonKey, tokA),
		"user B":  s3Client(s.url+"/s3", "stub", anonKey, tokB),
		"A's key": s3Client(s.url+"/s3", key, secret, ""),
		"service": m.svc,
	}
	return m
}

// credential creates an S3 key kept in Postgres with claims, through the
// `storage s3-credentials create` command.
func (m *matrix) credential(claims string) (key, secret string) {
	var out, errs bytes.Buffer
	env := baseEnv(m.s.dsn, m.s.dir)
	if code := run(context.Background(), []string{"s3-credentials", "create", "--claims", claims},
		func(k string) string { return env[k] }, &out, &errs); code != 0 {
		m.t.Fatalf("s3-credentials create: %s", errs.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "access_key_id="); ok {
			key = v
		}
		if v, ok := strings.CutPrefix(l, "secret_access_key="); ok {
			secret = v
		}
	}
	return key, secret
}

// seed writes bucket/key as service role; its body is the key.
func (m *matrix) seed(bucket, key string) {
	m.t.Helper()
	if _, err := m.svc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(key)}); err != nil {
		m.t.Fatalf("seed %s/%s: %v", bucket, key, err)
	}
}

// victim seeds a fresh object in user u's folder of bucket for one cell.
func (m *matrix) victim(bucket, uid string) string {
	k := fmt.Sprintf("%s/victim-%d", uid, m.n.Add(1))
	m.seed(bucket, k)
	return k
}

// emptyBucket creates a fresh empty bucket for one cell.
func (m *matrix) emptyBucket() string {
	b := fmt.Sprintf("empty-%d", m.n.Add(1))
	if _, err := m.svc.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
		m.t.Fatal(err)
	}
	return b
}

// bucketState is "+" when bucket exists (seen as service role), else "-".
func (m *matrix) bucketState(bucket string) string {
	if _, err := m.svc.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return "-"
	}
	return "+"
}

// fresh is a key in u's folder no one wrote yet.
func (m *matrix) fresh(uid string) string { return fmt.Sprintf("%s/new-%d", uid, m.n.Add(1)) }

// exists reports, as service role, whether bucket/key is there.
func (m *matrix) exists(bucket, key string) bool {
	_, err := m.svc.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err == nil
}

// state describes keys as "+" (present) or "-" (absent), for effects.
func (m *matrix) state(bucket string, keys ...string) string {
	var b strings.Builder
	for _, k := range keys {
		if m.exists(bucket, k) {
			b.WriteByte('+')
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// rest sends a REST request as role and returns "<real status> <code>" or
// "200".
func (m *matrix) rest(role, method, path string, body string) (string, []byte) {
	var rd io.Reader
	hdr := map[string]string{}
	if body != "" {
		rd = strings.NewReader(body)
		hdr["Content-Type"] = "application/json"
	}
	r, err := rest(http.DefaultClient, method, m.s.url+path, m.tokens[role], rd, hdr)
	if err != nil {
		return err.Error(), nil
	}
	if r.status < 300 {
		return "200", r.body
	}
	return r.statusCode() + " " + r.code(), r.body
}

// upload sends raw bytes as role.
func (m *matrix) upload(role, method, path string) string {
	r, err := rest(http.DefaultClient, method, m.s.url+path, m.tokens[role], strings.NewReader("upload"),
		map[string]string{"Content-Type": "text/plain"})
	if err != nil {
		return err.Error()
	}
	if r.status < 300 {
		return "200"
	}
	return r.statusCode() + " " + r.code()
}

// s3Outcome is "ok" or "<status> <code>" of an S3 call.
func s3Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		code := ""
		var ae interface{ ErrorCode() string }
		if errors.As(err, &ae) {
			code = ae.ErrorCode()
		}
		if code == "" || code == fmt.Sprint(re.HTTPStatusCode()) {
			code = "(no body)"
		}
		return fmt.Sprintf("%d %s", re.HTTPStatusCode(), code)
	}
	return err.Error()
}

// names returns the sorted "name" members of a JSON array of objects,
// relative to the user ids (A/, B/), for list answers.
func names(body []byte, field string) string {
	var rows []map[string]any
	var wrapped map[string]json.RawMessage
	if json.Unmarshal(body, &wrapped) == nil && wrapped[field] != nil {
		json.Unmarshal(wrapped[field], &rows) //nolint:errcheck
	} else {
		json.Unmarshal(body, &rows) //nolint:errcheck
	}
	var out []string
	for _, r := range rows {
		n, _ := r["name"].(string)
		if n == "" {
			n, _ = r["path"].(string)
		}
		if e, ok := r["error"].(string); ok && e != "" {
			n += "!"
		}
		out = append(out, short(n))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

// short writes user ids as A and B.
func short(s string) string {
	return strings.NewReplacer(uidA, "A", uidB, "B").Replace(s)
}

// cell is one operation with its expected answer for each role.
type cell struct {
	op   string
	want []string // by role, in the order of restRoles or s3Roles
	do   func(role string) string
}

func (m *matrix) run(t *testing.T, roles []string, cells []cell) {
	for _, c := range cells {
		for i, role := range roles {
			t.Run(c.op+" as "+role, func(t *testing.T) {
				if got := c.do(role); got != c.want[i] {
					t.Errorf("%s as %s: got %q, want %q", c.op, role, got, c.want[i])
				}
			})
		}
	}
}

func cellRow(v ...string) []string { return v }

// TestRLSMatrix writes every cell's expected answer: each role against
// every REST and S3 operation, in a private bucket with per-user folders
// and in a public one. An unexpected allow fails its cell, and so does an
// unexpected denial. Write cells also check their effect through the
// service role: a denied write leaves nothing, an allowed one is there.
func TestRLSMatrix(t *testing.T) {
	m := newMatrix(t)
	A, B := uidA, uidB
	t.Run("REST", func(t *testing.T) { m.run(t, restRoles, m.restCells(A, B)) })
	t.Run("S3", func(t *testing.T) { m.run(t, s3Roles, m.s3Cells(A, B)) })
}

func (m *matrix) restCells(A, B string) []cell {
	get := func(path string) func(string) string {
		return func(role string) string { st, _ := m.rest(role, "GET", path, ""); return st }
	}
	noToken404 := "400 InvalidRequest" // a protected route without Authorization (schema error)
	return []cell{
		{"GET own private object", cellRow("404 NoSuchBucket", "404 NoSuchKey", "200", "404 NoSuchKey", "200"),
			get("/object/priv/" + A + "/a.txt")},
		{"GET other's private object", cellRow("404 NoSuchBucket", "404 NoSuchKey", "404 NoSuchKey", "200", "200"),
			get("/object/priv/" + B + "/b.txt")},
		{"GET authenticated route", cellRow(noToken404, "404 NoSuchKey", "200", "404 NoSuchKey", "200"),
			get("/object/authenticated/priv/" + A + "/a.txt")},
		{"GET public route of a private bucket", cellRow("404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket"),
			get("/object/public/priv/" + A + "/a.txt")},
		{"GET public route of a public bucket", cellRow("200", "200", "200", "200", "200"),
			get("/object/public/pub/" + B + "/b.txt")},
		{"GET public object", cellRow("200", "200", "200", "200", "200"),
			get("/object/pub/" + B + "/b.txt")},
		{"info of other's private object", cellRow("404 NoSuchBucket", "404 NoSuchKey", "404 NoSuchKey", "200", "200"),
			get("/object/info/priv/" + B + "/b.txt")},
		{"HEAD other's private object", cellRow("400", "400", "400", "200", "200"), func(role string) string {
			st, _ := m.rest(role, "HEAD", "/object/priv/"+B+"/b.txt", "")
			return strings.Fields(st + " x")[0]
		}},
		{"upload into own folder", cellRow(noToken404+" -", "403 AccessDenied -", "200 +", "403 AccessDenied -", "200 +"),
			func(role string) string {
				k := m.fresh(A)
				return m.upload(role, "POST", "/object/priv/"+k) + " " + m.state("priv", k)
			}},
		{"upload into other's folder", cellRow(noToken404+" -", "403 AccessDenied -", "403 AccessDenied -", "200 +", "200 +"),
			func(role string) string {
				k := m.fresh(B)
				return m.upload(role, "POST", "/object/priv/"+k) + " " + m.state("priv", k)
			}},
		{"upsert over other's object", cellRow(noToken404, "403 AccessDenied", "403 AccessDenied", "200", "200"),
			func(role string) string { return m.upload(role, "PUT", "/object/priv/"+m.victim("priv", B)) }},
		{"upload into the public bucket's other folder", cellRow(noToken404+" -", "403 AccessDenied -", "403 AccessDenied -", "200 +", "200 +"),
			func(role string) string {
				k := m.fresh(B)
				return m.upload(role, "POST", "/object/pub/"+k) + " " + m.state("pub", k)
			}},
		// As in the reference: a key that exists but may not be deleted is
		// AccessDenied (API.md §1.7).
		{"delete other's object", cellRow(noToken404+" +", "403 AccessDenied +", "403 AccessDenied +", "200 -", "200 -"),
			func(role string) string {
				k := m.victim("priv", B)
				st, _ := m.rest(role, "DELETE", "/object/priv/"+k, "")
				return st + " " + m.state("priv", k)
			}},
		{"delete many, other's object", cellRow(noToken404+" +", "200 [] +", "200 [] +", "200 [B/victim] -", "200 [B/victim] -"),
			func(role string) string {
				k := m.victim("priv", B)
				st, body := m.rest(role, "DELETE", "/object/priv", fmt.Sprintf(`{"prefixes":[%q]}`, k))
				if st == "200" {
					st += " " + strings.NewReplacer(strings.TrimPrefix(k, B+"/"), "victim").Replace(names(body, ""))
				}
				return st + " " + m.state("priv", k)
			}},
		{"move other's object into own folder", cellRow(noToken404+" +-", "404 NoSuchKey +-", "404 NoSuchKey +-", "403 AccessDenied +-", "200 -+"),
			func(role string) string {
				k, dst := m.victim("priv", B), m.fresh(A)
				st, _ := m.rest(role, "POST", "/object/move", fmt.Sprintf(`{"bucketId":"priv","sourceKey":%q,"destinationKey":%q}`, k, dst))
				return st + " " + m.state("priv", k, dst)
			}},
		{"move own object into other's folder", cellRow(noToken404+" +-", "404 NoSuchKey +-", "403 AccessDenied +-", "404 NoSuchKey +-", "200 -+"),
			func(role string) string {
				k, dst := m.victim("priv", A), m.fresh(B)
				st, _ := m.rest(role, "POST", "/object/move", fmt.Sprintf(`{"bucketId":"priv","sourceKey":%q,"destinationKey":%q}`, k, dst))
				return st + " " + m.state("priv", k, dst)
			}},
		{"copy other's object into own folder", cellRow(noToken404+" -", "404 NoSuchKey -", "404 NoSuchKey -", "403 AccessDenied -", "200 +"),
			func(role string) string {
				dst := m.fresh(A)
				st, _ := m.rest(role, "POST", "/object/copy", fmt.Sprintf(`{"bucketId":"priv","sourceKey":%q,"destinationKey":%q}`, B+"/b.txt", dst))
				return st + " " + m.state("priv", dst)
			}},
		{"sign a URL for other's object", cellRow(noToken404, "404 NoSuchKey", "404 NoSuchKey", "200", "200"), func(role string) string {
			st, _ := m.rest(role, "POST", "/object/sign/priv/"+B+"/b.txt", `{"expiresIn":60}`)
			return st
		}},
		{"sign URLs in a batch", cellRow(noToken404, "200 [A/a.txt! B/b.txt!]", "200 [A/a.txt B/b.txt!]", "200 [A/a.txt! B/b.txt]", "200 [A/a.txt B/b.txt]"),
			func(role string) string {
				st, body := m.rest(role, "POST", "/object/sign/priv", fmt.Sprintf(`{"expiresIn":60,"paths":[%q,%q]}`, A+"/a.txt", B+"/b.txt"))
				if st == "200" {
					st += " " + names(body, "")
				}
				return st
			}},
		{"sign an upload URL into other's folder", cellRow(noToken404, "403 AccessDenied", "403 AccessDenied", "200", "200"), func(role string) string {
			st, _ := m.rest(role, "POST", "/object/upload/sign/priv/"+m.fresh(B), "")
			return st
		}},
		{"list the private bucket", cellRow(noToken404, "200 []", "200 [A/]", "200 [B/]", "200 [A/ B/]"), func(role string) string {
			st, body := m.rest(role, "POST", "/object/list-v2/priv", `{"prefix":"","with_delimiter":true}`)
			if st == "200" {
				st += " " + names(body, "folders")
			}
			return st
		}},
		{"list other's folder (v1)", cellRow(noToken404, "200 []", "200 []", "200 [b.txt]", "200 [b.txt]"), func(role string) string {
			st, body := m.rest(role, "POST", "/object/list/priv", fmt.Sprintf(`{"prefix":%q}`, B))
			if st == "200" {
				st += " " + strings.NewReplacer(`victim-`, "").Replace(onlyTxt(names(body, "")))
			}
			return st
		}},
		{"list buckets", cellRow(noToken404, "200 [pub]", "200 [priv pub scratch]", "200 [priv pub scratch]", "200 [priv pub scratch]"), func(role string) string {
			st, body := m.rest(role, "GET", "/bucket", "")
			if st == "200" {
				st += " " + onlySeeded(names(body, ""))
			}
			return st
		}},
		{"info (authenticated route) of other's object", cellRow(noToken404, "404 NoSuchKey", "404 NoSuchKey", "200", "200"),
			get("/object/info/authenticated/priv/" + B + "/b.txt")},
		{"info (public route) of a private object", cellRow("404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket"),
			get("/object/info/public/priv/" + B + "/b.txt")},
		{"HEAD (public route) of a public object", cellRow("200", "200", "200", "200", "200"), func(role string) string {
			st, _ := m.rest(role, "HEAD", "/object/public/pub/"+B+"/b.txt", "")
			return st
		}},
		{"get the private bucket", cellRow(noToken404, "404 NoSuchBucket", "200", "200", "200"), get("/bucket/priv")},
		{"create a bucket", cellRow(noToken404, "403 AccessDenied", "403 AccessDenied", "403 AccessDenied", "200"), func(role string) string {
			st, _ := m.rest(role, "POST", "/bucket", fmt.Sprintf(`{"name":"made-%d"}`, m.n.Add(1)))
			return st
		}},
		{"make the private bucket public", cellRow(noToken404, "404 NoSuchBucket", "404 NoSuchBucket", "404 NoSuchBucket", "200"), func(role string) string {
			st, _ := m.rest(role, "PUT", "/bucket/scratch", `{"public":false}`)
			return st
		}},
		// As in the reference, emptiness is checked (as service role)
		// before the caller's DELETE (API.md §1.2).
		{"delete the private bucket", cellRow(noToken404, "409 ResourceNotEmpty", "409 ResourceNotEmpty", "409 ResourceNotEmpty", "409 ResourceNotEmpty"), func(role string) string {
			st, _ := m.rest(role, "DELETE", "/bucket/priv", "")
			return st
		}},
		{"delete an empty bucket", cellRow(noToken404+" +", "404 NoSuchBucket +", "404 NoSuchBucket +", "404 NoSuchBucket +", "200 -"), func(role string) string {
			b := m.emptyBucket()
			st, _ := m.rest(role, "DELETE", "/bucket/"+b, "")
			return st + " " + m.bucketState(b)
		}},
		{"empty a bucket", cellRow(noToken404, "403 AccessDenied", "403 AccessDenied", "403 AccessDenied", "200"), func(role string) string {
			st, _ := m.rest(role, "POST", "/bucket/scratch/empty", "")
			return st
		}},
	}
}

// onlySeeded keeps the matrix's own buckets of a list.
func onlySeeded(list string) string {
	var keep []string
	for _, n := range strings.Fields(strings.Trim(list, "[]")) {
		if n == "priv" || n == "pub" || n == "scratch" {
			keep = append(keep, n)
		}
	}
	return "[" + strings.Join(keep, " ") + "]"
}

// onlyTxt keeps the seeded .txt names of a list (victims come and go).
func onlyTxt(list string) string {
	var keep []string
	for _, n := range strings.Fields(strings.Trim(list, "[]")) {
		if strings.HasSuffix(n, ".txt") {
			keep = append(keep, n)
		}
	}
	return "[" + strings.Join(keep, " ") + "]"
}

func (m *matrix) s3Cells(A, B string) []cell {
	ctx := context.Background()
	in := func(bucket, key string) (*string, *string) { return aws.String(bucket), aws.String(key) }
	getObj := func(bucket, key string) func(string) string {
		return func(role string) string {
			b, k := in(bucket, key)
			out, err := m.clients[role].GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: k})
			if err == nil {
				out.Body.Close()
			}
			return s3Outcome(err)
		}
	}
	return []cell{
		{"GetObject own private object", cellRow("404 NoSuchKey", "ok", "404 NoSuchKey", "ok", "ok"), getObj("priv", A+"/a.txt")},
		{"GetObject other's private object", cellRow("404 NoSuchKey", "404 NoSuchKey", "ok", "404 NoSuchKey", "ok"), getObj("priv", B+"/b.txt")},
		{"GetObject public object", cellRow("ok", "ok", "ok", "ok", "ok"), getObj("pub", B+"/b.txt")},
		{"HeadObject other's private object", cellRow("404 NotFound", "404 NotFound", "ok", "404 NotFound", "ok"), func(role string) string {
			b, k := in("priv", B+"/b.txt")
			_, err := m.clients[role].HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: k})
			return s3Outcome(err)
		}},
		{"PutObject into own folder", cellRow("403 AccessDenied -", "ok +", "403 AccessDenied -", "ok +", "ok +"), func(role string) string {
			k := m.fresh(A)
			_, err := m.clients[role].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("priv"), Key: aws.String(k), Body: strings.NewReader("x")})
			return s3Outcome(err) + " " + m.state("priv", k)
		}},
		{"PutObject over other's object", cellRow("403 AccessDenied", "403 AccessDenied", "ok", "403 AccessDenied", "ok"), func(role string) string {
			_, err := m.clients[role].PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("priv"), Key: aws.String(m.victim("priv", B)), Body: strings.NewReader("x")})
			return s3Outcome(err)
		}},
		{"DeleteObject other's object", cellRow("403 AccessDenied +", "403 AccessDenied +", "ok -", "403 AccessDenied +", "ok -"), func(role string) string {
			k := m.victim("priv", B)
			_, err := m.clients[role].DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			return s3Outcome(err) + " " + m.state("priv", k)
		}},
		{"DeleteObjects other's object", cellRow("ok AccessDenied +", "ok AccessDenied +", "ok deleted -", "ok AccessDenied +", "ok deleted -"), func(role string) string {
			k := m.victim("priv", B)
			out, err := m.clients[role].DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("priv"),
				Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String(k)}}}})
			res := s3Outcome(err)
			if err == nil {
				if len(out.Errors) > 0 {
					res += " " + aws.ToString(out.Errors[0].Code)
				} else {
					res += " deleted"
				}
			}
			return res + " " + m.state("priv", k)
		}},
		{"CopyObject other's object into own folder", cellRow("404 NoSuchKey -", "404 NoSuchKey -", "403 AccessDenied -", "404 NoSuchKey -", "ok +"), func(role string) string {
			dst := m.fresh(A)
			_, err := m.clients[role].CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("priv"), Key: aws.String(dst),
				CopySource: aws.String("priv/" + B + "/b.txt")})
			return s3Outcome(err) + " " + m.state("priv", dst)
		}},
		{"CreateMultipartUpload in other's folder", cellRow("403 AccessDenied", "403 AccessDenied", "ok", "403 AccessDenied", "ok"), func(role string) string {
			_, err := m.clients[role].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(m.fresh(B))})
			return s3Outcome(err)
		}},
		{"ListObjectsV2 of the private bucket", cellRow("ok []", "ok [A/]", "ok [B/]", "ok [A/]", "ok [A/ B/]"), func(role string) string {
			out, err := m.clients[role].ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("priv"), Delimiter: aws.String("/")})
			res := s3Outcome(err)
			if err == nil {
				var ps []string
				for _, p := range out.CommonPrefixes {
					ps = append(ps, short(aws.ToString(p.Prefix)))
				}
				sort.Strings(ps)
				res += " [" + strings.Join(ps, " ") + "]"
			}
			return res
		}},
		{"ListBuckets", cellRow("ok [pub]", "ok [priv pub scratch]", "ok [priv pub scratch]", "ok [priv pub scratch]", "ok [priv pub scratch]"), func(role string) string {
			out, err := m.clients[role].ListBuckets(ctx, &s3.ListBucketsInput{})
			res := s3Outcome(err)
			if err == nil {
				var bs []string
				for _, b := range out.Buckets {
					if n := aws.ToString(b.Name); n == "priv" || n == "pub" || n == "scratch" {
						bs = append(bs, n)
					}
				}
				sort.Strings(bs)
				res += " [" + strings.Join(bs, " ") + "]"
			}
			return res
		}},
		{"CreateBucket", cellRow("403 AccessDenied", "403 AccessDenied", "403 AccessDenied", "403 AccessDenied", "ok"), func(role string) string {
			_, err := m.clients[role].CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(fmt.Sprintf("s3made-%d", m.n.Add(1)))})
			return s3Outcome(err)
		}},
		{"DeleteBucket of a bucket with objects", cellRow("409 BucketNotEmpty", "409 BucketNotEmpty", "409 BucketNotEmpty", "409 BucketNotEmpty", "409 BucketNotEmpty"), func(role string) string {
			_, err := m.clients[role].DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("priv")})
			return s3Outcome(err)
		}},
		{"DeleteBucket of an empty bucket", cellRow("404 NoSuchBucket +", "404 NoSuchBucket +", "404 NoSuchBucket +", "404 NoSuchBucket +", "ok -"), func(role string) string {
			b := m.emptyBucket()
			_, err := m.clients[role].DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(b)})
			return s3Outcome(err) + " " + m.bucketState(b)
		}},
		{"UploadPart into other's upload", cellRow("404 NoSuchUpload", "404 NoSuchUpload", "ok", "404 NoSuchUpload", "ok"), func(role string) string {
			k := m.fresh(B)
			up, err := m.clients["user B"].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			if err != nil {
				return "setup: " + err.Error()
			}
			_, err = m.clients[role].UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("priv"), Key: aws.String(k), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: strings.NewReader("x"), ContentLength: aws.Int64(1)})
			return s3Outcome(err)
		}},
		{"AbortMultipartUpload of other's upload", cellRow("404 NoSuchUpload", "404 NoSuchUpload", "ok", "404 NoSuchUpload", "ok"), func(role string) string {
			k := m.fresh(B)
			up, err := m.clients["user B"].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			if err != nil {
				return "setup: " + err.Error()
			}
			_, err = m.clients[role].AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k), UploadId: up.UploadId})
			return s3Outcome(err)
		}},
		{"ListMultipartUploads shows only one's own", cellRow("ok 0", "ok 0", "ok 1", "ok 0", "ok 1"), func(role string) string {
			b := m.emptyBucket()
			if _, err := m.svc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(b), Key: aws.String(B + "/up")}); err != nil {
				return "setup: " + err.Error()
			}
			metatest.Exec(m.t, m.s.dsn, fmt.Sprintf("update storage.s3_multipart_uploads set owner_id = '%s' where bucket_id = '%s'", B, b))
			out, err := m.clients[role].ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(b)})
			res := s3Outcome(err)
			if err == nil {
				res += fmt.Sprint(" ", len(out.Uploads))
			}
			return res
		}},
		{"GetObjectAcl of other's object", cellRow("404 NoSuchKey", "404 NoSuchKey", "ok", "404 NoSuchKey", "ok"), func(role string) string {
			_, err := m.clients[role].GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("priv"), Key: aws.String(B + "/b.txt")})
			return s3Outcome(err)
		}},
		{"GetObjectTagging of other's object", cellRow("404 NoSuchKey", "404 NoSuchKey", "ok", "404 NoSuchKey", "ok"), func(role string) string {
			_, err := m.clients[role].GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("priv"), Key: aws.String(B + "/b.txt")})
			return s3Outcome(err)
		}},
		{"ListObjects (v1) of the private bucket", cellRow("ok []", "ok [A/]", "ok [B/]", "ok [A/]", "ok [A/ B/]"), func(role string) string {
			out, err := m.clients[role].ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("priv"), Delimiter: aws.String("/")})
			res := s3Outcome(err)
			if err == nil {
				var ps []string
				for _, p := range out.CommonPrefixes {
					ps = append(ps, short(aws.ToString(p.Prefix)))
				}
				sort.Strings(ps)
				res += " [" + strings.Join(ps, " ") + "]"
			}
			return res
		}},
		{"ListParts of other's upload", cellRow("404 NoSuchUpload", "404 NoSuchUpload", "ok", "404 NoSuchUpload", "ok"), func(role string) string {
			k := m.fresh(B)
			up, err := m.clients["user B"].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			if err != nil {
				return "setup: " + err.Error()
			}
			_, err = m.clients[role].ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("priv"), Key: aws.String(k), UploadId: up.UploadId})
			return s3Outcome(err)
		}},
		{"CompleteMultipartUpload of other's upload", cellRow("404 NoSuchUpload -", "404 NoSuchUpload -", "ok +", "404 NoSuchUpload -", "ok +"), func(role string) string {
			k := m.fresh(B)
			bc := m.clients["user B"]
			up, err := bc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			if err != nil {
				return "setup: " + err.Error()
			}
			p, err := bc.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("priv"), Key: aws.String(k), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), Body: strings.NewReader("part"), ContentLength: aws.Int64(4)})
			if err != nil {
				return "setup: " + err.Error()
			}
			_, err = m.clients[role].CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k),
				UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: p.ETag, PartNumber: aws.Int32(1)}}}})
			return s3Outcome(err) + " " + m.state("priv", k)
		}},
		{"UploadPartCopy of other's object into one's own upload", cellRow("403 AccessDenied", "404 NoSuchKey", "ok", "404 NoSuchKey", "ok"), func(role string) string {
			c := m.clients[role]
			k := m.fresh(A)
			if role == "user B" {
				k = m.fresh(B)
			}
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("priv"), Key: aws.String(k)})
			if err != nil {
				return s3Outcome(err)
			}
			_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("priv"), Key: aws.String(k), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), CopySource: aws.String("priv/" + B + "/b.txt")})
			return s3Outcome(err)
		}},
		{"GetBucketLocation of the private bucket", cellRow("404 NoSuchBucket", "ok", "ok", "ok", "ok"), func(role string) string {
			_, err := m.clients[role].GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("priv")})
			return s3Outcome(err)
		}},
		{"HeadBucket of the private bucket", cellRow("404 NotFound", "ok", "ok", "ok", "ok"), func(role string) string {
			_, err := m.clients[role].HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("priv")})
			return s3Outcome(err)
		}},
	}
}
