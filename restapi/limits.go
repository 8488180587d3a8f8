package restapi

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/supagate/storage/meta/apierr"
)

var sizeRe = regexp.MustCompile(`(?i)^(\d+(?:\.\d+)?)(GB|MB|KB|B)$`)

// decimal units, as the reference parses file_size_limit strings.
var sizeUnits = map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9}

// parseSize parses a bucket's file_size_limit given as a string like
// "20mb" or "1.5GB": decimal units, the value rounded to three significant
// digits (API.md §1.2).
func parseSize(s string) (int64, error) {
	m := sizeRe.FindStringSubmatch(s)
	if m == nil {
		return 0, apierr.New(apierr.InvalidRequest, "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, apierr.New(apierr.InvalidRequest, "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B")
	}
	if v != 0 {
		mag := math.Pow(10, 2-math.Floor(math.Log10(v)))
		v = math.Round(v*mag) / mag
	}
	return int64(math.Round(v * sizeUnits[strings.ToUpper(m[2])])), nil
}

// sizeLimit is a file_size_limit field: absent, null, an integer or a size
// string.
type sizeLimit struct {
	set   bool   // present in the body
	value *int64 // nil for null
	err   error  // a malformed value, reported when the field is used
}

// UnmarshalJSON implements json.Unmarshaler.
func (s *sizeLimit) UnmarshalJSON(b []byte) error {
	s.set = true
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		n, err := parseSize(str)
		s.value, s.err = &n, err
	default:
		var n int64
		if err := json.Unmarshal(b, &n); err != nil || n < 0 {
			s.err = schemaError("body/file_size_limit must be integer >= 0 or a size string")
			return nil
		}
		s.value = &n
	}
	return nil
}

// resolve checks the limit against the global one and returns it.
func (s sizeLimit) resolve(global int64) (*int64, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.value != nil && global > 0 && *s.value > global {
		return nil, apierr.New(apierr.EntityTooLarge, "")
	}
	return s.value, nil
}

// mimeList is an allowed_mime_types field: absent, null or a list whose
// empty entries are dropped.
type mimeList struct {
	set  bool
	list []string // nil for null
}

// UnmarshalJSON implements json.Unmarshaler.
func (m *mimeList) UnmarshalJSON(b []byte) error {
	m.set = true
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	m.list = []string{}
	for _, s := range l {
		if s != "" {
			m.list = append(m.list, s)
		}
	}
	return nil
}
