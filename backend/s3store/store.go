package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/supagate/storage/backend"
)

// Limits of the S3 API.
const (
	// DefaultPartSize is the part size when Options.PartSize is zero.
	DefaultPartSize = 16 << 20
	// MinPartSize is the smallest part S3 accepts (except the last one).
	MinPartSize = 5 << 20
	// DefaultConcurrency is the number of parts in flight per upload when
	// Options.Concurrency is zero.
	DefaultConcurrency = 4

	maxPartSize   = 5 << 30
	maxParts      = 10000
	maxCopySize   = 5 << 30 // largest single CopyObject
	deleteBatch   = 1000    // keys per DeleteObjects
	abortTimeout  = 30 * time.Second
	copyPartBytes = 512 << 20
)

// Options configures a Store.
type Options struct {
	// Bucket receives every key. It must exist.
	Bucket string
	// Endpoint is the base URL of an S3-compatible service
	// ("http://minio:9000"); empty means AWS.
	Endpoint string
	// Region is the signing region. Empty takes it from the environment
	// (AWS_REGION, shared config), or "us-east-1" with static keys.
	Region string
	// ForcePathStyle addresses the bucket in the path instead of the host
	// name; most S3-compatible services need it.
	ForcePathStyle bool
	// AccessKeyID, SecretAccessKey and SessionToken are static credentials.
	// With AccessKeyID empty, the SDK's default chain is used (environment,
	// shared files, web identity, container and instance roles).
	AccessKeyID, SecretAccessKey, SessionToken string
	// PartSize is the size of multipart parts and the largest body sent in
	// one PutObject; 0 means DefaultPartSize. It must lie between
	// MinPartSize and 5 GiB. A body of known size that would need more than
	// 10000 parts uses parts of size/10000 instead.
	PartSize int64
	// Concurrency is how many parts of one upload are in flight at once; 0
	// means DefaultConcurrency. One Put holds at most PartSize × Concurrency
	// bytes of body in memory.
	Concurrency int
	// HTTPClient, when set, sends every request (timeouts, proxies, TLS);
	// Timeout is then ignored.
	HTTPClient *http.Client
	// Timeout bounds each wait on the service: for the response headers
	// once a request is sent, and for any progress of a connection while a
	// body moves. 0 means DefaultTimeout; a negative value means no bound.
	Timeout time.Duration
}

// Store is a backend.Backend and backend.Lister over one S3 bucket. It is
// safe for concurrent use.
type Store struct {
	client      *s3.Client
	bucket      string
	partSize    int64
	concurrency int
	bufs        sync.Pool // *[]byte of partSize bytes

	// copyLimit is the largest object copied with one CopyObject, and
	// copyPartSize the smallest part of a larger copy; tests lower both.
	copyLimit, copyPartSize int64
}

var (
	_ backend.Backend    = (*Store)(nil)
	_ backend.Lister     = (*Store)(nil)
	_ backend.KeyLimiter = (*Store)(nil)
)

// New returns a Store for o.Bucket. It makes no request; a wrong bucket or
// credential shows on first use.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Bucket == "" {
		return nil, errors.New("s3store: new: bucket is required")
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize || o.PartSize > maxPartSize {
		return nil, fmt.Errorf("s3store: new: part size %d outside %d..%d", o.PartSize, MinPartSize, maxPartSize)
	}
	if o.Concurrency == 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Concurrency < 1 {
		return nil, fmt.Errorf("s3store: new: concurrency %d below 1", o.Concurrency)
	}
	cfg, err := awsConfig(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("s3store: new: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.UsePathStyle = o.ForcePathStyle
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		// Checksums only where S3 requires one: a streamed body can then be
		// sent without being read twice, and S3-compatible services that
		// know no CRC headers keep working.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	s := &Store{
		client:       client,
		bucket:       o.Bucket,
		partSize:     o.PartSize,
		concurrency:  o.Concurrency,
		copyLimit:    maxCopySize,
		copyPartSize: copyPartBytes,
	}
	return s, nil
}

// awsConfig builds the SDK configuration: static keys when given, else the
// SDK's default chain.
func awsConfig(ctx context.Context, o Options) (aws.Config, error) {
	var client aws.HTTPClient
	switch {
	case o.HTTPClient != nil:
		client = o.HTTPClient
	case o.Timeout >= 0:
		if o.Timeout == 0 {
			o.Timeout = DefaultTimeout
		}
		client = timeoutClient(o.Timeout)
	}
	if o.AccessKeyID != "" {
		cfg := aws.Config{
			Region:      o.Region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)),
		}
		if cfg.Region == "" {
			cfg.Region = "us-east-1"
		}
		if client != nil {
			cfg.HTTPClient = client
		}
		return cfg, nil
	}
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if client != nil {
		opts = append(opts, config.WithHTTPClient(client))
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

// mapErr wraps the backend sentinel that err stands for, keeping err as the
// cause. Only codes naming a key or upload become ErrNotExist: a missing
// bucket is a configuration error, not a missing object.
func mapErr(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return fmt.Errorf("%w: %w", backend.ErrNotExist, err)
		case "InvalidRange":
			return fmt.Errorf("%w: %w", backend.ErrInvalidRange, err)
		case "PreconditionFailed", "BadDigest", "InvalidPart", "InvalidPartOrder":
			return fmt.Errorf("%w: %w", backend.ErrPrecondition, err)
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusRequestedRangeNotSatisfiable:
			return fmt.Errorf("%w: %w", backend.ErrInvalidRange, err)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%w: %w", backend.ErrPrecondition, err)
		}
	}
	return err
}

// serverTime is the Date of the response, or the local time when the
// service sent none.
func serverTime(md middleware.Metadata) time.Time {
	if t, ok := awsmiddleware.GetServerTime(md); ok {
		return t
	}
	return time.Now()
}

// Get implements backend.Backend.
func (s *Store) Get(ctx context.Context, key string, rng *backend.Range) (io.ReadCloser, backend.Info, error) {
	r, info, err := s.get(ctx, key, rng)
	if err != nil {
		return nil, backend.Info{}, fmt.Errorf("s3store: get %q: %w", key, err)
	}
	return r, info, nil
}

func (s *Store) get(ctx context.Context, key string, rng *backend.Range) (io.ReadCloser, backend.Info, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if rng != nil {
		h, err := rangeHeader(*rng)
		if err != nil {
			return nil, backend.Info{}, err
		}
		in.Range = &h
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, backend.Info{}, mapErr(err)
	}
	info := backend.Info{
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
	}
	info.End = info.Size - 1
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if info.Start, info.End, info.Size, err = parseContentRange(cr); err != nil {
			out.Body.Close()
			return nil, backend.Info{}, err
		}
		return out.Body, info, nil
	}
	if rng == nil {
		return out.Body, info, nil
	}
	// The service ignored the range and sent the whole object: serve the
	// range from it.
	if info.Start, info.End, err = rng.Resolve(info.Size); err != nil {
		out.Body.Close()
		return nil, backend.Info{}, err
	}
	if _, err := io.CopyN(io.Discard, out.Body, info.Start); err != nil {
		out.Body.Close()
		return nil, backend.Info{}, err
	}
	return readCloser{io.LimitReader(out.Body, info.End-info.Start+1), out.Body}, info, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// rangeHeader renders r as an HTTP Range header, rejecting ranges no object
// could satisfy.
func rangeHeader(r backend.Range) (string, error) {
	switch {
	case r.Suffix && r.Start <= 0, !r.Suffix && r.Start < 0, !r.Suffix && r.End >= 0 && r.End < r.Start:
		return "", backend.ErrInvalidRange
	case r.Suffix:
		return fmt.Sprintf("bytes=-%d", r.Start), nil
	case r.End < 0:
		return fmt.Sprintf("bytes=%d-", r.Start), nil
	}
	return fmt.Sprintf("bytes=%d-%d", r.Start, r.End), nil
}

// parseContentRange parses "bytes <start>-<end>/<size>".
func parseContentRange(s string) (start, end, size int64, err error) {
	bad := fmt.Errorf("malformed Content-Range %q", s)
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	span, total, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	size, err3 := strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start > end || end >= size {
		return 0, 0, 0, bad
	}
	return start, end, size, nil
}

// Head implements backend.Backend.
func (s *Store) Head(ctx context.Context, key string) (backend.Info, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return backend.Info{}, fmt.Errorf("s3store: head %q: %w", key, mapErr(err))
	}
	size := aws.ToInt64(out.ContentLength)
	return backend.Info{
		Size:         size,
		ETag:         aws.ToString(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
		ContentType:  aws.ToString(out.ContentType),
		End:          size - 1,
	}, nil
}

// Delete implements backend.Backend with DeleteObjects, 1000 keys a request.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	for len(keys) > 0 {
		n := min(len(keys), deleteBatch)
		if err := s.deleteBatch(ctx, keys[:n]); err != nil {
			return fmt.Errorf("s3store: delete: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}

func (s *Store) deleteBatch(ctx context.Context, keys []string) error {
	objs := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		objs[i] = types.ObjectIdentifier{Key: &keys[i]}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: &s.bucket,
		Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
	})
	if err != nil {
		return mapErr(err)
	}
	var errs []error
	for _, e := range out.Errors {
		if aws.ToString(e.Code) == "NoSuchKey" {
			continue
		}
		errs = append(errs, fmt.Errorf("%q: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message)))
	}
	return errors.Join(errs...)
}

// List implements backend.Lister with ListObjectsV2.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("s3store: list %q: %w", prefix, mapErr(err))
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxKeyBytes is S3's limit on the length of a key.
const maxKeyBytes = 1024

// MaxKeyBytes implements backend.KeyLimiter.
func (s *Store) MaxKeyBytes() int { return maxKeyBytes }
