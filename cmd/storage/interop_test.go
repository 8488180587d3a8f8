package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestRESTAndS3SeeTheSameObjects writes through one front and reads
// through the other: same bytes, content type and metadata.
func TestRESTAndS3SeeTheSameObjects(t *testing.T) {
	s := startServe(t, nil)
	ctx := context.Background()
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.url + "/s3"), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.s3Key, s.s3Secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired})
	restDo := func(method, path string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, body)
		req.Header.Set("Authorization", "Bearer "+s.service)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, b
	}
	if resp, b := restDo("POST", "/bucket", strings.NewReader(`{"name":"both"}`), map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 200 {
		t.Fatalf("create bucket: %d %s", resp.StatusCode, b)
	}

	t.Run("written by REST, read by S3", func(t *testing.T) {
		meta := base64.StdEncoding.EncodeToString([]byte(`{"color":"blue"}`))
		resp, b := restDo("POST", "/object/both/from%20rest/ünï.txt", strings.NewReader("rest bytes"),
			map[string]string{"Content-Type": "text/markdown", "Cache-Control": "max-age=60", "X-Metadata": meta})
		if resp.StatusCode != 200 {
			t.Fatalf("upload: %d %s", resp.StatusCode, b)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("both"), Key: aws.String("from rest/ünï.txt")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(got) != "rest bytes" || *out.ContentType != "text/markdown" || *out.CacheControl != "max-age=60" ||
			out.Metadata["color"] != "blue" {
			t.Errorf("S3 sees %q type=%s cc=%s meta=%v", got, *out.ContentType, *out.CacheControl, out.Metadata)
		}
	})
	t.Run("written by S3, read by REST", func(t *testing.T) {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("both"), Key: aws.String("from s3/a+b.bin"),
			Body: bytes.NewReader([]byte("s3 bytes")), ContentType: aws.String("application/x-s3"),
			Metadata: map[string]string{"Shape": "round"}})
		if err != nil {
			t.Fatal(err)
		}
		resp, b := restDo("GET", "/object/both/from%20s3/a+b.bin", nil, nil)
		if resp.StatusCode != 200 || string(b) != "s3 bytes" || resp.Header.Get("Content-Type") != "application/x-s3" {
			t.Errorf("REST download: %d %q %s", resp.StatusCode, b, resp.Header.Get("Content-Type"))
		}
		resp, b = restDo("GET", "/object/info/both/from%20s3/a+b.bin", nil, nil)
		var info struct {
			ContentType string            `json:"content_type"`
			Size        int64             `json:"size"`
			Metadata    map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(b, &info); err != nil || resp.StatusCode != 200 {
			t.Fatalf("info: %d %s %v", resp.StatusCode, b, err)
		}
		if info.ContentType != "application/x-s3" || info.Size != 8 || info.Metadata["shape"] != "round" {
			t.Errorf("REST info: %+v", info)
		}
	})
	t.Run("listed the same on both fronts", func(t *testing.T) {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("both")})
		if err != nil || len(out.Contents) != 2 {
			t.Fatalf("S3 list: %v %v", out, err)
		}
		resp, b := restDo("POST", "/object/list-v2/both", strings.NewReader(`{"prefix":""}`), map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("from s3/a+b.bin")) || !bytes.Contains(b, []byte("from rest/")) {
			t.Errorf("REST list-v2: %d %s", resp.StatusCode, b)
		}
	})
}
