package meta

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/supagate/storage/backend"
	"github.com/supagate/storage/meta/apierr"
)

// MaxKeyBytes is the longest object key accepted, as on S3.
const MaxKeyBytes = 1024

var bucketNameRe = regexp.MustCompile(`^[A-Za-z0-9_!.*'() &$=@;:+,?-]{1,100}$`)

// ValidBucketName reports whether name follows Supabase's bucket name rules:
// 1–100 characters from a fixed set, no surrounding whitespace, and not the
// reserved analytics suffix.
func ValidBucketName(name string) error {
	if strings.TrimSpace(name) != name || !bucketNameRe.MatchString(name) || strings.HasSuffix(name, "--table-s3") {
		return apierr.New(apierr.InvalidBucketName, "Bucket name invalid")
	}
	return nil
}

// ValidKey reports whether name may be an object key: valid UTF-8 with no
// control characters, 1 to MaxKeyBytes bytes, and no "." or ".." path
// segment (where they would mean traversal). This is wider than the
// reference's ASCII whitelist on purpose (API.md §11).
func ValidKey(name string) error {
	switch {
	case name == "":
		return apierr.New(apierr.InvalidKey, "Invalid key: key must not be empty")
	case len(name) > MaxKeyBytes:
		return apierr.New(apierr.KeyTooLong, "Invalid key: longer than 1024 bytes")
	case !utf8.ValidString(name):
		return apierr.New(apierr.InvalidKey, "Invalid key: not valid UTF-8")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return apierr.Newf(apierr.InvalidKey, "Invalid key: %s", strings.ToValidUTF8(strings.Map(printable, name), "?"))
		}
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return apierr.Newf(apierr.InvalidKey, "Invalid key: %s", name)
		}
	}
	return nil
}

// validName checks name as ValidKey does and, when the backend limits the
// length of its keys, that the key the bytes would get fits.
func (s *Store) validName(bucket, name string) error {
	if err := ValidKey(name); err != nil {
		return err
	}
	if l, ok := s.be.(backend.KeyLimiter); ok {
		// A version is a UUID: 36 bytes.
		if n := len(s.BackendKey(bucket, name, "00000000-0000-0000-0000-000000000000")); n > l.MaxKeyBytes() {
			return apierr.Newf(apierr.KeyTooLong, "Invalid key: at most %d bytes in this bucket with this backend", len(name)-(n-l.MaxKeyBytes()))
		}
	}
	return nil
}

func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return '?'
	}
	return r
}

// placeholderSuffix marks the zero-byte objects clients create to show an
// empty folder; they skip mime checks and may hold no bytes.
const placeholderSuffix = ".emptyFolderPlaceholder"

// CheckMime reports whether contentType is allowed by the bucket's list:
// an entry matches when its type is equal and its subtype is equal or "*";
// parameters (";charset=…") are part of the subtype, as in the reference.
func CheckMime(allowed []string, contentType string) error {
	if len(allowed) == 0 {
		return nil
	}
	typ, sub, _ := strings.Cut(contentType, "/")
	for _, a := range allowed {
		at, as, _ := strings.Cut(a, "/")
		if at == "*" || (strings.EqualFold(at, typ) && (as == "*" || strings.EqualFold(as, sub))) {
			return nil
		}
	}
	return apierr.Newf(apierr.InvalidMimeType, "mime type %s is not supported", contentType)
}

var mimeEntryRe = regexp.MustCompile(`^([a-zA-Z0-9\-+.]+/[a-zA-Z0-9\-+.]+(;\s*charset=[a-zA-Z0-9\-]+)?|[a-zA-Z0-9\-+.]+/\*|\*/\*)$`)

// ValidMimeList checks a bucket's allowed_mime_types entries.
func ValidMimeList(list []string) error {
	for _, m := range list {
		if len(m) > 1000 || !mimeEntryRe.MatchString(m) {
			return apierr.Newf(apierr.InvalidMimeType, "Invalid mime type format: %s", m)
		}
	}
	return nil
}
