package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/supagate/storage/meta/metatest"
)

// Fuzz with, e.g.,
//
//	go test -run '^$' -fuzz FuzzRESTBodies -fuzztime 10s ./cmd/storage/
//
// The seeds below run as plain tests in go test. Each fuzzing process
// runs one server (with its own throwaway Postgres).

// fuzzTarget is a server with a private and a public bucket, a few
// objects, folder policies, and the tokens of a user and the service role.
type fuzzTarget struct {
	s       *liveServer
	service string
	user    string
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	s := startLive(f, map[string]string{"LOG_LEVEL": "error"})
	svc := s.serviceS3()
	ctx := context.Background()
	for _, b := range []string{"priv", "pub"} {
		in := &s3.CreateBucketInput{Bucket: aws.String(b)}
		if b == "pub" {
			in.ACL = "public-read"
		}
		if _, err := svc.CreateBucket(ctx, in); err != nil {
			f.Fatal(err)
		}
	}
	for _, k := range []string{uidA + "/a.txt", uidA + "/dir/b.txt", uidB + "/c.txt", "top.txt"} {
		for _, b := range []string{"priv", "pub"} {
			if _, err := svc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k),
				Body: strings.NewReader("0123456789" + k)}); err != nil {
				f.Fatal(err)
			}
		}
	}
	metatest.Exec(f, s.dsn, matrixPolicies)
	return &fuzzTarget{s: s, service: jwtFor(f, "service_role", ""), user: jwtFor(f, "authenticated", uidA)}
}

// noServerError fails on a 5xx: on the wire, or in a REST body's
// statusCode (the reference's wire status is 400 for handled errors).
func noServerError(t *testing.T, what string, r restCall, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.status >= 500 || (r.status >= 400 && strings.HasPrefix(r.statusCode(), "5")) {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
}

// restJSONRoutes are the REST routes that take a JSON body.
var restJSONRoutes = []struct{ method, path string }{
	{"POST", "/bucket"},
	{"PUT", "/bucket/priv"},
	{"DELETE", "/bucket/priv"},
	{"POST", "/bucket/pub/empty"},
	{"POST", "/object/list/priv"},
	{"POST", "/object/list-v2/priv"},
	{"POST", "/object/list-v2/pub"},
	{"POST", "/object/move"},
	{"POST", "/object/copy"},
	{"POST", "/object/sign/priv/" + uidA + "/a.txt"},
	{"POST", "/object/sign/priv"},
	{"POST", "/object/upload/sign/priv/" + uidA + "/up.txt"},
	{"DELETE", "/object/priv"},
}

// FuzzRESTBodies sends fuzzed JSON bodies to every REST route that reads
// one, as a user and as the service role: never a 5xx.
func FuzzRESTBodies(f *testing.F) {
	ft := newFuzzTarget(f)
	seeds := []string{
		`{}`, `[]`, `null`, `"x"`, `{"name":"b1"}`, `{"name":"","public":"yes"}`, `{"name":"b2","file_size_limit":"1.5GB","allowed_mime_types":["image/*",""]}`,
		`{"name":"b3","file_size_limit":-1}`, `{"name":"b4","file_size_limit":1e400}`, `{"public":true,"file_size_limit":"99999999999999999999GB"}`,
		`{"prefix":"","limit":-1,"offset":-5,"sortBy":{"column":"name;drop table x","order":"sideways"}}`,
		`{"prefix":"` + uidA + `","search":"%_\\"}`, `{"prefix":"\u0000","limit":1e9}`,
		`{"prefix":"","cursor":"!!!","with_delimiter":true}`, `{"cursor":"bDp6CmM6bmFtZQpvOmFzYw"}`, `{"cursor":"bDp6","sortBy":{"column":"updated_at"}}`,
		`{"bucketId":"priv","sourceKey":"` + uidA + `/a.txt","destinationKey":"../x"}`,
		`{"bucketId":"priv","sourceKey":"` + uidA + `/a.txt","destinationKey":"` + uidA + `/copy","destinationBucket":"nope"}`,
		`{"bucketId":"priv","sourceKey":"x","destinationKey":"y","metadata":{"mimetype":"\u0000"},"copyMetadata":false}`,
		`{"expiresIn":0}`, `{"expiresIn":-1}`, `{"expiresIn":9223372036854775807}`, `{"expiresIn":60,"paths":[]}`,
		`{"expiresIn":60,"paths":["` + uidA + `/a.txt",null,"\u0000"]}`, `{"prefixes":["top.txt",""]}`, `{"prefixes":"top.txt"}`,
		`{"name":` + strings.Repeat("[", 10000) + `}`, `{"a":1,"a":2}`, "\xff\xfe",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s, i%2 == 0)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, route uint8, body string, asService bool) {
		r := restJSONRoutes[int(route)%len(restJSONRoutes)]
		tok := ft.user
		if asService {
			tok = ft.service
		}
		res, err := rest(client, r.method, ft.s.url+r.path, tok, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		noServerError(t, fmt.Sprintf("%s %s %q", r.method, r.path, body), res, err)
	})
}

// FuzzRangesAndCursors sends fuzzed Range headers to downloads on both
// fronts, and fuzzed list cursors and continuation tokens to both fronts'
// listings: never a 5xx, and a 206 always carries a range inside the
// object.
func FuzzRangesAndCursors(f *testing.F) {
	ft := newFuzzTarget(f)
	svc := ft.s.serviceS3()
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=-0", "bytes=9-3", "bytes=0-1,2-3", "bytes=99999999999999999999-",
		"bytes=1000-2000", "items=0-1", "", "bytes=-", "bDp6CmM6bmFtZQpvOmFzYw", "!!!", "AAAA", "bDo=", "bDpcdTAwMDA"} {
		f.Add(s, s)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	f.Fuzz(func(t *testing.T, rng, cursor string) {
		if validHeaderValue(rng) {
			for _, path := range []string{"/object/priv/" + uidA + "/a.txt", "/object/public/pub/top.txt"} {
				res, err := rest(client, "GET", ft.s.url+path, ft.user, nil, map[string]string{"Range": rng})
				noServerError(t, "REST GET Range "+rng, res, err)
				if res.status == 206 && !strings.HasPrefix(res.header.Get("Content-Range"), "bytes ") {
					t.Fatalf("206 with Content-Range %q", res.header.Get("Content-Range"))
				}
			}
			out, err := svc.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("priv"), Key: aws.String("top.txt"), Range: aws.String(rng)})
			if err == nil {
				io.Copy(io.Discard, out.Body) //nolint:errcheck
				out.Body.Close()
			} else if o := s3Outcome(err); strings.HasPrefix(o, "5") {
				t.Fatalf("S3 GET Range %q: %s", rng, o)
			}
		}
		body := fmt.Sprintf(`{"prefix":"","cursor":%q,"with_delimiter":%v,"limit":2}`, cursor, len(cursor)%2 == 0)
		res, err := rest(client, "POST", ft.s.url+"/object/list-v2/priv", ft.user, strings.NewReader(body), map[string]string{"Content-Type": "application/json"})
		noServerError(t, "REST list-v2 cursor "+body, res, err)
		_, err = svc.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("priv"), ContinuationToken: aws.String(cursor),
			MaxKeys: aws.Int32(2)})
		if o := s3Outcome(err); strings.HasPrefix(o, "5") {
			t.Fatalf("S3 continuation token %q: %s", cursor, o)
		}
		_, err = svc.ListObjects(context.Background(), &s3.ListObjectsInput{Bucket: aws.String("priv"), Marker: aws.String(cursor),
			Delimiter: aws.String(url.QueryEscape(cursor))})
		if o := s3Outcome(err); strings.HasPrefix(o, "5") {
			t.Fatalf("S3 marker %q: %s", cursor, o)
		}
	})
}

func validHeaderValue(v string) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
