package sigv4

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
)

func TestCanonicalURI(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, raw, want string }{
		{"empty path is the root", "", "/"},
		{"root", "/", "/"},
		{"plain key", "/bucket/key.txt", "/bucket/key.txt"},
		{"unreserved characters stay", "/bucket/A-z_0.9~", "/bucket/A-z_0.9~"},
		{"encoded space is not encoded again", "/bucket/a%20b", "/bucket/a%20b"},
		{"raw space is encoded", "/bucket/a b", "/bucket/a%20b"},
		{"raw plus is encoded", "/bucket/a+b", "/bucket/a%2Bb"},
		{"lowercase escapes are uppercased", "/bucket/a%2bb%c3%a4", "/bucket/a%2Bb%C3%A4"},
		{"lone percent is encoded", "/bucket/100%", "/bucket/100%25"},
		{"percent without hex is encoded", "/bucket/%zz%4", "/bucket/%25zz%254"},
		{"raw UTF-8 is encoded", "/bucket/ä中", "/bucket/%C3%A4%E4%B8%AD"},
		{"encoded unreserved characters are kept", "/bucket/%7E%41", "/bucket/%7E%41"},
		{"reserved characters are encoded", "/bucket/$&,:;=@!*'()", "/bucket/%24%26%2C%3A%3B%3D%40%21%2A%27%28%29"},
		{"double slashes are kept", "/bucket//a//b", "/bucket//a//b"},
		{"trailing slash is kept", "/bucket/", "/bucket/"},
		{"dot segments are kept", "/bucket/./../a", "/bucket/./../a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalURI(tt.raw); got != tt.want {
				t.Errorf("CanonicalURI(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, raw string
		presigned bool
		want      string
	}{
		{"empty", "", false, ""},
		{"valueless parameter gets an equals sign", "uploads", false, "uploads="},
		{"parameters are sorted by name", "b=2&a=1", false, "a=1&b=2"},
		{"equal names are sorted by value", "a=2&a=1", false, "a=1&a=2"},
		{"sorted after encoding", "k=a-b&k=a%2Fb", false, "k=a%2Fb&k=a-b"},
		{"encoded names sort before letters", "a=1&%C3%A9=2", false, "%C3%A9=2&a=1"},
		{"plus is a space", "prefix=a+b", false, "prefix=a%20b"},
		{"encoded plus stays a plus", "prefix=a%2bb", false, "prefix=a%2Bb"},
		{"encoded unreserved characters are decoded", "x=%7E%41", false, "x=~A"},
		{"bad escapes stand for themselves", "x=%zz%", false, "x=%25zz%25"},
		{"empty values and empty parameters", "a=&&b&", false, "a=&b="},
		{"equals sign inside a value", "a=b=c", false, "a=b%3Dc"},
		{"raw reserved and unicode characters", "q=a/b c;ä", false, "q=a%2Fb%20c%3B%C3%A4"},
		{"presigned drops X-Amz-Signature", "X-Amz-Signature=abc&a=1", true, "a=1"},
		{"header auth keeps X-Amz-Signature", "X-Amz-Signature=abc&a=1", false, "X-Amz-Signature=abc&a=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonicalQuery(tt.raw, tt.presigned); got != tt.want {
				t.Errorf("CanonicalQuery(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestCanonicalHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-Amz-Meta-A":  {"  a   b  c "},
		"X-Amz-Meta-B":  {"one", " two  three"},
		"x-amz-meta-lc": {"lower-keyed"}, // not canonical-keyed
		"X-Amz-Meta-T":  {"\ttabbed\t"},
	}
	r := Request{Method: "PUT", RawPath: "/b/k", Header: h, Host: "h:1"}
	got := CanonicalRequest(r, []string{"expect", "host", "x-amz-meta-a", "x-amz-meta-absent", "x-amz-meta-b", "x-amz-meta-lc", "x-amz-meta-t"}, unsignedPayload)
	want := "PUT\n/b/k\n\n" +
		"expect:100-continue\nhost:h:1\nx-amz-meta-a:a b c\nx-amz-meta-absent:\nx-amz-meta-b:one,two three\nx-amz-meta-lc:lower-keyed\nx-amz-meta-t:tabbed\n\n" +
		"expect;host;x-amz-meta-a;x-amz-meta-absent;x-amz-meta-b;x-amz-meta-lc;x-amz-meta-t\nUNSIGNED-PAYLOAD"
	if got != want {
		t.Errorf("canonical request:\n%q\nwant:\n%q", got, want)
	}
}

func TestParseAuthorization(t *testing.T) {
	t.Parallel()
	const cred = "Credential=AK/20240506/us-east-1/s3/aws4_request"
	const sig = "Signature=" + emptySHA256
	tests := []struct {
		name, header string
		ok           bool
	}{
		{"comma and space", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig, true},
		{"comma only", "AWS4-HMAC-SHA256 " + cred + ",SignedHeaders=host," + sig, true},
		{"any order", "AWS4-HMAC-SHA256 " + sig + ", " + cred + ", SignedHeaders=host", true},
		{"extra spaces", "  AWS4-HMAC-SHA256   " + cred + " ,  SignedHeaders=host ,  " + sig + " ", true},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AK/20240506//s3/aws4_request, SignedHeaders=host, " + sig, true},
		{"no components", "AWS4-HMAC-SHA256", false},
		{"empty access key", "AWS4-HMAC-SHA256 Credential=/20240506/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig, false},
		{"slash in terminator", "AWS4-HMAC-SHA256 Credential=AK/20240506/us-east-1/s3/aws4_request/x, SignedHeaders=host, " + sig, false},
		{"short date", "AWS4-HMAC-SHA256 Credential=AK/2024056/us-east-1/s3/aws4_request, SignedHeaders=host, " + sig, false},
		{"lowercase algorithm", "aws4-hmac-sha256 " + cred + ", SignedHeaders=host, " + sig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := parseAuthorization(tt.header)
			if (err == nil) != tt.ok {
				t.Fatalf("parseAuthorization: %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && (a.scope.accessKey != "AK" || a.scope.service != "s3" || a.signedHeaders != "host" || a.signature != emptySHA256) {
				t.Errorf("parsed %+v", a)
			}
		})
	}
}

func TestPayloadModeString(t *testing.T) {
	t.Parallel()
	for _, m := range []PayloadMode{PayloadUnsigned, PayloadStreamingSigned, PayloadStreamingSignedTrailer, PayloadStreamingUnsignedTrailer} {
		if got, err := parsePayloadMode(m.String()); err != nil || got != m {
			t.Errorf("parsePayloadMode(%s) = %v, %v", m, got, err)
		}
	}
	if PayloadSHA256.String() != "<sha256>" || PayloadSHA256.Streaming() || !PayloadStreamingUnsignedTrailer.Streaming() {
		t.Error("PayloadSHA256 / Streaming")
	}
}

func TestKeyCache(t *testing.T) {
	t.Parallel()
	var c keyCache
	s := scope{"AK", "20240506", "us-east-1", "s3"}
	for _, secret := range []string{"one", "one", "two"} {
		got := c.get(secret, s)
		if want := refSigningKey(secret, s.date, s.region, s.service); !bytes.Equal(got[:], want) {
			t.Errorf("key of %q = %x, want %x", secret, got, want)
		}
	}
	for i := range maxCachedKeys + 1 {
		c.get("x", scope{fmt.Sprint(i), s.date, s.region, s.service})
	}
	if len(c.m) > maxCachedKeys {
		t.Errorf("cache holds %d keys", len(c.m))
	}
}
