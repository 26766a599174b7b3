package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// helpCases are every command and subcommand of the table, so that a
// command added without help fails here.
func helpCases() [][]command {
	var out [][]command
	for _, c := range commands() {
		out = append(out, []command{c})
		for _, s := range c.subs {
			out = append(out, []command{c, s})
		}
	}
	return out
}

// singleDash matches a flag spelled with one dash ("-state", "-h").
var singleDash = regexp.MustCompile(`(^|[\s(\[])-[a-z][a-z-]*`)

// TestHelp asks every command for its help both ways: each has a
// synopsis, a summary, an example of itself and its flags with two
// dashes; `help X` prints what `X --help` does; neither touches the disk.
func TestHelp(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, path := range helpCases() {
		name := pathName(path)
		leaf := path[len(path)-1]
		t.Run(name, func(t *testing.T) {
			if leaf.summary == "" || leaf.example == "" {
				t.Fatalf("%s has no summary or no example in the command table", name)
			}
			if len(path) == 1 && leaf.run == nil {
				t.Fatalf("%s has no run", name)
			}
			for line := range strings.SplitSeq(leaf.example, "\n") {
				if !strings.HasPrefix(line, "churnops "+name) {
					t.Errorf("example %q is not an example of churnops %s", line, name)
				}
			}
			args := append(strings.Fields(name), "--help")
			code, out, errs := churnops(t, args...)
			if code != 0 || errs != "" {
				t.Fatalf("%s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
			}
			code, viaHelp, errs := churnops(t, append([]string{"help"}, strings.Fields(name)...)...)
			if code != 0 || errs != "" || viaHelp != out {
				t.Errorf("help %s (exit %d, stderr %q) differs from %s --help:\n%s\n---\n%s", name, code, errs, name, viaHelp, out)
			}
			if !strings.HasPrefix(out, "Usage: churnops "+name+" ") || !strings.Contains(strings.SplitN(out, "\n", 2)[0], "[flags]") {
				t.Errorf("no synopsis:\n%s", out)
			}
			for _, want := range []string{upperFirst(leaf.summary), "\nExample:\n  churnops " + name, "--state string", "--json"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s --help lacks %q:\n%s", name, want, out)
				}
			}
			for _, s := range leaf.subs {
				if !strings.Contains(out, "\n  "+s.name) {
					t.Errorf("%s --help does not list its subcommand %s", name, s.name)
				}
			}
			if m := singleDash.FindString(out); m != "" {
				t.Errorf("%s --help spells a flag with one dash: %q", name, m)
			}
		})
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("asking for help wrote %d files or directories", len(entries))
	}
}

// TestHelpFlags checks that each help lists the flags that apply to that
// command, and only those.
func TestHelpFlags(t *testing.T) {
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"run", "--help"}, []string{"--reference-as-of string", "--require-approval ", "--threshold float", "(default 0.02)"}, []string{"--addr"}},
		{[]string{"serve", "--help"}, []string{"--addr string", `(default "127.0.0.1:8000")`, "--reload duration", "dashboard"}, []string{"--reference-as-of"}},
		{[]string{"registry", "reject", "--help"}, []string{"Usage: churnops registry reject TOKEN [flags]", "--reason string"}, nil},
		{[]string{"registry", "approve", "--help"}, []string{"Usage: churnops registry approve TOKEN [flags]"}, []string{"--reason"}},
		{[]string{"registry", "--help"}, []string{"approve TOKEN", "reject TOKEN", "Subcommands:", "churnops help registry SUBCOMMAND"}, []string{"--reason"}},
		{[]string{"model", "export", "--help"}, []string{"--version string", "--format string", "--force"}, []string{"--data"}},
		{[]string{"model", "--help"}, []string{"export", "explain"}, []string{"--version string"}},
		{[]string{"--help"}, []string{"churnops help COMMAND", "--version", "serve"}, nil},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, _ := churnops(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("lists %q, which does not apply:\n%s", n, out)
				}
			}
		})
	}
}

// TestUsageMistakes: a mistake prints the error, the synopsis and where
// the help is, on stderr, with exit 2.
func TestUsageMistakes(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--bogus"}, []string{"flag provided but not defined: --bogus", "Usage: churnops run --reference-as-of D1 --current-as-of D2 | --incoming DIR_OR_KEY [flags]", "churnops help run"}},
		{[]string{"run", "-threshold", "x"}, []string{`invalid value "x" for flag --threshold`}},
		{[]string{"registry"}, []string{"missing subcommand", "Usage: churnops registry SUBCOMMAND [ARG] [flags]"}},
		{[]string{"help", "frobnicate"}, []string{`unknown command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := churnops(t, tt.args...)
			if code != 2 || out != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing on stdout", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := churnops(t, "--version")
	// Test binaries carry no module version or commit: "(devel)", as go
	// run does; a go build in a checkout names both.
	if code != 0 || !regexp.MustCompile(`^churnops \S+ \(commit \S+(, [^;]+)?; go\d`).MatchString(out) {
		t.Errorf("--version: exit %d, %q", code, out)
	}
}
