package app

import (
	"flag"
	"io"
	"log/slog"

	"k8s.io/klog/v2"
)

// LogConfig is how a role logs.
type LogConfig struct {
	Level  string
	Format string
}

// Bind registers --log-level and --log-format.
func (c *LogConfig) Bind(fs *flag.FlagSet) {
	fs.StringVar(&c.Level, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.Format, "log-format", "json", "json or text")
}

func (c LogConfig) validate(add func(bool, string, ...any)) {
	_, err := c.level()
	add(err == nil, "--log-level %q: want debug, info, warn or error", c.Level)
	add(c.Format == "json" || c.Format == "text", "--log-format %q: want json or text", c.Format)
}

func (c LogConfig) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.Level))
	return l, err
}

// Setup returns the configured logger writing to w and routes klog (client-go's reflectors,
// leader election, event broadcaster) into the same handler, so JSON logs stay JSON.
func (c LogConfig) Setup(w io.Writer) *slog.Logger {
	lvl, _ := c.level()
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	log := slog.New(h)
	klog.SetSlogLogger(log.With("logger", "klog"))
	return log
}
