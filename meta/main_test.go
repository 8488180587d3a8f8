package meta

import (
	"os"
	"testing"

	"github.com/supagate/storage/meta/metatest"
)

func TestMain(m *testing.M) { os.Exit(metatest.Main(m)) }
