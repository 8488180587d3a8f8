package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/supagate/storage/meta/auth"
	"github.com/supagate/storage/meta/metatest"
)

// signWith mints a token with claims under secret (a forger's or ours).
func signWith(t *testing.T, secret string, claims map[string]any) string {
	t.Helper()
	v, err := auth.New(auth.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// tokenOf returns the token= of a signed URL.
func tokenOf(t *testing.T, signed string) string {
	t.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// TestSignedURLsAndUploadTokens tampers with every part of signed URLs and
// upload tokens: only the untouched, unexpired token for its own path and
// scope is honoured.
func TestSignedURLsAndUploadTokens(t *testing.T) {
	m := newMatrix(t)
	A, B := uidA, uidB
	tokA := m.tokens["user A"]
	st, body := m.rest("user A", "POST", "/object/sign/priv/"+A+"/a.txt", `{"expiresIn":600}`)
	if st != "200" {
		t.Fatalf("sign: %s %s", st, body)
	}
	var signed struct{ SignedURL string }
	json.Unmarshal(body, &signed) //nolint:errcheck
	down := tokenOf(t, signed.SignedURL)
	r, err := rest(http.DefaultClient, "POST", m.s.url+"/object/upload/sign/priv/"+A+"/upload.txt", tokA, nil, nil)
	if err != nil || r.status != 200 {
		t.Fatalf("sign upload: %v %s", err, r.body)
	}
	var upl struct{ URL, Token string }
	json.Unmarshal(r.body, &upl) //nolint:errcheck
	up := upl.Token
	now := time.Now()
	tampered := down[:len(down)-3] + map[bool]string{true: "AAA", false: "BBB"}[strings.HasSuffix(down, "BBB")]
	noneAlg := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + strings.Split(down, ".")[1] + "."
	get := func(path, token string) string {
		r, err := rest(http.DefaultClient, "GET", m.s.url+"/object/sign/"+path+"?token="+url.QueryEscape(token), "", nil, nil)
		if err != nil {
			return err.Error()
		}
		if r.status == 200 {
			return "200 " + string(r.body)
		}
		return r.statusCode() + " " + r.code()
	}
	putTo := func(path, token, content string) string {
		r, err := rest(http.DefaultClient, "PUT", m.s.url+"/object/upload/sign/"+path+"?token="+url.QueryEscape(token), "",
			strings.NewReader(content), map[string]string{"Content-Type": "text/plain"})
		if err != nil {
			return err.Error()
		}
		if r.status == 200 {
			return "200"
		}
		return r.statusCode() + " " + r.code()
	}
	tests := []struct {
		name string
		do   func() string
		want string
	}{
		{name: "the signed URL as issued", want: "200 " + A + "/a.txt", do: func() string { return get("priv/"+A+"/a.txt", down) }},
		{name: "the token on another path", want: "400 InvalidSignature", do: func() string { return get("priv/"+B+"/b.txt", down) }},
		{name: "the token on a path differing in encoding only", want: "400 InvalidSignature", do: func() string {
			return get("priv/"+A+"/a%2etxt%2f", down)
		}},
		{name: "a tampered signature", want: "400 InvalidJWT", do: func() string { return get("priv/"+A+"/a.txt", tampered) }},
		{name: "an unsigned (alg none) token", want: "400 InvalidJWT", do: func() string { return get("priv/"+A+"/a.txt", noneAlg) }},
		{name: "a token signed with another key", want: "400 InvalidJWT", do: func() string {
			return get("priv/"+A+"/a.txt", signWith(t, "some-other-secret-0123456789abcdef",
				map[string]any{"url": "priv/" + A + "/a.txt", "scope": "download", "exp": now.Add(time.Hour).Unix()}))
		}},
		{name: "an expired token", want: "400 ExpiredToken", do: func() string {
			return get("priv/"+A+"/a.txt", signWith(t, hJWTSecret,
				map[string]any{"url": "priv/" + A + "/a.txt", "scope": "download", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()}))
		}},
		{name: "a download token used to upload", want: "400 InvalidSignature", do: func() string {
			return putTo("priv/"+A+"/a.txt", down, "overwrite")
		}},
		{name: "an upload token used to download", want: "400 InvalidSignature", do: func() string {
			return get("priv/"+A+"/upload.txt", up)
		}},
		{name: "a user's JWT as a signed URL token", want: "400 InvalidSignature", do: func() string {
			return get("priv/"+A+"/a.txt", tokA)
		}},
		{name: "the upload token on another user's path", want: "400 InvalidSignature", do: func() string {
			return putTo("priv/"+B+"/upload.txt", up, "into b's folder")
		}},
		{name: "the upload token as issued", want: "200", do: func() string { return putTo("priv/"+A+"/upload.txt", up, "first") }},
		{name: "the upload token replayed once the object exists", want: "409 KeyAlreadyExists", do: func() string {
			return putTo("priv/"+A+"/upload.txt", up, "second")
		}},
		{name: "a forged upload token with upsert", want: "400 InvalidJWT", do: func() string {
			forged := strings.Split(up, ".")
			claims := fmt.Sprintf(`{"url":"priv/%s/upload.txt","upsert":true,"scope":"upload","exp":%d}`, A, now.Add(time.Hour).Unix())
			forged[1] = b64url(claims)
			return putTo("priv/"+A+"/upload.txt", strings.Join(forged, "."), "forged")
		}},
		{name: "the download URL after the object changed serves the new bytes (tokens name a path)", want: "200 changed", do: func() string {
			m.seedBody("priv", A+"/a.txt", "changed")
			return get("priv/"+A+"/a.txt", down)
		}},
		{name: "the download URL after the object was deleted", want: "404 NoSuchKey", do: func() string {
			if _, err := m.svc.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("priv"), Key: aws.String(A + "/a.txt")}); err != nil {
				return err.Error()
			}
			return get("priv/"+A+"/a.txt", down)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// The upload stored what the issued token carried, nothing else.
	out, err := m.svc.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("priv"), Key: aws.String(A + "/upload.txt")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "first" {
		t.Errorf("the uploaded object holds %q", b)
	}
	if m.exists("priv", B+"/upload.txt") {
		t.Error("a tampered upload token wrote into another user's folder")
	}
}

func (m *matrix) seedBody(bucket, key, body string) {
	m.t.Helper()
	if _, err := m.svc.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(body)}); err != nil {
		m.t.Fatal(err)
	}
}

// TestSignatureV4Tampering replays signed S3 requests with one part
// changed; each must be refused, and the untouched request accepted.
func TestSignatureV4Tampering(t *testing.T) {
	m := newMatrix(t)
	ctx := context.Background()
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: hS3Key, SecretAccessKey: hS3Secret}
	base := m.s.url + "/s3/priv/" + uidA + "/a.txt"
	// sign builds a PUT of body signed over its SHA-256, at time at.
	sign := func(target, body string, at time.Time, hdr map[string]string) *http.Request {
		req, _ := http.NewRequest(http.MethodPut, target, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		sum := sha256hex(body)
		req.Header.Set("X-Amz-Content-Sha256", sum)
		if err := signer.SignHTTP(ctx, creds, req, sum, "s3", "us-east-1", at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	send := func(req *http.Request, body string) string {
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		return s3Answer(req)
	}
	presign := func(at time.Time, expires time.Duration) string {
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		q := req.URL.Query()
		q.Set("X-Amz-Expires", fmt.Sprint(int(expires.Seconds())))
		req.URL.RawQuery = q.Encode()
		u, _, err := signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	getURL := func(u string) string {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		return s3Answer(req)
	}
	now := time.Now()
	tests := []struct {
		name string
		do   func() string
		want string
	}{
		{name: "the request as signed", want: "200 ", do: func() string {
			return send(sign(base, "body", now, map[string]string{"X-Amz-Meta-Note": "hi"}), "body")
		}},
		{name: "a signed header changed", want: "403 SignatureDoesNotMatch", do: func() string {
			req := sign(base, "body", now, map[string]string{"X-Amz-Meta-Note": "hi"})
			req.Header.Set("X-Amz-Meta-Note", "changed")
			return send(req, "body")
		}},
		{name: "the body changed", want: "400 XAmzContentSHA256Mismatch", do: func() string {
			return send(sign(base, "body", now, nil), "evil")
		}},
		{name: "the path changed", want: "403 SignatureDoesNotMatch", do: func() string {
			req := sign(base, "body", now, nil)
			req.URL.Path = "/s3/priv/" + uidB + "/b.txt"
			return send(req, "body")
		}},
		{name: "a query parameter added", want: "403 SignatureDoesNotMatch", do: func() string {
			req := sign(base, "body", now, nil)
			req.URL.RawQuery = "acl="
			return send(req, "body")
		}},
		{name: "signed 20 minutes ago", want: "403 RequestTimeTooSkewed", do: func() string {
			return send(sign(base, "body", now.Add(-20*time.Minute), nil), "body")
		}},
		{name: "a presigned URL within its lifetime", want: "200 ", do: func() string { return getURL(presign(now, time.Minute)) }},
		{name: "a presigned URL past its expiry", want: "403 AccessDenied", do: func() string {
			return getURL(presign(now.Add(-2*time.Hour), time.Minute))
		}},
		{name: "a presigned URL with its expiry extended", want: "403 SignatureDoesNotMatch", do: func() string {
			return getURL(strings.Replace(presign(now, time.Minute), "X-Amz-Expires=60", "X-Amz-Expires=604800", 1))
		}},
		{name: "a presigned URL on another key", want: "403 SignatureDoesNotMatch", do: func() string {
			return getURL(strings.Replace(presign(now, time.Minute), "/a.txt?", "/b.txt?", 1))
		}},
		{name: "a presigned URL with another method", want: "403 SignatureDoesNotMatch", do: func() string {
			req, _ := http.NewRequest(http.MethodDelete, presign(now, time.Minute), nil)
			return s3Answer(req)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.do(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if got := readS3b(t, m.svc, "priv", uidA+"/a.txt"); got != "body" {
		t.Errorf("the object holds %q after the tampered requests", got)
	}
	if !m.exists("priv", uidB+"/b.txt") {
		t.Error("b.txt is gone")
	}
}

// TestLimitedIdentitiesNeverActAsService: credentials and tokens whose
// claims name a role outside the allow-list, or carry a user's claims, or
// are signed by someone else, never get the service role's power.
func TestLimitedIdentitiesNeverActAsService(t *testing.T) {
	m := newMatrix(t)
	ctx := context.Background()
	anonKey := m.tokens["anon"]
	// The command refuses roles outside the allow-list; rows written
	// around it (by hand, by an older version) must fail just as safely.
	var out, errs bytes.Buffer
	env := baseEnv(m.s.dsn, m.s.dir)
	if code := run(ctx, []string{"s3-credentials", "create", "--claims", `{"role":"postgres"}`},
		func(k string) string { return env[k] }, &out, &errs); code == 0 {
		t.Error("s3-credentials create accepted the postgres role")
	}
	pgKey, pgSecret := m.credential(`{"role":"authenticated","sub":"c0000000-0000-4000-8000-00000000000c"}`)
	adminKey, adminSecret := m.credential(`{"role":"authenticated","sub":"d0000000-0000-4000-8000-00000000000d"}`)
	metatest.Exec(t, m.s.dsn, `update storage.gateway_s3_credentials set claims = '{"role":"postgres"}' where access_key = '`+pgKey+`';
		update storage.gateway_s3_credentials set claims = '{"role":"supabase_admin","sub":"`+uidA+`"}' where access_key = '`+adminKey+`'`)
	forgedService := signWith(t, "forger-secret-0123456789abcdefgh", map[string]any{"role": "service_role"})
	tests := []struct {
		name   string
		client *s3.Client
	}{
		{name: "a stored key claiming the postgres role", client: s3Client(m.s.url+"/s3", pgKey, pgSecret, "")},
		{name: "a stored key claiming supabase_admin", client: s3Client(m.s.url+"/s3", adminKey, adminSecret, "")},
		{name: "a session token claiming the postgres role", client: s3Client(m.s.url+"/s3", "stub", anonKey, jwtFor(t, "postgres", ""))},
		{name: "a session token forged as service role", client: s3Client(m.s.url+"/s3", "stub", anonKey, forgedService)},
		{name: "the static key id with a user's secret", client: s3Client(m.s.url+"/s3", hS3Key, "not-the-secret", "")},
		{name: "the tenant id as a key with the service key as secret", client: s3Client(m.s.url+"/s3", "stub", m.tokens["service"], m.tokens["user A"])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("escalated")}); err == nil {
				t.Error("created a bucket")
			}
			if _, err := tt.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("priv"), Key: aws.String(uidB + "/b.txt")}); err == nil {
				t.Error("read another user's object")
			}
			if _, err := tt.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("priv"), Key: aws.String(uidB + "/escalated"),
				Body: strings.NewReader("x")}); err == nil {
				t.Error("wrote into another user's folder")
			}
			out, err := tt.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("priv")})
			if err == nil && len(out.Contents) > 0 {
				t.Errorf("listed %d objects of the private bucket", len(out.Contents))
			}
		})
	}
	for _, tok := range []struct{ name, token string }{
		{"a JWT claiming the postgres role", jwtFor(t, "postgres", "")},
		{"a JWT claiming supabase_admin", jwtFor(t, "supabase_admin", "")},
		{"a JWT forged as service role", forgedService},
		{"a signed URL token as a bearer token", signWith(t, hJWTSecret, map[string]any{"url": "priv/" + uidB + "/b.txt", "scope": "download"})},
	} {
		t.Run(tok.name+" on REST", func(t *testing.T) {
			for _, c := range []struct{ method, path, body string }{
				{"GET", "/object/priv/" + uidB + "/b.txt", ""},
				{"POST", "/bucket", `{"name":"escalated"}`},
				{"POST", "/bucket/scratch/empty", ""},
				{"POST", "/object/list/priv", `{"prefix":"` + uidB + `"}`},
			} {
				r, err := rest(http.DefaultClient, c.method, m.s.url+c.path, tok.token, bytes.NewReader([]byte(c.body)),
					map[string]string{"Content-Type": "application/json"})
				if err != nil {
					t.Fatal(err)
				}
				if r.status == 200 && !(c.path == "/object/list/priv" && string(bytes.TrimSpace(r.body)) == "[]") {
					t.Errorf("%s %s was allowed: %s", c.method, c.path, r.body)
				}
			}
		})
	}
	if m.bucketState("escalated") == "+" || m.exists("priv", uidB+"/escalated") {
		t.Error("an escalation left something behind")
	}
}

func readS3b(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}
