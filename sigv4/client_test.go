package sigv4

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// s3Server is an https server that authenticates every request with a
// Verifier and reads its body through Body, as s3api will. It records what
// it saw.
type s3Server struct {
	v *Verifier
	t *testing.T

	mu     sync.Mutex
	modes  []PayloadMode
	bodies [][]byte
	sums   [][]Checksum
}

func (s *s3Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := RequestFromHTTP(hr)
	c, err := s.v.Verify(r, testSecrets, time.Now())
	var body []byte
	var sums []Checksum
	if err == nil {
		var b *BodyReader
		if b, err = s.v.Body(c, r, hr.Body); err == nil {
			body, err = io.ReadAll(b)
			sums = b.Checksums()
		}
	}
	if err != nil {
		s.t.Errorf("%s %s: %v", hr.Method, hr.RequestURI, err)
		var e *Error
		status, code := http.StatusInternalServerError, "InternalError"
		if errors.As(err, &e) {
			status, code = e.HTTPStatus, e.Code
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", code, code)
		return
	}
	s.mu.Lock()
	s.modes, s.bodies, s.sums = append(s.modes, c.PayloadMode), append(s.bodies, body), append(s.sums, sums)
	s.mu.Unlock()
	switch {
	case hr.URL.Query().Has("list-type"):
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>`)
	case hr.Method == http.MethodGet:
		io.WriteString(w, "hello")
	case hr.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("ETag", `"etag"`)
	}
}

func (s *s3Server) last() (PayloadMode, []byte, []Checksum) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.modes) - 1
	return s.modes[n], s.bodies[n], s.sums[n]
}

// TestS3Client drives the real aws-sdk-go-v2 S3 client against a verifying
// https server: over https the SDK sends PutObject bodies aws-chunked with
// STREAMING-UNSIGNED-PAYLOAD-TRAILER and a trailing checksum, in one chunk.
func TestS3Client(t *testing.T) {
	t.Parallel()
	srv := &s3Server{v: New(Options{}), t: t}
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		UsePathStyle: true,
		HTTPClient:   ts.Client(),
		Retryer:      aws.NopRetryer{},
		// What config.LoadDefaultConfig sets: a CRC32 trailer by default.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testAccessKey, SecretAccessKey: testSecret}, nil
		}),
	})
	ctx := context.Background()
	keys := []string{"plain.txt", "dir/sub dir/ä ö ü + 100%.txt", "emoji 😀/中文 (1) [2] {3} ~!@$&'*,;=.bin", "trailing/"}
	algs := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256}
	for i, size := range []int{1, 1000, 70_000, 3 << 20} {
		for j, alg := range algs {
			key := keys[(i+j)%len(keys)]
			t.Run(fmt.Sprintf("PutObject_%d_bytes_%s", size, strings.ToLower(string(alg))), func(t *testing.T) {
				body := bytes.Repeat([]byte{byte(i + j)}, size)
				_, err := client.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String("bucket"), Key: aws.String(key), Body: bytes.NewReader(body),
					ChecksumAlgorithm: alg, Metadata: map[string]string{"mtime": "1700000000.5"},
				})
				if err != nil {
					t.Fatal(err)
				}
				mode, got, sums := srv.last()
				if mode != PayloadStreamingUnsignedTrailer || !bytes.Equal(got, body) || len(sums) != 1 {
					t.Errorf("mode %v, %d bytes, checksums %v", mode, len(got), sums)
				}
			})
		}
	}
	t.Run("other operations", func(t *testing.T) {
		if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(keys[1]), Range: aws.String("bytes=0-4")}); err != nil {
			t.Error(err)
		}
		if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String("a b/ä+"), Delimiter: aws.String("/")}); err != nil {
			t.Error(err)
		}
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bucket"), Key: aws.String(keys[2])}); err != nil {
			t.Error(err)
		}
	})
	t.Run("presigned GET and PUT", func(t *testing.T) {
		pc := s3.NewPresignClient(client)
		get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String(keys[2]), ResponseContentDisposition: aws.String(`attachment; filename="a b.txt"`)})
		if err != nil {
			t.Fatal(err)
		}
		put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String(keys[1]), ContentType: aws.String("text/plain")}, s3.WithPresignExpires(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			method, url string
			header      http.Header
		}{{get.Method, get.URL, get.SignedHeader}, {put.Method, put.URL, put.SignedHeader}} {
			req, _ := http.NewRequest(p.method, p.url, strings.NewReader("presigned body"))
			for k, v := range p.header {
				if !strings.EqualFold(k, "host") {
					req.Header[k] = v
				}
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				t.Errorf("%s presigned: status %d", p.method, resp.StatusCode)
			}
		}
	})
}
