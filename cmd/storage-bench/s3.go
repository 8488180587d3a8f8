package main

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// s3Client is an aws-sdk-go-v2 client: path style, no retries (a failure
// is counted, not hidden), checksums only where the API requires them.
type s3Client struct {
	c *s3.Client
}

// newS3Client points the SDK at endpoint. unsigned sends UNSIGNED-PAYLOAD
// instead of the body's SHA-256 (which the SDK computes over plain HTTP).
func newS3Client(endpoint, region, key, secret, token string, hc *http.Client, unsigned bool) *s3Client {
	o := s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(key, secret, token),
		HTTPClient:                 hc,
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if unsigned {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	return &s3Client{c: s3.New(o)}
}

func (s *s3Client) put(ctx context.Context, bucket, key string, body io.ReadSeeker, size int64) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body,
		ContentLength: aws.Int64(size), ContentType: aws.String("application/octet-stream")})
	return err
}

func (s *s3Client) get(ctx context.Context, bucket, key string) (int64, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return io.Copy(io.Discard, out.Body)
}

func (s *s3Client) head(ctx context.Context, bucket, key string) error {
	_, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	return err
}

func (s *s3Client) del(ctx context.Context, bucket, key string) error {
	_, err := s.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	return err
}

// createBucket creates bucket; one that exists already and is ours is fine.
func (s *s3Client) createBucket(ctx context.Context, bucket string) error {
	_, err := s.c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *s3types.BucketAlreadyOwnedByYou
	var exists *s3types.BucketAlreadyExists
	if errors.As(err, &owned) || errors.As(err, &exists) {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists") {
		return nil
	}
	return err
}

// listPage is one ListObjectsV2 page; it returns the entry count (keys and
// common prefixes) and the continuation token ("" at the end).
func (s *s3Client) listPage(ctx context.Context, bucket, prefix, delim string, max int32, token string) (int, string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: &max}
	if delim != "" {
		in.Delimiter = &delim
	}
	if token != "" {
		in.ContinuationToken = &token
	}
	out, err := s.c.ListObjectsV2(ctx, in)
	if err != nil {
		return 0, "", err
	}
	next := ""
	if aws.ToBool(out.IsTruncated) {
		next = aws.ToString(out.NextContinuationToken)
	}
	return len(out.Contents) + len(out.CommonPrefixes), next, nil
}

// listBuckets is the first authenticated answer the startup probe waits for.
func (s *s3Client) listBuckets(ctx context.Context) error {
	_, err := s.c.ListBuckets(ctx, &s3.ListBucketsInput{})
	return err
}
