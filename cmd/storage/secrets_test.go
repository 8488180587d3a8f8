package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestSecretsAreNeverLogged runs a server logging everything (debug, in
// both formats) through requests that carry every kind of secret, good and
// bad, accepted and refused, and then looks for each secret in the log:
// JWTs, signed URL and upload tokens, SigV4 signatures (header and
// presigned), session tokens and S3 secret keys.
func TestSecretsAreNeverLogged(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			anonKey := jwtFor(t, "anon", "")
			s := startLive(t, map[string]string{"ANON_KEY": anonKey, "LOG_LEVEL": "debug", "STORAGE_LOG_FORMAT": format})
			m := &matrix{t: t, s: s, svc: s.serviceS3()}
			ctx := context.Background()
			var secrets []string
			keep := func(what, v string) string {
				if len(v) >= 8 {
					secrets = append(secrets, what+"\x00"+v)
				}
				return v
			}
			keep("the S3 secret key", hS3Secret)
			keep("the JWT secret", hJWTSecret)
			keep("the anon key", anonKey)
			service := keep("the service JWT", jwtFor(t, "service_role", ""))
			user := keep("a user JWT", jwtFor(t, "authenticated", uidA))
			expired := keep("an expired JWT", signWith(t, hJWTSecret, map[string]any{"role": "authenticated", "sub": uidA, "exp": time.Now().Add(-time.Hour).Unix()}))
			forged := keep("a forged JWT", signWith(t, "another-secret-0123456789abcdef!", map[string]any{"role": "service_role"}))
			credKey, credSecret := m.credential(fmt.Sprintf(`{"role":"authenticated","sub":%q}`, uidA))
			keep("a stored key's secret", credSecret)

			if _, err := m.svc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sec")}); err != nil {
				t.Fatal(err)
			}
			m.seedBody("sec", "obj", "secret bytes")
			restAs := func(token, method, path, body string) restCall {
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				r, err := rest(http.DefaultClient, method, s.url+path, token, rd, map[string]string{"Content-Type": "application/json"})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			for _, tok := range []string{service, user, expired, forged, "not.a.jwt"} {
				restAs(tok, "GET", "/object/sec/obj", "")
				restAs(tok, "GET", "/bucket", "")
				restAs(tok, "POST", "/object/list/sec", `{"prefix":""}`)
				restAs(tok, "GET", "/health", "")
			}
			// Signed URLs and upload tokens, used, tampered with and expired.
			r := restAs(service, "POST", "/object/sign/sec/obj", `{"expiresIn":60}`)
			var signed struct{ SignedURL string }
			json.Unmarshal(r.body, &signed) //nolint:errcheck
			down := keep("a signed URL token", tokenOf(t, signed.SignedURL))
			restAs("", "GET", signed.SignedURL, "")
			restAs("", "GET", "/object/sign/sec/other?token="+url.QueryEscape(down), "")
			restAs("", "GET", "/object/sign/sec/obj?token="+url.QueryEscape(down[:len(down)-4]+"AAAA"), "")
			r = restAs(service, "POST", "/object/upload/sign/sec/up", "")
			var upl struct{ Token string }
			json.Unmarshal(r.body, &upl) //nolint:errcheck
			keep("an upload token", upl.Token)
			restAs("", "PUT", "/object/upload/sign/sec/up?token="+url.QueryEscape(upl.Token), "uploaded")
			restAs("", "PUT", "/object/upload/sign/sec/up?token="+url.QueryEscape(upl.Token), "replayed")

			// S3: header signatures, good and bad; session tokens; presigned URLs.
			capture := &sigCapture{}
			clients := []*s3.Client{
				s3Client(s.url+"/s3", hS3Key, hS3Secret, ""),
				s3Client(s.url+"/s3", hS3Key, "the-wrong-secret-for-this-key!!", ""),
				s3Client(s.url+"/s3", "stub", anonKey, user),
				s3Client(s.url+"/s3", "stub", anonKey, expired),
				s3Client(s.url+"/s3", credKey, credSecret, ""),
			}
			for _, c := range clients {
				c = s3.New(c.Options(), func(o *s3.Options) { o.HTTPClient = capture })
				c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sec"), Key: aws.String("obj")})                               //nolint:errcheck
				c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sec"), Key: aws.String("put"), Body: strings.NewReader("x")}) //nolint:errcheck
				c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sec")})                                               //nolint:errcheck
			}
			for _, sig := range capture.signatures {
				keep("a SigV4 signature", sig)
			}
			signer := v4.NewSigner()
			for _, at := range []time.Time{time.Now(), time.Now().Add(-2 * time.Hour)} {
				req, _ := http.NewRequest("GET", s.url+"/s3/sec/obj?X-Amz-Expires=60", nil)
				u, _, err := signer.PresignHTTP(ctx, aws.Credentials{AccessKeyID: hS3Key, SecretAccessKey: hS3Secret}, req,
					"UNSIGNED-PAYLOAD", "s3", "us-east-1", at)
				if err != nil {
					t.Fatal(err)
				}
				pu, _ := url.Parse(u)
				keep("a presigned signature", pu.Query().Get("X-Amz-Signature"))
				resp, err := http.Get(u)
				if err == nil {
					resp.Body.Close()
				}
			}
			// A request too large to read: fasthttp's error quotes the
			// buffer unless told not to.
			for _, raw := range []string{
				fmt.Sprintf("GET /bucket HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nX-Pad: %s\r\n\r\n", service, strings.Repeat("p", 40<<10)),
				fmt.Sprintf("GET /bucket HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nA header line without a colon\r\n\r\n", service),
				fmt.Sprintf("GET /bucket HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: nope\r\n\r\n", service),
			} {
				conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(conn, raw)                         //nolint:errcheck
				conn.SetReadDeadline(time.Now().Add(time.Second)) //nolint:errcheck // some get no answer
				if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
					resp.Body.Close()
				}
				conn.Close()
			}

			logs := s.logs.String()
			if len(logs) < 1000 {
				t.Fatalf("the server logged almost nothing (%d bytes): is debug logging on?", len(logs))
			}
			for _, sec := range secrets {
				what, v, _ := strings.Cut(sec, "\x00")
				for _, part := range secretParts(v) {
					if strings.Contains(logs, part) {
						t.Errorf("%s appears in the log", what)
						break
					}
				}
			}
		})
	}
}

// secretParts returns what must not appear of a secret: the whole value
// and, for a JWT, its signature (the header and claims are not secret
// alone, but the signature makes the token).
func secretParts(v string) []string {
	parts := []string{v}
	if f := strings.Split(v, "."); len(f) == 3 && len(f[2]) >= 16 {
		parts = append(parts, f[2])
	}
	return parts
}

// sigCapture is an HTTP client that records the SigV4 signatures it sends.
type sigCapture struct {
	signatures []string
}

func (c *sigCapture) Do(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Authorization"); a != "" {
		if _, sig, ok := strings.Cut(a, "Signature="); ok {
			c.signatures = append(c.signatures, sig)
		}
	}
	if tok := req.Header.Get("X-Amz-Security-Token"); tok != "" {
		c.signatures = append(c.signatures, tok)
	}
	return http.DefaultClient.Do(req)
}
