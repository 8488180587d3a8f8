package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/supagate/storage/meta/metatest"
)

// childEnv names the variable that turns the test binary into a server:
// with STORAGE_TEST_CHILD=serve, TestMain runs `storage serve` on the
// environment instead of the tests. The crash test starts such children
// and kills them.
const childEnv = "STORAGE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "serve" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := run(ctx, []string{"serve"}, os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(metatest.Main(m))
}
