package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
)

// The seed corpora are in testdata/fuzz/<FuzzName>; go test runs them as
// plain tests. Fuzz with, e.g.,
//
//	go test -run '^$' -fuzz FuzzChunkDecoder -fuzztime 10s ./sigv4/

// checkError fails unless err is nil or an *Error: bad input must never turn
// into an internal error.
func checkError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if err != nil && err != io.EOF && !errors.As(err, &e) {
		t.Fatalf("error %v is not an *Error", err)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	v := New(Options{})
	at := baseFixture().at
	f.Fuzz(func(t *testing.T, header string) {
		a, err := parseAuthorization(header)
		checkError(t, err)
		if err == nil {
			again := Algorithm + " Credential=" + a.scope.accessKey + "/" + a.scope.String() +
				", SignedHeaders=" + a.signedHeaders + ", Signature=" + a.signature
			if b, err := parseAuthorization(again); err != nil || b != a {
				t.Errorf("reassembled %q parses to %+v, %v; want %+v", again, b, err, a)
			}
		}
		r := Request{Method: "GET", RawPath: "/b/k", Host: "h", Header: http.Header{
			"Authorization":        {header},
			"X-Amz-Date":           {at.Format(TimeFormat)},
			"X-Amz-Content-Sha256": {emptySHA256},
		}}
		_, err = v.Verify(r, testSecrets, at)
		checkError(t, err)
	})
}

func FuzzPresignQuery(f *testing.F) {
	v := New(Options{})
	at := baseFixture().at
	f.Fuzz(func(t *testing.T, rawQuery string) {
		once := CanonicalQuery(rawQuery, false)
		if twice := CanonicalQuery(once, false); twice != once {
			t.Errorf("CanonicalQuery is not idempotent: %q -> %q -> %q", rawQuery, once, twice)
		}
		_, err := parsePresign(parseQuery(rawQuery))
		checkError(t, err)
		_, err = v.Verify(Request{Method: "GET", RawPath: "/b/k", RawQuery: rawQuery, Host: "h", Header: http.Header{}}, testSecrets, at)
		checkError(t, err)
	})
}

// FuzzChunkDecoder feeds arbitrary bodies to the aws-chunked decoder of each
// streaming mode, with the credential of a real signed request. A body that
// passes a signed mode must be the body that was signed.
func FuzzChunkDecoder(f *testing.F) {
	modes := []string{streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrail}
	type target struct {
		f fixture
		r Request
		c Credential
	}
	var targets []target
	v := New(Options{})
	for _, m := range modes {
		fx := fuzzChunkFixture(m)
		r, _ := fx.sign(f)
		c, err := v.Verify(r, testSecrets, fx.now())
		if err != nil {
			f.Fatal(err)
		}
		targets = append(targets, target{fx, r, c})
	}
	f.Fuzz(func(t *testing.T, mode uint8, wire []byte) {
		tg := targets[int(mode)%len(targets)]
		b, err := v.Body(tg.c, tg.r, bytes.NewReader(wire))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(b)
		checkError(t, err)
		if err == nil && tg.f.mode != streamingUnsignedPayloadTrail && !bytes.Equal(got, tg.f.body) {
			t.Errorf("forged body %q accepted", got)
		}
	})
}

// fuzzChunkFixture is the signed request behind FuzzChunkDecoder: a small
// body in two chunks, with a CRC32 trailer in the trailer modes.
func fuzzChunkFixture(mode string) fixture {
	f := chunkedPUT(mode)
	f.body = bytes.Repeat([]byte("fuzz"), 2100)
	f.chunk = 8192
	return f
}
