package host

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
)

// slogWriter takes hclog's JSON lines and logs each as a slog record.
type slogWriter struct {
	logger *slog.Logger
	rest   []byte // an unfinished line
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.rest = append(w.rest, p...)
	for {
		i := bytes.IndexByte(w.rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.line(w.rest[:i])
		w.rest = w.rest[i+1:]
	}
}

func (w *slogWriter) line(b []byte) {
	var entry map[string]any
	if err := json.Unmarshal(b, &entry); err != nil {
		w.logger.Info(string(b))
		return
	}
	level := slog.LevelInfo
	switch strings.ToLower(str(entry["@level"])) {
	case "trace", "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	module := str(entry["@module"])
	if module == "plugin" && level == slog.LevelInfo {
		level = slog.LevelDebug // go-plugin's own chatter: starts and exits
	}
	msg := str(entry["@message"])
	keys := make([]string, 0, len(entry))
	for k := range entry {
		if !strings.HasPrefix(k, "@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	attrs := make([]slog.Attr, 0, len(keys)+1)
	if module != "" {
		attrs = append(attrs, slog.String("module", module))
	}
	for _, k := range keys {
		name := k
		if k == "plugin" {
			name = "executable" // go-plugin's key; ours names the plugin
		}
		attrs = append(attrs, slog.Any(name, entry[k]))
	}
	w.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
