package filestore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/supagate/storage/backend"
)

// The last footerLen bytes of every data file: the big-endian length of the
// JSON record before them, then trailerMagic.
const (
	trailerMagic = "sgobj001"
	footerLen    = 4 + len(trailerMagic)
	maxRecordLen = 64 << 10
)

var errCorrupt = errors.New("corrupt data file")

// record is the metadata stored after an object's bytes.
type record struct {
	ETag         string `json:"etag"`
	Size         int64  `json:"size"`
	ContentType  string `json:"content_type,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
}

// writeTrailer appends r and the footer to w.
func writeTrailer(w io.Writer, r record) error {
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if len(js) > maxRecordLen {
		return fmt.Errorf("metadata is %d bytes, over %d", len(js), maxRecordLen)
	}
	buf := make([]byte, 0, len(js)+footerLen)
	buf = append(buf, js...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(js)))
	buf = append(buf, trailerMagic...)
	_, err = w.Write(buf)
	return err
}

// readTrailer reads the record at the end of f and returns it with the
// file's modification time. It reads nothing of the object's bytes.
func readTrailer(f *os.File) (record, time.Time, error) {
	var r record
	fi, err := f.Stat()
	if err != nil {
		return r, time.Time{}, err
	}
	total := fi.Size()
	if total < int64(footerLen) {
		return r, time.Time{}, errCorrupt
	}
	var foot [footerLen]byte
	if _, err := f.ReadAt(foot[:], total-int64(footerLen)); err != nil {
		return r, time.Time{}, err
	}
	if string(foot[4:]) != trailerMagic {
		return r, time.Time{}, errCorrupt
	}
	n := int64(binary.BigEndian.Uint32(foot[:4]))
	if n > maxRecordLen || n > total-int64(footerLen) {
		return r, time.Time{}, errCorrupt
	}
	js := make([]byte, n)
	if _, err := f.ReadAt(js, total-int64(footerLen)-n); err != nil {
		return r, time.Time{}, err
	}
	if err := json.Unmarshal(js, &r); err != nil {
		return r, time.Time{}, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	if r.Size != total-int64(footerLen)-n {
		return r, time.Time{}, errCorrupt
	}
	return r, fi.ModTime(), nil
}

// info turns a record into the backend's value type for a whole object.
func (r record) info(modified time.Time) backend.Info {
	return backend.Info{
		Size:         r.Size,
		ETag:         r.ETag,
		LastModified: modified,
		ContentType:  r.ContentType,
		Start:        0,
		End:          r.Size - 1,
	}
}
