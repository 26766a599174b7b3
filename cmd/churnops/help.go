package main

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"text/tabwriter"
)

// commonFlags are the flags every command takes (app.flags registers
// them); help lists them apart from the command's own.
var commonFlags = []string{"state", "backend", "model-name", "json", "quiet"}

// pathName is "registry approve" for a subcommand, "run" for a command.
func pathName(path []command) string {
	names := make([]string, len(path))
	for i, c := range path {
		names[i] = c.name
	}
	return strings.Join(names, " ")
}

// synopsis is the command's "Usage:" line.
func synopsis(path []command) string {
	leaf := path[len(path)-1]
	return strings.Join(strings.Fields("Usage: churnops "+pathName(path)+" "+leaf.args+" [flags]"), " ")
}

// printHelp writes a command's help, as go help does: synopsis, summary,
// details, its subcommands or its flags, the common flags, an example. fs
// is the command's FlagSet (nil for a command group, whose subcommands
// have their own).
func printHelp(w io.Writer, path []command, fs *flag.FlagSet) {
	leaf := path[len(path)-1]
	if fs == nil {
		fs = newApp(io.Discard, io.Discard).flags(leaf.name) // the common flags
	}
	fmt.Fprintf(w, "%s\n\n%s.\n", synopsis(path), upperFirst(leaf.summary))
	if leaf.details != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(leaf.details, 76))
	}
	if len(leaf.subs) > 0 {
		fmt.Fprintf(w, "\nSubcommands:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		for _, s := range leaf.subs {
			name := s.name
			if !strings.HasPrefix(s.args, "-") { // positional arguments (V, TOKEN); flags are in its help
				name = strings.TrimSpace(name + " " + s.args)
			}
			fmt.Fprintf(tw, "  %s\t%s\n", name, s.summary)
		}
		tw.Flush()
	}
	var own, common []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		switch {
		case slices.Contains(commonFlags, f.Name):
			common = append(common, f)
		case leaf.flags == nil || slices.Contains(leaf.flags, f.Name):
			own = append(own, f)
		}
	})
	if len(own) > 0 {
		fmt.Fprintf(w, "\nFlags:\n")
		printFlags(w, own)
	}
	fmt.Fprintf(w, "\nFlags every command takes:\n")
	printFlags(w, common)
	fmt.Fprintf(w, "\nExample:\n")
	for line := range strings.SplitSeq(leaf.example, "\n") {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if len(leaf.subs) > 0 {
		fmt.Fprintf(w, "\nRun 'churnops help %s SUBCOMMAND' for a subcommand's flags and an example.\n", pathName(path))
	}
}

// printFlags lists flags with two dashes, their value's kind and default.
func printFlags(w io.Writer, flags []*flag.Flag) {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	for _, f := range flags {
		kind, text := flag.UnquoteUsage(f)
		if isBool(f) {
			kind = ""
		}
		switch {
		case f.DefValue == "" || isBool(f) && f.DefValue == "false":
		case kind == "string":
			text += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			text += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace("--"+f.Name+" "+kind), text)
	}
	tw.Flush()
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// wrap breaks text into lines of at most width runes, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		if i > 0 && n+1+len([]rune(word)) > width {
			b.WriteByte('\n')
			n = 0
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len([]rune(word))
	}
	return b.String()
}

// versionText is what --version prints: the module version and the VCS
// commit the binary was built from, as the Go toolchain recorded them.
// `go build` and `go install` inside a git checkout record both (a
// pseudo-version such as v0.0.0-20240501060000-9d5d48f1a2b3, +dirty with
// uncommitted changes); `go run` records neither: "(devel)", commit
// unknown.
func versionText() string {
	version, commit, when, modified := "(devel)", "unknown", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := "churnops " + version + " (commit " + commit
	if when != "" {
		out += ", " + when
	}
	if modified {
		out += ", with uncommitted changes"
	}
	return out + "; " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}

// flagDashes spells the flags the flag package names in its errors
// ("flag provided but not defined: -bogus") with two dashes, as the help
// and the docs do.
var flagDashes = regexp.MustCompile(`(^|[\s:])-([A-Za-z][\w-]*)`)

func doubleDash(msg string) string { return flagDashes.ReplaceAllString(msg, "$1--$2") }
