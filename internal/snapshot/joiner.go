package snapshot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TableStatus is what reading every file of a table found, over the whole
// month: a Joiner needs it at the end of the table to apply Load's rules,
// even when it saw only one shard's rows.
type TableStatus struct {
	// Readable means every file of the table had a good header.
	Readable bool
	// Complete means every file was read to its end.
	Complete bool
	// Rows counts the table's data rows in all its files.
	Rows int
}

// Checked reports whether the table's rows can be trusted to be all of
// them: only then is a user absent from it a problem (and, for users.csv,
// can the other tables be joined against it).
func (st TableStatus) Checked() bool { return st.Readable && st.Complete && st.Rows > 0 }

// Joiner validates and joins a month's rows table by table with Load's
// rules, for callers that read the files themselves: Load, and the build
// of one shard of a sharded ingest (which sees every row of its users,
// since a user's rows all hash to one shard, and so finds the same
// problems per user: duplicates, a user absent from a table, a row for a
// user not in users.csv).
//
// Tables come in Files() order, users.csv first: Table, then for each of
// the table's files Part and its rows (Row, FieldCount) and problems
// (Problem), then EndTable. A table whose files could not be read is
// started and ended with no rows.
type Joiner struct {
	asOf     time.Time
	problems problemList

	customers []Customer
	index     map[string]int // user_id -> position in customers
	lines     []int          // users file line of each customer
	parts     []int32        // users part of each customer
	joinable  bool           // users.csv was read whole: other tables can be joined
	usersName string         // how problems name the users table

	// The current table and file.
	table    int
	spec     *fileSpec
	name     string
	first    bool
	join     bool
	rows     int
	part     int
	file     string
	files    map[int]string // part -> file name, for the current table
	users    map[int]string // part -> file name, for the users table
	seen     []int          // per customer: line where the current table had it, 0 = not yet
	seenPart []int32
	scratch  Customer // receives values of rows that cannot be joined
}

// NewJoiner returns a Joiner for a month of as_of asOf; sizeHint is the
// expected number of customers (0 if unknown).
func NewJoiner(asOf time.Time, sizeHint int) (*Joiner, error) {
	asOf, err := normalizeAsOf(asOf)
	if err != nil {
		return nil, fmt.Errorf("snapshot: join: %w", err)
	}
	return &Joiner{
		asOf:      asOf,
		index:     make(map[string]int, max(sizeHint, 8192)),
		customers: make([]Customer, 0, sizeHint),
		table:     -1,
		usersName: UsersFile,
	}, nil
}

// Table starts table t (an index in Files()); name is how problems about
// the table as a whole name it ("usage_agg_30d.csv", or the directory of
// its part files).
func (j *Joiner) Table(t int, name string) {
	j.table, j.spec, j.name = t, &layout[t], name
	j.first = t == 0
	j.join = j.joinable && !j.first
	j.rows, j.part, j.file = 0, 0, layout[t].name
	j.files = map[int]string{}
	if j.first {
		j.usersName = name
		j.users = j.files
	}
	if j.join {
		if j.seen == nil {
			j.seen = make([]int, len(j.customers))
			j.seenPart = make([]int32, len(j.customers))
		}
		clear(j.seen)
	}
}

// Part says that the rows and problems that follow come from the table's
// part-th file, named file in problems.
func (j *Joiner) Part(part int, file string) {
	j.part, j.file = part, file
	j.files[part] = file
}

func (j *Joiner) problem(stage, part int, p *ValidationError) {
	if len(j.problems.kept) < MaxProblems {
		p.Value = strings.Clone(p.Value) // it may point into a reused buffer
	}
	j.problems.add(Problem{Table: j.table, Stage: stage, Part: part, Err: p})
}

// Problem records a problem with the current file (see RowSink).
func (j *Joiner) Problem(p *ValidationError) { j.problem(StageRead, j.part, p) }

// FieldCount records a row whose field count differs from the header's
// (see RowSink). The user is still marked present, so that one bad line
// does not also report the user as missing from the table.
func (j *Joiner) FieldCount(line, got, want int, id string, hasID bool) {
	j.rows++
	// The problem quotes no value, and id is only looked up.
	j.Problem(&ValidationError{File: j.file, Line: line, Msg: fmt.Sprintf("has %d fields, header has %d", got, want)})
	if j.join && hasID {
		if i, ok := j.index[id]; ok && j.seen[i] == 0 {
			j.seen[i], j.seenPart[i] = line, int32(j.part)
		}
	}
}

// Row validates one data row of the current file, in the table's
// canonical column order (see RowSink), and joins it to its customer. The
// month and the problems keep copies of the strings they keep, never
// rec's own, so rec may point into a buffer that is reused or large (a
// staged chunk) without being pinned.
func (j *Joiner) Row(line int, rec []string) {
	j.rows++
	id := rec[0]
	if id == "" {
		j.Problem(&ValidationError{File: j.file, Line: line, Column: UserIDColumn, Msg: "empty user_id", Err: errEmpty})
		return
	}
	c := &j.scratch
	switch {
	case j.first:
		if prev, dup := j.index[id]; dup {
			j.Problem(&ValidationError{File: j.file, Line: line, Column: UserIDColumn, Value: id,
				Msg: "duplicate user_id, first on " + j.where(j.lines[prev], int(j.parts[prev]), j.users)})
			return
		}
		// A copy: rec may point into a buffer of many rows.
		id = strings.Clone(id)
		j.index[id] = len(j.customers)
		j.customers = append(j.customers, Customer{UserID: id})
		j.lines = append(j.lines, line)
		j.parts = append(j.parts, int32(j.part))
		c = &j.customers[len(j.customers)-1]
	case j.join:
		// The lab's files share users.csv's row order: try that first.
		i, ok := j.rows-1, j.rows <= len(j.customers) && j.customers[j.rows-1].UserID == id
		if !ok {
			i, ok = j.index[id]
		}
		if !ok {
			j.Problem(&ValidationError{File: j.file, Line: line, Column: UserIDColumn, Value: id,
				Msg: "user not in " + j.usersName})
			return
		}
		if j.seen[i] != 0 {
			j.Problem(&ValidationError{File: j.file, Line: line, Column: UserIDColumn, Value: id,
				Msg: "duplicate user_id, first on " + j.where(j.seen[i], int(j.seenPart[i]), j.files)})
			return
		}
		j.seen[i], j.seenPart[i] = line, int32(j.part)
		c = &j.customers[i]
	}

	for k := range j.spec.cols {
		cs := &j.spec.cols[k]
		s := rec[k+1]
		if msg, cause := cs.parse(c, s); msg != "" {
			j.Problem(&ValidationError{File: j.file, Line: line, Column: cs.name, Value: s, Msg: msg, Err: cause})
			continue
		}
		if cs.kind == kindDate && cs.date(c).After(j.asOf) {
			j.Problem(&ValidationError{File: j.file, Line: line, Column: cs.name, Value: s,
				Msg: "after as_of " + j.asOf.Format(DateLayout)})
		}
	}
}

// where names an earlier line of the table: "line 3" in the file being
// read, "line 3 of users/part-00001.csv" in another of its files.
func (j *Joiner) where(line, part int, files map[int]string) string {
	if part == j.part {
		return "line " + strconv.Itoa(line)
	}
	return "line " + strconv.Itoa(line) + " of " + files[part]
}

// EndTable ends the current table, whose files over the whole month had
// status st. When the table was read whole and has rows, every user seen
// in users.csv but not in it is a problem (named at the user's line in
// users.csv); after users.csv, it decides whether the other tables can be
// joined.
func (j *Joiner) EndTable(st TableStatus) {
	if !st.Checked() {
		return
	}
	if j.first {
		j.joinable = true
		return
	}
	if !j.join {
		return
	}
	for i, at := range j.seen {
		if at == 0 {
			p := int(j.parts[i])
			j.problems.add(Problem{Table: j.table, Stage: StageMissing, Part: p, Err: &ValidationError{
				File: j.users[p], Line: j.lines[i], Column: UserIDColumn,
				Value: j.customers[i].UserID, Msg: "user missing from " + j.name}})
		}
	}
}

// Result returns the joined month and the problems found, in Load's order:
// the first MaxProblems, and how many more were dropped. The month is nil
// when there is any problem.
func (j *Joiner) Result() (m *Month, problems []Problem, omitted int) {
	if len(j.problems.kept) > 0 || j.problems.omitted > 0 {
		return nil, j.problems.kept, j.problems.omitted
	}
	return &Month{AsOf: j.asOf, Customers: j.customers}, nil, 0
}
