package ingest_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
	"github.com/churnops/churnops/internal/synth"
)

// problemLines is the text of every problem, one per line, and the count
// of omitted ones: a ValidationErrors without its source.
func problemLines(verrs *snapshot.ValidationErrors) string {
	var b strings.Builder
	for _, p := range verrs.Problems {
		b.WriteString(p.Error())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "omitted %d", verrs.Omitted)
	return b.String()
}

// TestValidationSameAsLoad runs Load's invalid-input cases through the
// sharded ingest with 1, 3 and 7 shards, from the lab's single files and
// from gzipped ones: every problem must be reported exactly as Load
// reports it — same problems, same order, same text (file, line, column,
// value, message), same cap — and nothing may be stored.
func TestValidationSameAsLoad(t *testing.T) {
	for _, tt := range snapshottest.InvalidCases {
		t.Run(tt.Name, func(t *testing.T) {
			files := snapshottest.TinyMonth()
			tt.Mutate(t, files)
			dir := writeTree(t, files)
			_, lerr := snapshot.Load(dir, asOf0)
			want := validationErrors(t, lerr)

			for _, k := range []int{1, 3, 7} {
				store := newStore(t)
				_, err := run(t, ingest.Dir(dir), store, k)
				got := validationErrors(t, err)
				if got.Error() != want.Error() {
					t.Errorf("k=%d:\n%s\nLoad:\n%s", k, got, want)
				}
				snapshottest.CheckInvalid(t, tt, err, snapshottest.Translate{})
				assertNothingStored(t, store)
			}

			gzipped := map[string]string{}
			for name, text := range files {
				gzipped[name+".gz"] = text
			}
			store := newStore(t)
			_, err := run(t, ingest.Dir(writeTree(t, gzipped)), store, 3)
			// Every file is renamed, but a missing table is still named
			// by its plain file name.
			wantGz := strings.ReplaceAll(problemLines(want), ".csv", ".csv.gz")
			wantGz = strings.ReplaceAll(wantGz, ".csv.gz: missing file", ".csv: missing file")
			if got := problemLines(validationErrors(t, err)); got != wantGz {
				t.Errorf("gzip:\n%s\nLoad (renamed):\n%s", got, wantGz)
			}
			assertNothingStored(t, store)
		})
	}
}

// partsPerTable splits each table into a different number of part files,
// so that one user's rows sit in part files of different indices.
var partsPerTable = map[string]int{
	snapshot.UsersFile: 2, snapshot.SubscriptionsFile: 3, snapshot.UsageFile: 1,
	snapshot.PaymentsFile: 3, snapshot.SupportFile: 2, snapshot.LabelsFile: 3,
}

// multiPart writes files as part files (gzipped or not), returning the
// directory and where each original line went.
func multiPart(t *testing.T, files map[string]string, gzipped bool) (string, map[string]map[int]loc) {
	t.Helper()
	out := map[string]string{}
	where := map[string]map[int]loc{}
	for name, text := range files {
		n := partsPerTable[name]
		if n == 0 {
			n = 2
		}
		parts, w := splitParts(map[string]string{name: text}, n, gzipped)
		maps.Copy(out, parts)
		maps.Copy(where, w)
	}
	return writeTree(t, out), where
}

// TestValidationMultiPart runs Load's invalid-input cases from part files,
// plain and gzipped, a user's rows spread over parts of different indices:
// each problem is reported at its row's own part file and line.
func TestValidationMultiPart(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		for _, tt := range snapshottest.InvalidCases {
			t.Run(fmt.Sprintf("gzip=%v/%s", gzipped, tt.Name), func(t *testing.T) {
				files := snapshottest.TinyMonth()
				tt.Mutate(t, files)
				dir, where := multiPart(t, files, gzipped)
				store := newStore(t)
				_, err := run(t, ingest.Dir(dir), store, 3)
				snapshottest.CheckInvalid(t, tt, err, snapshottest.Translate{
					Loc: func(file string, line int) (string, int) {
						if l, ok := where[file][line]; ok && line > 0 {
							return l.file, l.line
						}
						return file, line
					},
					Msg: func(msg string) string {
						msg = strings.Replace(msg, "user missing from ", "user missing from ", 1)
						if rest, ok := strings.CutPrefix(msg, "user missing from "); ok {
							return "user missing from " + strings.TrimSuffix(rest, ".csv") + "/"
						}
						if msg == "user not in users.csv" {
							return "user not in users/"
						}
						if strings.HasPrefix(msg, "duplicate user_id, first on line") {
							return "duplicate user_id, first on line"
						}
						return msg
					},
				})
				assertNothingStored(t, store)
			})
		}
	}
}

// TestMultiPartLoadsTheSameMonth ingests the tiny month from part files,
// plain and gzipped, and from the lab's single files: the same customers.
func TestMultiPartLoadsTheSameMonth(t *testing.T) {
	want, err := snapshot.Load(writeTree(t, snapshottest.TinyMonth()), asOf0)
	if err != nil {
		t.Fatal(err)
	}
	for _, gzipped := range []bool{false, true} {
		dir, _ := multiPart(t, snapshottest.TinyMonth(), gzipped)
		for _, k := range []int{1, 2} {
			store := newStore(t)
			if _, err := run(t, ingest.Dir(dir), store, k); err != nil {
				t.Fatalf("gzip=%v k=%d: %v", gzipped, k, err)
			}
			_, shards := storedMonth(t, store, "2024-01-31")
			got := map[string]snapshot.Customer{}
			for _, s := range shards {
				for _, c := range s {
					got[c.UserID] = c
				}
			}
			if len(got) != len(want.Customers) {
				t.Fatalf("gzip=%v k=%d: %d customers, want %d", gzipped, k, len(got), len(want.Customers))
			}
			for _, c := range want.Customers {
				if !sameCustomer(c, got[c.UserID]) {
					t.Errorf("gzip=%v k=%d: %s differs:\n%+v\n%+v", gzipped, k, c.UserID, got[c.UserID], c)
				}
			}
		}
	}
}

// assertNothingStored checks that a failed ingest left no dataset key and
// no staging behind.
func assertNothingStored(t *testing.T, store interface {
	List(context.Context, string) ([]string, error)
}) {
	t.Helper()
	for _, prefix := range []string{"datasets/", ingest.StagingPrefix} {
		keys, err := store.List(context.Background(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			t.Errorf("left behind: %v", keys)
		}
	}
}

// TestProblemOrderAsLoad breaks a generated month in many places at once
// (bad values in every file, duplicate and unknown users, users missing
// from a file, short rows) and checks that the sharded ingest lists the
// same first problems as Load, in the same order, with the same count of
// omitted ones — whatever the shards each found and dropped.
func TestProblemOrderAsLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := synth.GenerateToDir(dir, synth.Config{Users: 300, Months: 1, Seed: 5}, synth.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	clean := readDir(t, filepath.Join(dir, synth.MonthDir(0)))
	for seed := range 12 {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			files := maps.Clone(clean)
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			breaks := 1 + rng.IntN(40)
			for range breaks {
				name := snapshot.Files()[rng.IntN(6)]
				lines := strings.Split(files[name], "\n")
				line := 2 + rng.IntN(len(lines)-3)
				fields := strings.Split(lines[line-1], ",")
				switch rng.IntN(6) {
				case 0: // a bad value
					fields[1+rng.IntN(len(fields)-1)] = "?"
				case 1: // another user's id: a duplicate
					fields[0] = strings.Split(lines[1+rng.IntN(len(lines)-2)], ",")[0]
				case 2: // an unknown user
					fields[0] = fmt.Sprintf("9%03d-ZZZZZ", rng.IntN(1000))
				case 3: // a short row
					fields = fields[:len(fields)-1]
				case 4: // a row removed: its user goes missing
					lines = append(lines[:line-1], lines[line:]...)
					files[name] = strings.Join(lines, "\n")
					continue
				case 5: // a negative count or a date after as_of
					if name == snapshot.UsersFile {
						fields[1] = "2024-02-01"
					} else {
						fields[len(fields)-1] = "-1"
					}
				}
				lines[line-1] = strings.Join(fields, ",")
				files[name] = strings.Join(lines, "\n")
			}
			src := writeTree(t, files)
			_, lerr := snapshot.Load(src, asOf0)
			want := validationErrors(t, lerr)
			for _, k := range []int{1, 3, 7} {
				_, err := run(t, ingest.Dir(src), newStore(t), k)
				if got := validationErrors(t, err); got.Error() != want.Error() {
					t.Errorf("%d breaks, k=%d:\n%s\nLoad:\n%s", breaks, k, got, want)
				}
			}
		})
	}
}

// readDir reads the files of a directory by name.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}
