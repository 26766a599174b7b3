package crashpoint_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/crashpoint"
)

// TestMain doubles as the child process: with CRASHPOINT_CHILD set it hits
// three steps, printing each, and exits 0 if it survives them all.
func TestMain(m *testing.M) {
	if os.Getenv("CRASHPOINT_CHILD") == "1" {
		for _, step := range []string{"one", "two", "three"} {
			crashpoint.Hit(step)
			fmt.Println("after", step)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestHit(t *testing.T) {
	cases := []struct {
		name       string
		at         string
		wantKilled bool
		wantOut    string
		wantTrace  string
	}{
		{"trace only", "", false, "after one\nafter two\nafter three\n", "1 one\n2 two\n3 three\n"},
		{"killed after the first step", "1", true, "", "1 one\n"},
		{"killed after the second step", "2", true, "after one\n", "1 one\n2 two\n"},
		{"a step beyond the last", "4", false, "after one\nafter two\nafter three\n", "1 one\n2 two\n3 three\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "CRASHPOINT_CHILD=1", crashpoint.EnvTrace+"="+trace, crashpoint.EnvAt+"="+tc.at)
			out, err := cmd.Output()
			var exit *exec.ExitError
			killed := errors.As(err, &exit) && strings.Contains(exit.Error(), "killed")
			if err != nil && !killed {
				t.Fatalf("child: %v", err)
			}
			if killed != tc.wantKilled {
				t.Errorf("killed = %v, want %v (err %v)", killed, tc.wantKilled, err)
			}
			if string(out) != tc.wantOut {
				t.Errorf("stdout %q, want %q", out, tc.wantOut)
			}
			got, err := os.ReadFile(trace)
			if err != nil {
				t.Fatalf("trace: %v", err)
			}
			if string(got) != tc.wantTrace {
				t.Errorf("trace %q, want %q", got, tc.wantTrace)
			}
		})
	}
}

func TestHitWithoutHarnessDoesNothing(t *testing.T) {
	t.Setenv(crashpoint.EnvAt, "") // read once per process; the parent never set it
	for range 3 {
		crashpoint.Hit("step") // must return
	}
}
