package ingest

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/churnops/churnops/internal/snapshot"
)

// Markers: a month under incoming/ is complete once one of these files
// exists. The producer writes it last (Spark's _SUCCESS, or a manifest).
var Markers = []string{"_SUCCESS", "_manifest.json"}

// Table is one of the six tables of a month as it arrived: a single file
// (users.csv, or users.csv.gz) or part files (users/part-*.csv[.gz]).
type Table struct {
	// Table is the index in snapshot.Files().
	Table int `json:"table"`
	// Name is how problems about the table as a whole name it: its single
	// file ("users.csv", as Load says), or its directory ("users/").
	Name string `json:"name"`
	// Parts are indices into Plan.Parts, in file name order: the order of
	// the table's rows.
	Parts []int `json:"parts"`
}

// Part is one input file, read by one partition task.
type Part struct {
	// Index is the part's index in Plan.Parts.
	Index int `json:"index"`
	// Table is the index in snapshot.Files() of the part's table.
	Table int `json:"table"`
	// Part is the index of the file among its table's files.
	Part int `json:"part"`
	// File is the name relative to the source root, as problems name it.
	File string `json:"file"`
	// Size in bytes, -1 when the source cannot tell without reading.
	Size int64 `json:"size"`
}

// month is a classified listing.
type month struct {
	tables   []Table
	parts    []Part
	marker   string
	problems []snapshot.Problem
}

// tableBase is a table's name without ".csv": "users".
func tableBase(t int) string { return strings.TrimSuffix(snapshot.Files()[t], ".csv") }

// classify sorts a source's files into the six tables. Every problem with
// the layout is reported, like Load's problems: a missing table (as Load
// names it: "labels.csv: missing file"), a table in both layouts, a file
// that belongs to no table.
func classify(files []File) month {
	type found struct {
		single []File
		parts  []File
	}
	byTable := make([]found, len(snapshot.Files()))
	var m month
	layoutProblem := func(file, msg string) {
		m.problems = append(m.problems, snapshot.Problem{Table: -1, Err: &snapshot.ValidationError{File: file, Msg: msg}})
	}
	for _, f := range files {
		if isMarker(f.Name) {
			m.marker = f.Name
			continue
		}
		if sideFile(f.Name) {
			continue
		}
		dir, base, nested := strings.Cut(f.Name, "/")
		if !nested {
			base, dir = dir, ""
		}
		t := -1
		switch {
		case dir == "":
			for i := range byTable {
				if base == tableBase(i)+".csv" || base == tableBase(i)+".csv.gz" {
					t = i
					byTable[i].single = append(byTable[i].single, f)
				}
			}
		case strings.HasPrefix(base, "part-") && (strings.HasSuffix(base, ".csv") || strings.HasSuffix(base, ".csv.gz")):
			for i := range byTable {
				if dir == tableBase(i) {
					t = i
					byTable[i].parts = append(byTable[i].parts, f)
				}
			}
		}
		if t < 0 {
			layoutProblem(f.Name, "unknown file, want TABLE.csv[.gz] or TABLE/part-*.csv[.gz] for the tables "+strings.Join(tableNames(), ", "))
		}
	}
	for t, fd := range byTable {
		file := snapshot.Files()[t]
		var use []File
		name := file
		switch {
		case len(fd.single)+len(fd.parts) == 0:
			m.problems = append(m.problems, snapshot.MissingFileProblem(t, file, fs.ErrNotExist))
		case len(fd.single) > 0 && len(fd.parts) > 0, len(fd.single) > 1:
			layoutProblem(tableBase(t), fmt.Sprintf("table in more than one layout (%s): keep one of %s, %s.gz or %s/part-*.csv[.gz]",
				strings.Join(fileNames(append(fd.single, fd.parts...)), ", "), file, file, tableBase(t)))
			// Not read: the table counts as unreadable, like a bad header.
		case len(fd.single) == 1:
			use, name = fd.single, fd.single[0].Name
		default:
			use, name = fd.parts, tableBase(t)+"/"
		}
		tbl := Table{Table: t, Name: name, Parts: []int{}}
		for i, f := range use {
			tbl.Parts = append(tbl.Parts, len(m.parts))
			m.parts = append(m.parts, Part{Index: len(m.parts), Table: t, Part: i, File: f.Name, Size: f.Size})
		}
		m.tables = append(m.tables, tbl)
	}
	return m
}

// sideFile reports whether any segment of a file's name is a side file's
// (see ignored).
func sideFile(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if ignored(seg) {
			return true
		}
	}
	return false
}

func isMarker(name string) bool {
	for _, mk := range Markers {
		if name == mk {
			return true
		}
	}
	return false
}

func tableNames() []string {
	names := make([]string, len(snapshot.Files()))
	for t := range names {
		names[t] = tableBase(t)
	}
	return names
}

func fileNames(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Name
	}
	return out
}
