package sigv4

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestAWSExamples checks the worked examples of the S3 SigV4 documentation,
// from testdata/aws_examples.json: canonical request, string to sign, request
// signature and, for chunked uploads, every chunk and trailer signature.
func TestAWSExamples(t *testing.T) {
	t.Parallel()
	ex := loadExamples(t)
	now := mustTime(t, ex.Time)
	secret := secrets(ex.AccessKey, ex.Secret)
	for _, e := range ex.Examples {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			r := e.request()
			payload := r.Header.Get("X-Amz-Content-Sha256")
			if e.Presigned {
				payload = unsignedPayload
			}
			canonical := CanonicalRequest(r, signedList(r), payload)
			if e.CanonicalRequest != "" && canonical != e.CanonicalRequest {
				t.Errorf("canonical request:\n%s\nwant:\n%s", canonical, e.CanonicalRequest)
			}
			if sts := StringToSign(ex.Time, Scope(ex.Time[:8], "us-east-1", "s3"), canonical); e.StringToSign != "" && sts != e.StringToSign {
				t.Errorf("string to sign:\n%s\nwant:\n%s", sts, e.StringToSign)
			}
			v := New(Options{})
			c, err := v.Verify(r, secret, now)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.AccessKey != ex.AccessKey || c.Region != "us-east-1" || c.Service != "s3" || c.Presigned != e.Presigned {
				t.Errorf("credential = %+v", c)
			}
			wire, want := e.body()
			got, b, err := readBody(v, c, r, wire)
			if err != nil {
				t.Fatalf("Body: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded %d bytes, want %d", len(got), len(want))
			}
			for _, f := range e.Trailer {
				sums := b.Checksums()
				if len(sums) != 1 || sums[0].Algorithm.Header() != f[0] || sums[0].Value != f[1] {
					t.Errorf("checksums = %+v, want %s", sums, f)
				}
			}
		})
	}
}

// TestSigningKey checks the derived key of the documentation's example
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html)
// against an independent derivation with crypto/hmac.
func TestSigningKey(t *testing.T) {
	t.Parallel()
	got := SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	if want := "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"; hex.EncodeToString(got) != want {
		t.Errorf("SigningKey = %x, want %s", got, want)
	}
	long := string(bytes.Repeat([]byte("k"), 200)) // longer than a SHA-256 block
	if got, want := SigningKey(long, "20150830", "r", "s"), refSigningKey(long, "20150830", "r", "s"); !bytes.Equal(got, want) {
		t.Errorf("SigningKey(long) = %x, want %x", got, want)
	}
}
