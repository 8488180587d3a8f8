package filestore

import (
	"strings"
	"testing"
)

func TestEncodeKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string
	}{
		{name: "plain", key: "a/b.txt", want: "a/b.txt@"},
		{name: "leading dot", key: ".a/..b", want: "%2Ea/%2E.b@"},
		{name: "markers are escaped", key: "x~/@y", want: "x%7E/%40y@"},
		{name: "space plus percent", key: "a b+%", want: "a%20b%2B%25@"},
		{name: "non-ascii", key: "é", want: "%C3%A9@"},
		{name: "long segment is split", key: strings.Repeat("a", 250), want: strings.Repeat("a", 240) + "~/" + strings.Repeat("a", 10) + "@"},
		{name: "split never leaves a leading dot", key: strings.Repeat("a", 240) + ".b", want: strings.Repeat("a", 240) + "~/%2Eb@"},
		{name: "empty segments", key: "/a//b/", want: "=/a/=/b/=@"},
		{name: "an equals sign is escaped", key: "=", want: "%3D@"},
		{name: "split never cuts an escape", key: strings.Repeat("a", 238) + "é", want: strings.Repeat("a", 238) + "~/%C3%A9@"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comps, err := encodeKey(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(comps, "/"); got != tt.want {
				t.Errorf("encodeKey(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

func FuzzEncodeKey(f *testing.F) {
	for _, s := range []string{"a/b", "..", "a//b", "é/~@%", strings.Repeat(".", 500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		comps, err := encodeKey(key)
		if err != nil {
			return
		}
		var b strings.Builder
		for i, c := range comps {
			if c == "" || c[0] == '.' || len(c) > 255 || strings.ContainsAny(c, "/\\\x00") {
				t.Fatalf("unsafe component %q of %q", c, key)
			}
			last := i == len(comps)-1
			switch {
			case last && strings.HasSuffix(c, dataSuffix):
				c = strings.TrimSuffix(c, dataSuffix)
			case strings.HasSuffix(c, contSuffix):
				c = strings.TrimSuffix(c, contSuffix)
			}
			seg, ok := decodeChunk(c)
			if !ok {
				t.Fatalf("component %q of %q does not decode", c, key)
			}
			b.WriteString(seg)
			if !strings.HasSuffix(comps[i], contSuffix) && !last {
				b.WriteByte('/')
			}
		}
		if b.String() != key {
			t.Fatalf("decoded %q, want %q", b.String(), key)
		}
		if !canonical(key, comps) {
			t.Fatalf("encoding of %q is not canonical", key)
		}
	})
}
