package apierr

import (
	"errors"
	"fmt"
	"testing"
)

func TestEveryCodeHasAnEntry(t *testing.T) {
	for c := Code(0); c < codeCount; c++ {
		e := entries[c]
		if e.S3Code == "" || e.S3Status == 0 || e.RESTCode == "" || e.RESTStatus == 0 || e.Message == "" {
			t.Errorf("code %d has an incomplete entry: %+v", c, e)
		}
	}
}

func TestFrom(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Code
		nil_ bool
	}{
		{name: "nil stays nil", err: nil, nil_: true},
		{name: "a catalogue error is kept", err: New(NoSuchKey, ""), want: NoSuchKey},
		{name: "a wrapped catalogue error is found", err: fmt.Errorf("ctx: %w", New(AccessDenied, "x")), want: AccessDenied},
		{name: "any other error is internal", err: errors.New("boom"), want: Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := From(tt.err)
			if tt.nil_ {
				if got != nil {
					t.Fatalf("From(nil) = %v", got)
				}
				return
			}
			if got.Code != tt.want {
				t.Fatalf("code = %d, want %d", got.Code, tt.want)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	if got := New(NoSuchBucket, "").Msg(); got != "Bucket not found" {
		t.Errorf("default message = %q", got)
	}
	e := Wrap(Internal, errors.New("secret cause"), "")
	if e.Msg() == "" || !errors.Is(e, e.Err) {
		t.Errorf("wrap lost its cause or message")
	}
	if Lookup(Code(-1)).S3Code != "InternalError" || Lookup(codeCount).S3Code != "InternalError" {
		t.Errorf("unknown codes must read as internal")
	}
	if !Is(New(NoSuchKey, "").WithResource("b/k"), NoSuchKey) {
		t.Errorf("Is must see the code")
	}
}
