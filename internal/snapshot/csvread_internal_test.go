package snapshot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAllCSV reads every record with next and line, as "line: fields" and
// the final error.
func readAllCSV(next func() ([]string, error), line func() int) []string {
	var out []string
	for {
		rec, err := next()
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				out = append(out, fmt.Sprintf("error %d %d %d %v", pe.StartLine, pe.Line, pe.Column, pe.Err))
			} else if err != io.EOF {
				out = append(out, "error "+err.Error())
			}
			return out
		}
		out = append(out, fmt.Sprintf("%d: %q", line(), rec))
	}
}

// checkSameAsEncodingCSV reads input with csvReader (through a small
// buffer, and fed one byte at a time) and with encoding/csv configured as
// ReadCSV used it, and fails on any difference in records, lines or errors.
func checkSameAsEncodingCSV(t *testing.T, input string) {
	t.Helper()
	ref := csv.NewReader(strings.NewReader(input))
	ref.ReuseRecord = true
	ref.FieldsPerRecord = -1
	want := readAllCSV(ref.Read, func() int { l, _ := ref.FieldPos(0); return l })
	for _, r := range []io.Reader{strings.NewReader(input), iotest.OneByteReader(strings.NewReader(input))} {
		got := newCSVReaderSize(r, 4096)
		if g := readAllCSV(got.Read, got.Line); strings.Join(g, "\n") != strings.Join(want, "\n") {
			t.Fatalf("input %q:\ngot  %q\nwant %q", input, g, want)
		}
	}
}

func TestCSVReaderSameAsEncodingCSV(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, in := range []string{
		"", "\n", "\r\n", "a", "a\n", "a,b\nc,d\n", "a,b\r\nc,d\r\n", "a,b\rc\n", "a,b\r\r\n",
		"\n\na,b\n\n\nc\n", "a,,b,\n,\n", ",\n", "a\r", "a,b\r", "a\n\r",
		`"a",b` + "\n", `a,"b` + "\n" + `c",d` + "\n" + "e,f\n", `a,b"c` + "\n", `"a"b,c` + "\n",
		"x,y\n" + `"un` + "\n" + "closed\n", `"a""b",c` + "\n", "\ufeffuser_id,x\n1,2\n",
		"a,b\n" + long + ",c\n" + "d,e\n", "a\n" + `"` + long + "\n" + long + `"` + "\nz\n",
		"h\n1\n2\n\"3\n4\"\n5\n6\r\n\r\n7\n", "h\n" + strings.Repeat("1,2\n", 3000) + "\"x\ny\",3\n4\n",
	} {
		checkSameAsEncodingCSV(t, in)
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{"a,b\nc\n", "\"a\nb\",c\r\nd", "\n\r\n,\"\"\"", "a,b\"c\n", "x\ry\n\"z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) { checkSameAsEncodingCSV(t, in) })
}

// TestCSVReaderKeepsReadErrors: an error from the input after complete
// lines is still reported (bufio reports it only once).
func TestCSVReaderKeepsReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r := newCSVReaderSize(io.MultiReader(strings.NewReader("a,b\nc,d\ne"), iotest.ErrReader(boom)), 4096)
	var got []string
	for {
		rec, err := r.Read()
		if err != nil {
			if !errors.Is(err, boom) {
				t.Fatalf("err %v, want boom", err)
			}
			break
		}
		got = append(got, strings.Join(rec, "|"))
	}
	if strings.Join(got, " ") != "a|b c|d" {
		t.Errorf("records %q", got)
	}
}
