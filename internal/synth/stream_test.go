package synth_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// TestStreamLayouts writes the same months as part files, gzipped, and in
// the incoming/ layout: put back together, every table is the lab-layout
// file byte for byte.
func TestStreamLayouts(t *testing.T) {
	for _, users := range []int{1000, 2} {
		cfg := synth.Config{Users: users, Months: 2, Seed: 4, Drift: map[int]synth.Drift{1: synth.LabelShift}}
		ref := t.TempDir()
		if _, err := synth.Stream(ref, cfg, synth.StreamOptions{}); err != nil {
			t.Fatal(err)
		}
		want := readTree(t, ref)
		for _, opt := range []synth.StreamOptions{
			{Parts: 3},
			{Gzip: true},
			{Parts: 5, Gzip: true, Incoming: true},
		} {
			t.Run(fmt.Sprintf("users=%d/%+v", users, opt), func(t *testing.T) {
				dir := t.TempDir()
				sums, err := synth.Stream(dir, cfg, opt)
				if err != nil {
					t.Fatal(err)
				}
				files := readTree(t, dir)
				for i, s := range sums {
					month := synth.MonthDir(i)
					rel := filepath.ToSlash(month)
					if opt.Incoming {
						rel = filepath.ToSlash(synth.IncomingDir(synth.AsOf(i)))
						if _, ok := files[rel+"/_SUCCESS"]; !ok {
							t.Errorf("%s: no _SUCCESS marker", rel)
						}
					}
					if s.Dir != filepath.Join(dir, filepath.FromSlash(rel)) {
						t.Errorf("summary dir %s, want %s", s.Dir, rel)
					}
					for _, name := range snapshot.Files() {
						got := joinParts(t, files, rel, name, opt)
						if !bytes.Equal(got, want[month+"/"+name]) {
							t.Errorf("%s/%s: the parts put together differ from the single file", rel, name)
						}
					}
				}
				extra := len(files) - 2*6*max(opt.Parts, 1)
				if opt.Incoming {
					extra -= 2
				}
				if extra != 0 {
					t.Errorf("%d files written, want %d", len(files), 2*6*max(opt.Parts, 1))
				}
			})
		}
	}
}

// joinParts reads a table of a month written with opt and returns it as
// one plain CSV: parts concatenated, their repeated headers dropped.
func joinParts(t *testing.T, files map[string][]byte, month, name string, opt synth.StreamOptions) []byte {
	t.Helper()
	ext := ""
	if opt.Gzip {
		ext = ".gz"
	}
	var names []string
	if opt.Parts > 1 {
		for j := range opt.Parts {
			names = append(names, fmt.Sprintf("%s/%s/part-%05d.csv%s", month, strings.TrimSuffix(name, ".csv"), j, ext))
		}
	} else {
		names = []string{month + "/" + name + ext}
	}
	var out []byte
	for j, n := range names {
		data, ok := files[n]
		if !ok {
			t.Fatalf("no %s", n)
		}
		if opt.Gzip {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
		if j > 0 {
			header, rest, _ := bytes.Cut(data, []byte("\n"))
			if !bytes.HasPrefix(out, append(header, '\n')) {
				t.Fatalf("%s: header %q differs", n, header)
			}
			data = rest
		}
		out = append(out, data...)
	}
	return out
}
