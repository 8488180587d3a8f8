package s3api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/supagate/storage/meta/apierr"
)

// Kind names an S3 operation.
type Kind int

// The operations served. Everything else that names a subresource is
// answered NotImplemented.
const (
	OpListBuckets Kind = iota + 1
	OpCreateBucket
	OpDeleteBucket
	OpHeadBucket
	OpGetBucketLocation
	OpGetBucketVersioning
	OpGetBucketACL
	OpPutBucketACL
	OpListObjects
	OpListObjectsV2
	OpListObjectVersions
	OpListMultipartUploads
	OpDeleteObjects
	OpPostObject
	OpGetObject
	OpHeadObject
	OpPutObject
	OpCopyObject
	OpDeleteObject
	OpGetObjectACL
	OpPutObjectACL
	OpGetObjectTagging
	OpCreateMultipartUpload
	OpUploadPart
	OpUploadPartCopy
	OpCompleteMultipartUpload
	OpAbortMultipartUpload
	OpListParts
	OpNotImplemented
)

var opNames = map[Kind]string{
	OpListBuckets: "ListBuckets", OpCreateBucket: "CreateBucket", OpDeleteBucket: "DeleteBucket",
	OpHeadBucket: "HeadBucket", OpGetBucketLocation: "GetBucketLocation", OpGetBucketVersioning: "GetBucketVersioning",
	OpGetBucketACL: "GetBucketAcl", OpPutBucketACL: "PutBucketAcl", OpListObjects: "ListObjects",
	OpListObjectsV2: "ListObjectsV2", OpListObjectVersions: "ListObjectVersions",
	OpListMultipartUploads: "ListMultipartUploads", OpDeleteObjects: "DeleteObjects", OpPostObject: "PostObject",
	OpGetObject: "GetObject", OpHeadObject: "HeadObject", OpPutObject: "PutObject", OpCopyObject: "CopyObject",
	OpDeleteObject: "DeleteObject", OpGetObjectACL: "GetObjectAcl", OpPutObjectACL: "PutObjectAcl",
	OpGetObjectTagging: "GetObjectTagging", OpCreateMultipartUpload: "CreateMultipartUpload",
	OpUploadPart: "UploadPart", OpUploadPartCopy: "UploadPartCopy", OpCompleteMultipartUpload: "CompleteMultipartUpload",
	OpAbortMultipartUpload: "AbortMultipartUpload", OpListParts: "ListParts", OpNotImplemented: "NotImplemented",
}

// String returns the operation's AWS name.
func (k Kind) String() string { return opNames[k] }

// Op is a parsed S3 request.
type Op struct {
	Kind   Kind
	Bucket string
	Key    string
	Query  url.Values
}

// Resource names the op's bucket/key for error documents.
func (o Op) Resource() string {
	if o.Key != "" {
		return o.Bucket + "/" + o.Key
	}
	return o.Bucket
}

// subresources that we do not serve: asking for them must never fall
// through to the object or the listing (S3-CLIENTS.md).
var unimplemented = []string{"accelerate", "analytics", "cors", "encryption", "intelligent-tiering",
	"inventory", "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls",
	"policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore", "retention",
	"legal-hold", "select", "torrent", "website", "attributes", "session"}

// parseOp chooses the operation from method, path (below the mount, already
// percent-decoded once, starting with "/"), query and headers. vhostBucket
// is the bucket named by a virtual-hosted Host, or "".
func parseOp(method, path string, q url.Values, h http.Header, vhostBucket string) (Op, error) {
	op := Op{Query: q}
	p := strings.TrimPrefix(path, "/")
	if vhostBucket != "" {
		op.Bucket, op.Key = vhostBucket, p
	} else {
		op.Bucket, op.Key, _ = strings.Cut(p, "/")
	}
	has := func(k string) bool { _, ok := q[k]; return ok }
	for _, s := range unimplemented {
		if has(s) {
			op.Kind = OpNotImplemented
			return op, nil
		}
	}
	if op.Bucket == "" {
		if method == http.MethodGet {
			op.Kind = OpListBuckets
			return op, nil
		}
		return op, apierr.New(apierr.MethodNotAllowed, "")
	}
	if op.Key == "" {
		return parseBucketOp(method, op, has)
	}
	return parseObjectOp(method, op, has, h)
}

func parseBucketOp(method string, op Op, has func(string) bool) (Op, error) {
	switch method {
	case http.MethodGet:
		switch {
		case has("location"):
			op.Kind = OpGetBucketLocation
		case has("versioning"):
			op.Kind = OpGetBucketVersioning
		case has("acl"):
			op.Kind = OpGetBucketACL
		case has("uploads"):
			op.Kind = OpListMultipartUploads
		case has("versions"):
			op.Kind = OpListObjectVersions
		case has("tagging"), has("ownershipControls"):
			op.Kind = OpNotImplemented
		case op.Query.Get("list-type") == "2":
			op.Kind = OpListObjectsV2
		default:
			op.Kind = OpListObjects
		}
	case http.MethodPut:
		switch {
		case has("acl"):
			op.Kind = OpPutBucketACL
		case has("versioning"), has("tagging"):
			op.Kind = OpNotImplemented
		default:
			op.Kind = OpCreateBucket
		}
	case http.MethodDelete:
		if has("tagging") {
			op.Kind = OpNotImplemented
		} else {
			op.Kind = OpDeleteBucket
		}
	case http.MethodHead:
		op.Kind = OpHeadBucket
	case http.MethodPost:
		switch {
		case has("delete"):
			op.Kind = OpDeleteObjects
		default:
			op.Kind = OpPostObject
		}
	default:
		return op, apierr.New(apierr.MethodNotAllowed, "")
	}
	return op, nil
}

func parseObjectOp(method string, op Op, has func(string) bool, h http.Header) (Op, error) {
	switch method {
	case http.MethodGet:
		switch {
		case has("uploadId"):
			op.Kind = OpListParts
		case has("acl"):
			op.Kind = OpGetObjectACL
		case has("tagging"):
			op.Kind = OpGetObjectTagging
		default:
			op.Kind = OpGetObject
		}
	case http.MethodHead:
		op.Kind = OpHeadObject
	case http.MethodPut:
		switch {
		case has("partNumber") && has("uploadId"):
			op.Kind = OpUploadPart
			if h.Get("X-Amz-Copy-Source") != "" {
				op.Kind = OpUploadPartCopy
			}
		case has("acl"):
			op.Kind = OpPutObjectACL
		case has("tagging"):
			op.Kind = OpNotImplemented
		case h.Get("X-Amz-Copy-Source") != "":
			op.Kind = OpCopyObject
		default:
			op.Kind = OpPutObject
		}
	case http.MethodPost:
		switch {
		case has("uploads"):
			op.Kind = OpCreateMultipartUpload
		case has("uploadId"):
			op.Kind = OpCompleteMultipartUpload
		default:
			return op, apierr.New(apierr.MethodNotAllowed, "")
		}
	case http.MethodDelete:
		switch {
		case has("uploadId"):
			op.Kind = OpAbortMultipartUpload
		case has("tagging"):
			op.Kind = OpNotImplemented
		default:
			op.Kind = OpDeleteObject
		}
	default:
		return op, apierr.New(apierr.MethodNotAllowed, "")
	}
	return op, nil
}
