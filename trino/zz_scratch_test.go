package trino

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

func TestScratchLog(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Config{DataDir: dir, HTTPPort: freePort(t), Catalog: CatalogConfig{URI: "http://127.0.0.1:1"}}
	t0 := time.Now()
	srv, err := Start(context.Background(), logger, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ready %s", time.Since(t0))
	_ = srv.Stop(context.Background())
	b, _ := os.ReadFile(srv.LogPath())
	t.Logf("log:\n%s", b)
	e, _ := os.ReadDir(dir)
	for _, x := range e { t.Log(x.Name()) }
	e, _ = os.ReadDir(dir + "/var")
	for _, x := range e { t.Log("var/", x.Name()) }
}
