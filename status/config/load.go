package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/outpost-status/outpost/probes"
)

// LoadOptions are the inputs Load needs besides the file.
type LoadOptions struct {
	// Lookup reads environment variables; nil means the process environment.
	Lookup func(string) (string, bool)
	// Probe options (version for User-Agent, resolver).
	Probe probes.Options
	// Tolerate names the fields whose unset ${VAR} is not an error: the
	// reference stays as written and nothing is validated about the field.
	// Commands that do not use a secret (backup, export, probe for
	// channels' tokens) go on without it; serve and check tolerate nothing.
	Tolerate func(field string) bool
}

// Load reads, expands, decodes and validates the config file at path. On
// failure the error is Errors (every problem found) or a read error.
func Load(path string, opts LoadOptions) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	data, fi, err := ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	cfg.Size, cfg.ModTime = fi.Size(), fi.ModTime()
	return cfg, nil
}

// MaxFileSize bounds a config file: no real config comes near it, and a
// file of hundreds of megabytes must not be read into memory.
const MaxFileSize = 4 << 20

// ReadFile reads a config file only if it is a regular file of at most
// MaxFileSize bytes: a FIFO (which would block a reader forever), a device
// or a huge file is an error that says so.
func ReadFile(path string) ([]byte, os.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; the check
	// below then refuses it. It does not affect reading a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat() // of what was opened, not of what the name points at now
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxFileSize {
		return nil, nil, fmt.Errorf("%s is %d bytes, more than a config file may be (%d)", path, fi.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("%s grew past %d bytes while read", path, MaxFileSize)
	}
	return data, fi, nil
}

// Hash is the hash a Config records of its file's bytes.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Parse is Load on bytes already read; name is used in messages and its
// folder for relative paths.
func Parse(name string, data []byte, opts LoadOptions) (*Config, error) {
	if opts.Lookup == nil {
		opts.Lookup = osLookup
	}
	abs, _ := filepath.Abs(name)
	cfg := &Config{File: abs, Dir: filepath.Dir(abs), Hash: Hash(data)}
	// No record of places (pos nil): the tree's lists are let go of item
	// by item as they are decoded, and the rare file with a problem is
	// read again to place it (place).
	d := &decoder{file: name, tolerate: opts.Tolerate}
	root, err := parseTree(name, data)
	if err != nil {
		return nil, err
	}
	d.expand(root, "", opts.Lookup)
	d.decode(root.Content[0], reflect.ValueOf(cfg).Elem(), "")
	// Validation runs even after decoding errors, so one run reports every
	// problem; what it says about a field that failed to decode (left at
	// its zero value) repeats that failure and is dropped.
	if cfg.Cluster != nil {
		cfg.Cluster.Node, _ = opts.Lookup(NodeEnv)
		if self := cfg.Cluster.Self(); self.ID != "" {
			cfg.Site.Member = self.ID + " (" + self.Location + ")"
		}
	}
	decoded := d.errs
	d.errs = nil
	opts.Probe.BaseDir = cfg.Dir
	d.validate(cfg, opts.Probe)
	if len(d.errs) > 0 {
		d.place(data, opts.Lookup)
	}
	d.errs = append(decoded, d.errs.without(append(decoded, d.unresolved...))...)
	if len(d.errs) > 0 {
		return nil, d.errs.sorted()
	}
	return cfg, nil
}

// parseTree is the file's YAML tree, which holds at least one document.
func parseTree(name string, data []byte) (*yaml.Node, error) {
	root := &yaml.Node{}
	if err := yaml.Unmarshal(data, root); err != nil {
		return nil, Errors{{File: name, Field: "(file)", Msg: err.Error()}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{File: name, Field: "(file)", Msg: "the file is empty"}}
	}
	return root, nil
}

// place gives the problems validation found (which name their field only)
// the line and column where the file writes the field, from a second
// reading of the file that records where each list and mapping is. Held
// through the first reading's validation, that record and the tree behind
// it were the start's peak: 10.5 MB of tree at 5,000 checks beside the
// checks decoded from it and their probes.
func (d *decoder) place(data []byte, lookup func(string) (string, bool)) {
	root, err := parseTree(d.file, data)
	if err != nil {
		return // read once already: it parses
	}
	again := &decoder{file: d.file, pos: map[string]*yaml.Node{}, tolerate: d.tolerate}
	again.expand(root, "", lookup)
	again.decode(root.Content[0], reflect.New(reflect.TypeFor[Config]()).Elem(), "")
	for i, e := range d.errs {
		if e.Line != 0 {
			continue
		}
		if n := again.at(e.Field); n != nil {
			d.errs[i].Line, d.errs[i].Column = n.Line, n.Column
		}
	}
}
