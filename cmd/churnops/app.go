package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/snapshot"
)

// app is what every command shares: output streams, common flags and the
// stores, opened lazily once.
type app struct {
	stdout, stderr io.Writer
	state          string // state directory of the embedded default
	backend        string // local or aws
	model          string // model name in the registry
	json           bool   // machine-readable output on stdout
	quiet          bool
	createsState   bool  // the command may start a new state (ingest, demo); others refuse a missing one
	maxFileBytes   int64 // the largest CSV file a month directory may hold
	closers        []func() error
	// lastRun is the record of the last local execution run (or resumed)
	// by this process, nil if none was recorded.
	lastRun *execlog.Record
	// pages are served by `serve` beside the API (the dashboard).
	pages *http.ServeMux
	// fs is the command's FlagSet, for its --help.
	fs *flag.FlagSet
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{stdout: stdout, stderr: stderr}
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			fmt.Fprintf(a.stderr, "churnops: closing: %v\n", err)
		}
	}
	a.closers = nil
}

// flags returns a FlagSet with the common flags registered (commonFlags).
// It prints nothing itself: Main prints the command's help for --help and
// the error and synopsis for a mistake.
func (a *app) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	a.fs = fs
	def := os.Getenv("CHURNOPS_STATE")
	if def == "" {
		def = ".churnops"
	}
	fs.StringVar(&a.state, "state", def, "state directory (datasets, models, reports, registry)")
	backend := os.Getenv("CHURNOPS_BACKEND")
	if backend == "" {
		backend = backendLocal
	}
	fs.StringVar(&a.backend, "backend", backend, "where the stores live: local (--state) or aws (CHURNOPS_BUCKET, CHURNOPS_*_TABLE; $CHURNOPS_BACKEND)")
	fs.StringVar(&a.model, "model-name", "churn", "model name in the registry")
	fs.BoolVar(&a.json, "json", false, "machine-readable JSON output on stdout")
	fs.BoolVar(&a.quiet, "quiet", false, "no progress output")
	a.maxFileBytes = snapshot.DefaultMaxFileBytes
	if v, err := strconv.ParseInt(os.Getenv(envMaxFileBytes), 10, 64); err == nil && v > 0 {
		a.maxFileBytes = v
	}
	return fs
}

// envMaxFileBytes overrides snapshot.DefaultMaxFileBytes for every command.
const envMaxFileBytes = "CHURNOPS_MAX_FILE_BYTES"

// monthFlags registers the flags of commands that read month directories.
func (a *app) monthFlags(fs *flag.FlagSet) {
	fs.Int64Var(&a.maxFileBytes, "max-file-bytes", a.maxFileBytes, "the largest CSV file of a month directory that is read; only regular files are ($"+envMaxFileBytes+")")
}

// loadMonth reads a month directory: regular files only, each within
// --max-file-bytes, stopping on Ctrl-C.
func (a *app) loadMonth(ctx context.Context, dir string, asOf time.Time) (*snapshot.Month, error) {
	return snapshot.LoadContext(ctx, dir, asOf, a.maxFileBytes)
}

// parse parses args, allowing flags before and after positional arguments
// (`registry approvals --json` as well as `registry --json approvals`), and
// rejects positional leftovers beyond max. The positionals are returned. A
// negative number where a positional can stand (`registry show -1`) is a
// positional, for its command to refuse, not an unknown flag. The common
// --model-name is checked here: it is part of every key of the model.
func parse(fs *flag.FlagSet, args []string, maxPositional int) error {
	if err := parseArgs(fs, negativesLast(fs, args), maxPositional); err != nil {
		return err
	}
	if f := fs.Lookup("model-name"); f != nil {
		if err := registry.CheckModelName(f.Value.String()); err != nil {
			return usagef("--model-name: %v", err)
		}
	}
	return nil
}

// negativesLast moves the arguments that are negative numbers, and not the
// value of the flag before them, after a "--", where parseArgs takes them as
// positionals (after the others: in practice they are the last one).
func negativesLast(fs *flag.FlagSet, args []string) []string {
	var rest, negatives []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		_, numErr := strconv.ParseFloat(a, 64)
		switch {
		case a == "--":
			rest, i = append(rest, args[i:]...), len(args)
		case numErr == nil && strings.HasPrefix(a, "-"):
			negatives = append(negatives, a)
		default:
			rest = append(rest, a)
			if takesValue(fs, a) && i+1 < len(args) {
				i++
				rest = append(rest, args[i]) // whatever it looks like
			}
		}
	}
	if len(negatives) == 0 {
		return rest
	}
	if !slices.Contains(rest, "--") {
		rest = append(rest, "--")
	}
	return append(rest, negatives...)
}

// takesValue reports whether arg is a flag of fs that takes the next
// argument as its value (a non-boolean flag without "=").
func takesValue(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

func parseArgs(fs *flag.FlagSet, args []string, maxPositional int) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return usagef("%s", doubleDash(err.Error()))
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) > maxPositional {
		return usagef("unexpected argument %q", positional[maxPositional])
	}
	// Leave the positionals where fs.Arg finds them.
	return fs.Parse(append([]string{"--"}, positional...))
}

// required reports the first empty flag among names.
func required(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Value.String() == "" {
			return usagef("--%s is required", n)
		}
	}
	return nil
}

// isTerminal reports whether w is an interactive terminal (progress output
// is shown only there, unless --quiet).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress prints a progress note to stderr on a terminal.
func (a *app) progress(step, msg string) {
	if a.quiet || !isTerminal(a.stderr) {
		return
	}
	fmt.Fprintf(a.stderr, "  … %-8s %s\n", step, msg)
}

// printf writes human output (suppressed in --json mode).
func (a *app) printf(format string, args ...any) {
	if a.json {
		return
	}
	fmt.Fprintf(a.stdout, format, args...)
}

// emit writes v as JSON in --json mode.
func (a *app) emit(v any) error {
	if !a.json {
		return nil
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// logger is the structured logger for library code: warnings and errors to
// stderr.
func (a *app) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

func writeJSONFile(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

// writeFileAtomic writes via a temporary file and rename so that a reader
// never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp-" + fmt.Sprint(os.Getpid())
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
