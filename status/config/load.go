package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/outpost-status/outpost/probes"
)

// LoadOptions are the inputs Load needs besides the file.
type LoadOptions struct {
	// Lookup reads environment variables; nil means the process environment.
	Lookup func(string) (string, bool)
	// Probe options (version for User-Agent, resolver).
	Probe probes.Options
}

// Load reads, expands, decodes and validates the config file at path. On
// failure the error is Errors (every problem found) or a read error.
func Load(path string, opts LoadOptions) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse is Load on bytes already read; name is used in messages and its
// folder for relative paths.
func Parse(name string, data []byte, opts LoadOptions) (*Config, error) {
	if opts.Lookup == nil {
		opts.Lookup = osLookup
	}
	abs, _ := filepath.Abs(name)
	sum := sha256.Sum256(data)
	cfg := &Config{File: abs, Dir: filepath.Dir(abs), Hash: hex.EncodeToString(sum[:])}
	d := &decoder{file: name, pos: map[string]*yaml.Node{}}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{File: name, Field: "(file)", Msg: err.Error()}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: name, Field: "(file)", Msg: "the file is empty"}}
	}
	d.expand(&root, "", opts.Lookup)
	d.decode(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
	// Validation runs even after decoding errors, so one run reports every
	// problem; what it says about a field that failed to decode (left at
	// its zero value) repeats that failure and is dropped.
	decoded := d.errs
	d.errs = nil
	opts.Probe.BaseDir = cfg.Dir
	d.validate(cfg, opts.Probe)
	d.errs = append(decoded, d.errs.without(decoded)...)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return cfg, nil
}
